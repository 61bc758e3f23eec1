"""Do the names say what is inside? The real `dbt build` of integration_tests (defaults) on
labelled sets written as a user's tables, then, per level scored, the share of conversations
whose cluster's name has its majority label's name nearest among all the label names (top-1)
or among the three nearest (top-3), the names and the label names embedded with the model the
project ships (all-MiniLM-L6-v2, :class:`kura_dbt.embeddings.local.LocalEmbedder`). Beside
them, per conversation ("own"): the share whose own label's name is nearest their cluster's
name (or among the three nearest), which credits a cluster that holds two labels (fewer
clusters than labels) when its name fits either of them.

Next to the build's names, on the same clusters: c-TF-IDF's top three words of each cluster
(BERTopic's topic representation: the cluster's word counts, L1-normalised, times
log(1 + A / f), A the average word count per cluster and f the word's count over all clusters;
documented at maartengr.github.io/BERTopic/getting_started/ctfidf/ctfidf.html), over the
user's own words, with BERTopic's default vectoriser (no stop words) and with scikit-learn's
English stop words removed (what BERTopic's documentation recommends).

* ``banking77``: the test split (3,080 queries, 77 intents); the base clusters against the
  intent names of ``categories.json`` ("card_payment_declined" read "card payment declined").
* ``sgd``: Schema-Guided Dialogue dev (2,098 dialogues), built with ``kura__max_top_clusters``
  = 16, the number of domains; the top level against the domain names ("RentalCars" read
  "rental cars").
* ``sgd_intents``: the same build's base clusters against each dialogue's first intent
  ("FindRestaurants" read "find restaurants"; 18 intents).

    python benchmarks/name_quality.py [--sets banking77,sgd,sgd_intents] [--data-dir DIR]
        [--vars YAML] [--keep DIR] [--reuse DIR [--relabel]] [--misses]

``--reuse DIR`` scores the DuckDB files a ``--keep DIR`` run left, without building again;
with ``--relabel`` it also names that build's clusters again with the labeller of this checkout
(each level of the build's hierarchy named as :mod:`kura_dbt.hierarchy.build` names it, from
the build's summaries and embeddings) and scores those names on the same clusters, with the
seconds the naming took (``relabel_s``), and where the misses come from: the share a perfect
choice among the labeller's candidates would score, and the share in clusters that no label
holds half of (:func:`candidate_ceiling`). ``--misses`` lists the clusters that our name or
c-TF-IDF's misses, with the label nearest each name (:func:`missed`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sklearn.feature_extraction.text import CountVectorizer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.build_quality import dbt_build, read_build  # noqa: E402
from benchmarks.cluster_quality import machine_line  # noqa: E402
from benchmarks.corpora import Turns, banking77, sgd, write_raw  # noqa: E402


def sgd_intents(data_dir: Path) -> tuple[list[Turns], list[str]]:
    """SGD dev with each dialogue's first intent ("FindRestaurants") for its label."""
    conversations, _ = sgd(data_dir)
    with open(data_dir / "sgd" / "dev.jsonl", encoding="utf-8") as f:
        intents = [json.loads(line)["label_intent"] for line in f]
    return conversations, intents


# set -> (loader, level scored, column of kura__conversations, extra vars, build it shares)
SETS: dict[str, tuple[Any, int, str, dict[str, Any], str]] = {
    "banking77": (banking77, 0, "base_cluster_id", {}, "banking77"),
    "sgd": (sgd, -1, "top_cluster_id", {"kura__max_top_clusters": 16}, "sgd"),
    "sgd_intents": (sgd_intents, 0, "base_cluster_id", {"kura__max_top_clusters": 16}, "sgd"),
}


def label_text(label: str) -> str:
    """An intent or domain id as words: "card_payment_declined", "RentalCars"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label).replace("_", " ")
    return " ".join(spaced.lower().split())


def ctfidf_names(docs: list[str], groups: list[str], stop_words: str | None) -> dict[str, str]:
    """Each group's top three c-TF-IDF words (BERTopic's formula, see the module docstring)."""
    keys = sorted(set(groups))
    joined = {k: [] for k in keys}
    for doc, g in zip(docs, groups, strict=True):
        joined[g].append(doc)
    vectoriser = CountVectorizer(stop_words=stop_words)
    counts = vectoriser.fit_transform([" ".join(joined[k]) for k in keys]).toarray().astype(float)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    average_words = counts.sum() / len(keys)
    idf = np.log1p(average_words / np.maximum(counts.sum(axis=0), 1.0))
    words = vectoriser.get_feature_names_out()
    scores = tf * idf
    return {k: " ".join(words[np.argsort(-scores[i])[:3]]) for i, k in enumerate(keys)}


def name_accuracy(
    names: dict[str, str], assigned: list[str], truth: list[str], embed: Any
) -> dict[str, float]:
    """The share of conversations whose cluster's name has the cluster's majority label's name
    nearest (top-1) or among the three nearest (top-3); and (``own_top1``, ``own_top3``) the
    share of conversations whose own label's name is nearest their cluster's name or among
    the three nearest, which credits a cluster of two labels named for both."""
    labels = sorted(set(truth))
    label_vectors = embed([label_text(t) for t in labels])
    frame = pd.DataFrame({"cluster": assigned, "truth": truth})
    majority = frame.groupby("cluster")["truth"].agg(lambda s: s.value_counts().index[0])
    sizes = frame["cluster"].value_counts()
    clusters = [c for c in majority.index if c in names]
    vectors = embed([names[c] for c in clusters])
    order = np.argsort(-(vectors @ label_vectors.T), axis=1)
    hit1 = hit3 = own1 = own3 = 0
    for row, c in enumerate(clusters):
        rank = [labels[j] for j in order[row, :3]]
        hit1 += int(sizes[c]) * (rank[0] == majority[c])
        hit3 += int(sizes[c]) * (majority[c] in rank)
        held = frame.loc[frame["cluster"] == c, "truth"]
        own1 += int((held == rank[0]).sum())
        own3 += int(held.isin(rank).sum())
    n = len(assigned)
    return {
        "top1": hit1 / n,
        "top3": hit3 / n,
        "own_top1": own1 / n,
        "own_top3": own3 / n,
        "clusters": len(clusters),
    }


def missed(
    names: dict[str, str],
    other: dict[str, str],
    assigned: list[str],
    truth: list[str],
    embed: Any,
) -> list[dict[str, Any]]:
    """``--misses``: the clusters whose name (ours, or ``other``: c-TF-IDF's) has another label
    than the cluster's majority label nearest, largest first: its size, majority label and its
    share, and each name with the label nearest it."""
    labels = sorted(set(truth))
    label_vectors = embed([label_text(t) for t in labels])
    frame = pd.DataFrame({"cluster": assigned, "truth": truth})
    rows = []
    for c, held in frame.groupby("cluster")["truth"]:
        counts = held.value_counts()
        texts = [names.get(str(c), ""), other.get(str(c), "")]
        nearest = [labels[j] for j in np.argmax(embed(texts) @ label_vectors.T, axis=1)]
        if any(n != counts.index[0] for n in nearest):
            rows.append(
                {
                    "size": len(held),
                    "majority": counts.index[0],
                    "share": counts.iloc[0] / len(held),
                    "ours": (texts[0], nearest[0]),
                    "ctfidf": (texts[1], nearest[1]),
                }
            )
    return sorted(rows, key=lambda r: -r["size"])


def candidate_ceiling(
    candidates: dict[str, list[str]], assigned: list[str], truth: list[str], embed: Any
) -> dict[str, float]:
    """Where the names' misses come from (``--relabel``): the share of conversations whose
    cluster has, among the candidates the labeller chose from, one with the majority label's
    name nearest (``any_candidate``: what a perfect choice among them would score at top-1),
    and the share in clusters whose majority label holds less than half (``mixed``), which no
    name can serve for all."""
    labels = sorted(set(truth))
    label_vectors = embed([label_text(t) for t in labels])
    frame = pd.DataFrame({"cluster": assigned, "truth": truth})
    hits = mixed = 0
    for c, held in frame.groupby("cluster")["truth"]:
        counts = held.value_counts()
        mixed += len(held) * (counts.iloc[0] < len(held) / 2)
        offered = candidates.get(str(c)) or []
        if offered:
            nearest = np.argmax(embed(offered) @ label_vectors.T, axis=1)
            hits += len(held) * any(labels[j] == counts.index[0] for j in nearest)
    return {"any_candidate": hits / len(assigned), "mixed": mixed / len(assigned)}


def user_words(turns: Turns) -> str:
    return " ".join(t for r, t in turns if r == "user")


def relabel(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The build's conversations and its clusters named again by this checkout's labeller, and
    the seconds that took: each level of the build's hierarchy named as the hierarchy names it
    (:mod:`kura_dbt.hierarchy.build`: a cluster's summaries most central first, its centroid
    of the build's embeddings; names settled as the build settles them,
    :func:`kura_dbt.labels.base.settled_names`), on the same clusters."""
    import time

    import duckdb

    from kura_dbt.labels import ClassTfidfLabeller
    from kura_dbt.labels.base import settled_names

    frame, clusters, matrix = read_build(db)
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        summaries = con.execute("select conversation_id, summary from kura__summaries").df()
    text_of = dict(zip(summaries["conversation_id"], summaries["summary"], strict=True))
    texts = [str(text_of.get(c, "")) for c in frame["conversation_id"]]
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    parent_of = {
        c: p for c, p in zip(clusters["cluster_id"], clusters["parent_id"], strict=True) if p
    }
    members: dict[str, list[int]] = {}
    for row, base in enumerate(frame["base_cluster_id"]):
        cid = base
        while isinstance(cid, str):
            members.setdefault(cid, []).append(row)
            cid = parent_of.get(cid)
    labeller = ClassTfidfLabeller(centroids_from_shipped_model=True)
    started = time.perf_counter()
    labels = {}
    candidates: dict[str, list[str]] = {}
    for number, at_level in clusters.groupby("level", sort=True):
        ids = [c for c in at_level["cluster_id"] if c in members]
        ordered, centroids = [], []
        for cid in ids:
            m = np.asarray(members[cid])
            centroid = unit[m].mean(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            order = m[np.argsort(-(unit[m] @ centroid), kind="stable")]
            ordered.append([texts[i] for i in order])
            centroids.append(centroid)
        with _recorded_candidates() as offered:
            named = labeller.label(
                ordered,
                [t[0] for t in ordered],
                [len(t) for t in ordered],
                centroids=centroids,
                parents=int(number) > 0,
            )
        labels.update(zip(ids, named, strict=True))
        candidates.update(zip(ids, offered[0] if offered else [[]] * len(ids), strict=True))
    labels.update(settled_names(labels, parent_of))
    seconds = time.perf_counter() - started
    clusters = clusters.assign(
        name=[labels[c].name for c in clusters["cluster_id"]],
        candidates=[candidates.get(c, []) for c in clusters["cluster_id"]],
    )
    return frame, clusters, seconds


@contextlib.contextmanager
def _recorded_candidates() -> Iterator[list[list[list[str]]]]:
    """The candidate names the labeller chooses among (kura_dbt.labels.semantic's
    ``best_candidates``), per cluster, while in the block."""
    from kura_dbt.labels import local

    offered: list[list[list[str]]] = []
    choose = local.best_candidates

    def recording(candidates, clusters, embed):  # type: ignore[no-untyped-def]
        offered.append([list(c) for c in candidates])
        return choose(candidates, clusters, embed)

    local.best_candidates = recording
    try:
        yield offered
    finally:
        local.best_candidates = choose


def score_set(
    name: str,
    db: Path,
    conversations: list[Turns],
    truth_all: list[str],
    relabelled: tuple[pd.DataFrame, pd.DataFrame, float] | None = None,
    misses: bool = False,
) -> dict:
    from kura_dbt.embeddings.local import LocalEmbedder

    embed = LocalEmbedder().embed
    if relabelled is None:
        frame, clusters, _ = read_build(db)
    else:
        frame, clusters, _ = relabelled
    _, level, column, _, _ = SETS[name]
    level = int(clusters["level"].max()) if level < 0 else level
    at_level = clusters[clusters["level"] == level]
    names = dict(zip(at_level["cluster_id"], at_level["name"].fillna("").astype(str), strict=True))
    frame = frame[frame[column].isin(names)]
    order = [int(c[1:]) for c in frame["conversation_id"]]
    truth = [truth_all[i] for i in order]
    assigned = list(frame[column])
    docs = [user_words(conversations[i]) for i in order]
    result: dict[str, Any] = {
        "set": name,
        "level": level,
        "conversations": len(assigned),
        "scored_of": len(conversations),
        "ours": name_accuracy(names, assigned, truth, embed),
        # clusters the labeller found no subject in (kura_dbt.labels.local: "Various ...")
        "various": sum(n.startswith("Various ") for n in names.values()),
    }
    for label, stop in (("ctfidf_default", None), ("ctfidf_english_stop", "english")):
        result[label] = name_accuracy(ctfidf_names(docs, assigned, stop), assigned, truth, embed)
    if "candidates" in at_level:
        offered = dict(zip(at_level["cluster_id"], at_level["candidates"], strict=True))
        result["candidates"] = candidate_ceiling(offered, assigned, truth, embed)
    if misses:
        default = ctfidf_names(docs, assigned, None)
        result["misses"] = missed(names, default, assigned, truth, embed)
    rng = np.random.default_rng(0)
    picked = sorted(rng.permutation(sorted(names))[:15])
    ctf = ctfidf_names(docs, assigned, "english")
    result["sample"] = [(names[c], ctf[c]) for c in picked]
    return result


def print_result(r: dict[str, Any]) -> None:
    print(
        f"\n## {r['set']}: level {r['level']}, {r['ours']['clusters']} clusters, "
        f"{r['conversations']} of {r['scored_of']} conversations clustered"
        + (f", build {r['wall_s']:.0f} s" if "wall_s" in r else "")
        + (f", named again in {r['relabel_s']:.1f} s" if "relabel_s" in r else "")
    )
    print(f"{'names':28s} {'top-1':>7s} {'top-3':>7s} {'own top-1':>10s} {'own top-3':>10s}")
    for key in ("ours", "ctfidf_default", "ctfidf_english_stop"):
        k = r[key]
        print(
            f"{key:28s} {k['top1']:7.1%} {k['top3']:7.1%} "
            f"{k['own_top1']:10.1%} {k['own_top3']:10.1%}"
        )
    if "candidates" in r:
        c = r["candidates"]
        print(
            f"a candidate of the labeller's fits (the best choice among them): "
            f"{c['any_candidate']:.1%} top-1; in clusters of no majority label: {c['mixed']:.1%}"
        )
    print(f'clusters named "Various ..." (no subject in common): {r["various"]}')
    if "misses" in r:
        print("missed (size, majority label and share: ours -> nearest | c-TF-IDF -> nearest):")
        for m in r["misses"]:
            ours, ctf = m["ours"], m["ctfidf"]
            print(
                f"  {m['size']:5d} {m['majority']} {m['share']:.0%}: "
                f"{ours[0]!r} -> {ours[1]} | {ctf[0]!r} -> {ctf[1]}"
            )
    print("sample (ours | c-TF-IDF, English stop words):")
    for ours, ctf in r["sample"]:
        print(f"  {ours} | {ctf}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="banking77,sgd,sgd_intents")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--vars", default="{}", help="extra dbt vars (YAML)")
    parser.add_argument("--keep", type=Path, help="keep the DuckDB files in this folder")
    parser.add_argument("--reuse", type=Path, help="score the DuckDB files of a --keep run")
    parser.add_argument(
        "--relabel", action="store_true", help="with --reuse: name the build's clusters again"
    )
    parser.add_argument(
        "--misses", action="store_true", help="list the clusters that either name misses"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    extra = yaml.safe_load(args.vars) or {}
    workdir = args.reuse or args.keep or Path(tempfile.mkdtemp(prefix="kura_names_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    results = []
    for name in [s.strip() for s in args.sets.split(",")]:
        loader, _, _, set_vars, build = SETS[name]
        conversations, truth = loader(args.data_dir)
        db = workdir / f"{build}.duckdb"
        wall = None
        if args.reuse is None and not db.exists():
            write_raw(db, conversations)
            variables = {
                "kura__conversations": "raw.conversations",
                "kura__messages": "raw.messages",
                "kura__feedback": None,
                "kura__users": None,
                **set_vars,
                **extra,
            }
            wall = dbt_build(db, workdir / name, variables)
        relabelled = None
        if args.relabel:
            relabelled = relabel(db)
        result = score_set(name, db, conversations, truth, relabelled, args.misses)
        if wall is not None:
            result["wall_s"] = wall
        if relabelled is not None:
            result["relabel_s"] = relabelled[2]
        results.append(result)
        print_result(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
