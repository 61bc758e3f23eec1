"""What `dbt build` gives on labelled and real chat data: the real build of integration_tests on
each data set written as a user's conversation and message tables, with default settings.

Data sets (from ../shared/data):

* ``banking77``: the test split, 3,080 customer queries, each one conversation of one user
  message; 77 intents. The base clusters (``kura__conversations.base_cluster_id``) are scored
  against the intents with NMI and ARI, next to, on the same embeddings (read back from
  ``kura__embeddings``): k-means told the true k, and BERTopic with its defaults (only when the
  ``bench`` extra is installed).
* ``sgd``: Schema-Guided Dialogue dev, 2,098 multi-turn dialogues; label: the dialogue's first
  service's domain. Built with ``kura__max_top_clusters`` = the number of domains; the top
  level (``top_cluster_id``) is scored against the domains next to Ward and k-means with that
  many clusters on the same embeddings.
* ``oasst``: real assistant chats (OpenAssistant: 100 threads and 250 prompts): the number of
  base and top-level clusters, the median base cluster size, 15 names for a person to judge,
  and how many names are unique among their siblings.

Every build also reports the base cluster count and sizes and, for comparison, the same
scores of the texts the user wrote, embedded with the same model (``raw``), so the cost of
embedding the build's chosen text instead of the user's words is visible.

    python benchmarks/build_quality.py [--sets banking77,sgd,oasst] [--data-dir ../shared/data]
        [--vars YAML] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.cluster_quality import machine_line, run_bertopic  # noqa: E402
from benchmarks.corpora import Turns, banking77, mixed, oasst, sgd, write_raw  # noqa: E402
from benchmarks.structure import read_build, structure  # noqa: E402

SETS = {"banking77": banking77, "sgd": sgd, "oasst": oasst, "mixed": mixed}


# --------------------------------------------------------------------------- the build


def dbt_deps() -> None:
    """`dbt deps` in integration_tests (it installs the package itself, from ``../``), once: a
    fresh checkout has no ``dbt_packages`` and dbt refuses to build without it."""
    if (REPO / "integration_tests" / "dbt_packages").is_dir():
        return
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "deps", "--quiet"],
        cwd=REPO / "integration_tests",
        check=True,
        env=dict(os.environ, DBT_PROFILES_DIR=str(REPO / "profiles")),
    )


def dbt_build(
    db: Path, workdir: Path, variables: dict[str, Any], extra_env: dict | None = None
) -> float:
    """The real `dbt build` of integration_tests on ``db`` (seeds excluded); its seconds."""
    dbt_deps()
    env = dict(
        os.environ,
        KURA_DUCKDB_PATH=str(db),
        DBT_PROFILES_DIR=str(REPO / "profiles"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        DO_NOT_TRACK="1",
        **(extra_env or {}),
    )
    started = time.perf_counter()
    proc = subprocess.run(
        [
            str(Path(sys.executable).with_name("dbt")),
            "build",
            "--exclude",
            "resource_type:seed",
            "--vars",
            json.dumps(variables),
            "--target-path",
            str(workdir / "target"),
            "--log-path",
            str(workdir / "logs"),
            "--quiet",
        ],
        cwd=REPO / "integration_tests",
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- scores


def score(labels: list[str], predicted: Any) -> dict[str, float]:
    predicted = [("none" if p is None or p != p else str(p)) for p in predicted]
    return {
        "nmi": normalized_mutual_info_score(labels, predicted),
        "ari": adjusted_rand_score(labels, predicted),
        "k": len(set(predicted)),
    }


def raw_embeddings(conversations: list[Turns]) -> np.ndarray:
    """The user's own words (all user turns, joined) embedded with the build's local model."""
    from kura_dbt.embeddings.local import LocalEmbedder

    texts = [" ".join(t for r, t in turns if r == "user") or " " for turns in conversations]
    return LocalEmbedder().embed(texts)


def bertopic(texts: list[str], matrix: np.ndarray) -> np.ndarray | None:
    """BERTopic's clusters; None without the `bench` extra."""
    try:
        return run_bertopic(texts, matrix, seed=42)
    except ImportError:
        return None


def names_report(clusters: pd.DataFrame, sample: int = 15) -> dict[str, Any]:
    base = clusters[clusters["level"] == 0]
    siblings = clusters.groupby(clusters["parent_id"].fillna("<top>"))["name"]
    duplicated = sum(int(n.duplicated(keep=False).sum()) for _, n in siblings)
    tops = clusters[clusters["parent_id"].isna()]
    rng = np.random.default_rng(0)
    picked = base.iloc[rng.permutation(len(base))[:sample]] if len(base) else base
    return {
        "base_clusters": len(base),
        "top_clusters": len(tops),
        "levels": int(clusters["level"].max()) + 1 if len(clusters) else 0,
        "median_base_size": float(base["size"].median()) if len(base) else 0.0,
        "base_size_range": (int(base["size"].min()), int(base["size"].max()))
        if len(base)
        else (0, 0),
        "names_unique_among_siblings": f"{len(clusters) - duplicated}/{len(clusters)}",
        "sample_names": sorted(picked["name"].astype(str)),
        "top_names": sorted(tops["name"].astype(str)),
    }


_VARIOUS = re.compile(r"^Various (questions|requests)(?: to (\w+))?(?::|$)")


def name_support(frame: pd.DataFrame, clusters: pd.DataFrame) -> dict[str, Any]:
    """What the base names say, checked against their members' requests: the share of the
    conversations whose request holds a word of their cluster's name (three letters or more,
    plurals folded); for clusters named "Various questions" / "Various requests to <verb>"
    (:mod:`kura_dbt.labels.local`), apart: the share of their requests of that form (plain
    "Various requests" names none)."""
    from kura_dbt.summaries.english import request_form
    from kura_dbt.summaries.text import split_sentences

    def fold(text: str) -> set[str]:
        return {w.rstrip("s") for w in re.findall(r"[a-z][a-z'-]{2,}", text.lower())}

    names = dict(zip(clusters["cluster_id"], clusters["name"].fillna(""), strict=True))
    held = various = various_formed = various_held = 0
    for cluster_id, request in zip(frame["base_cluster_id"], frame["request"], strict=True):
        request = request if isinstance(request, str) else ""
        name = names.get(cluster_id, "")
        if not name:
            continue
        match = _VARIOUS.match(name)
        if match is None:
            held += bool(fold(name) & fold(request))
            continue
        various += 1
        wanted = "question" if match.group(1) == "questions" else match.group(2)
        if wanted is None:  # "Various requests": no form named
            continue
        first = split_sentences(request)[:1]
        various_formed += 1
        various_held += bool(first) and request_form(first[0]) == wanted
    named = sum(1 for c in frame["base_cluster_id"] if names.get(c)) - various
    return {
        "name_support": held / named if named else 0.0,
        "various_share": various / len(frame) if len(frame) else 0.0,
        "various_support": various_held / various_formed if various_formed else 0.0,
    }


def held_out_days(n: int, share: float, seed: int = 7) -> tuple[list[int], list[int]]:
    """A seeded split of ``n`` conversations into the days a discovery sees and a later day of
    the same source (``share`` of them, at least one when ``share`` > 0)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    later = max(1, round(n * share)) if share > 0 else 0
    return order[: n - later], order[n - later :]


def fetch(db: Path, query: str) -> list[tuple]:
    """The rows of ``query`` on a build's DuckDB file, read-only, with the marts' schema and the
    private one (var kura__private_schema's default) on the search path."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        return con.execute(query).fetchall()


def novelty(db: Path, later_ids: list[str]) -> dict[str, Any]:
    """The share of the later day's conversations that the build left novel, and its decision."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        con.register("later", pd.DataFrame({"conversation_id": later_ids}))
        novel = con.execute(
            "select avg(case when c.is_unclustered then 1.0 else 0.0 end) as share, count(*) as n "
            "from kura__conversation_clusters as c join later using (conversation_id)"
        ).fetchone()
        run = con.execute(
            "select decision, reason from kura__cluster_runs order by run_number desc limit 1"
        ).fetchone()
    return {"share": float(novel[0]), "n": int(novel[1]), "decision": run[0], "reason": run[1]}


def run_set(
    name: str,
    data_dir: Path,
    workdir: Path,
    extra_vars: dict[str, Any],
    held_out: float = 0.0,
    references: bool = True,
) -> dict[str, Any]:
    everything, all_labels = SETS[name](data_dir)
    first, later = held_out_days(len(everything), held_out)
    conversations = [everything[i] for i in first + later]
    labels = [all_labels[i] for i in first + later] if all_labels else None
    db = workdir / f"{name}.duckdb"
    write_raw(db, conversations[: len(first)])
    variables: dict[str, Any] = {
        "kura__conversations": "raw.conversations",
        "kura__messages": "raw.messages",
        "kura__feedback": None,
        "kura__users": None,
    }
    n_domains = len(set(labels)) if labels else None
    if name == "sgd":
        variables["kura__max_top_clusters"] = n_domains
    variables.update(extra_vars)
    wall = dbt_build(db, workdir / name, variables)
    frame, clusters, matrix = read_build(db)
    result: dict[str, Any] = {
        "set": name,
        "conversations": len(first),
        "wall_s": wall,
        **names_report(clusters),
        **name_support(frame, clusters),
        **structure(matrix, frame["base_cluster_id"], frame["top_cluster_id"]),
    }
    if later:
        write_raw(db, conversations)  # the same rows, and a later day's after them
        dbt_build(db, workdir / name, variables)
        ids = [f"c{i:06d}" for i in range(len(first), len(conversations))]
        result["held_out"] = novelty(db, ids)
    if labels is not None:
        result.update(labelled_scores(name, frame, matrix, conversations, labels, references))
    return result


def labelled_scores(
    name: str,
    frame: pd.DataFrame,
    matrix: np.ndarray,
    conversations: list[Turns],
    labels: list[str],
    references: bool,
) -> dict[str, Any]:
    """The build's clusters against the labels, next to the references on the same data."""
    order = [int(c[1:]) for c in frame["conversation_id"]]
    y = [labels[i] for i in order]
    truth_k = len(set(y))
    result: dict[str, Any] = {"labels": truth_k, "base": score(y, frame["base_cluster_id"])}
    result["top"] = score(y, frame["top_cluster_id"])
    if not references:
        return result
    seed = 42
    result["kmeans_true_k_same_embeddings"] = score(
        y, KMeans(truth_k, n_init=3, random_state=seed).fit_predict(matrix)
    )
    raw = raw_embeddings([conversations[i] for i in order])
    result["kmeans_true_k_raw_text"] = score(
        y, KMeans(truth_k, n_init=3, random_state=seed).fit_predict(raw)
    )
    if name == "banking77":
        topics = bertopic(frame["request"].fillna(frame["summary"]).astype(str).tolist(), matrix)
        if topics is not None:
            result["bertopic_same_embeddings"] = score(y, topics)
    if name in ("sgd", "mixed"):
        result["ward_n_same_embeddings"] = score(
            y, AgglomerativeClustering(n_clusters=truth_k, linkage="ward").fit_predict(matrix)
        )
        result["kmeans_n_same_embeddings"] = score(
            y, KMeans(truth_k, n_init=3, random_state=seed).fit_predict(matrix)
        )
    return result


def print_result(r: dict[str, Any]) -> None:
    print(f"\n## {r['set']}: {r['conversations']} conversations, dbt build {r['wall_s']:.0f} s")
    print(
        f"base clusters {r['base_clusters']} (median size {r['median_base_size']:.0f}, "
        f"range {r['base_size_range'][0]}-{r['base_size_range'][1]}), top-level "
        f"{r['top_clusters']}, levels {r['levels']}; names unique among siblings "
        f"{r['names_unique_among_siblings']}"
    )
    print(
        f"base coherence: {100 * r['nearer_other']:.1f} % nearer another cluster's centroid, "
        f"mean similarity to own centroid {r['to_centroid']:.3f}; largest top-level cluster "
        f"{100 * r['top_share']:.1f} %, similarity within top-level clusters "
        f"{r['within_top']:.3f}, between {r['between_top']:.3f}"
    )
    if "held_out" in r:
        h = r["held_out"]
        print(
            f"held-out later day: {100 * h['share']:.1f} % of {h['n']} novel "
            f"(decision {h['decision']}: {h['reason']})"
        )
    rows = [k for k in r if isinstance(r[k], dict) and "nmi" in r[k]]
    if rows:
        print(f"{'clustering':36s} {'k':>4s} {'NMI':>6s} {'ARI':>6s}")
        for key in rows:
            s = r[key]
            print(f"{key:36s} {s['k']:4d} {s['nmi']:6.3f} {s['ari']:6.3f}")
    print(
        f"base names: {100 * r['name_support']:.1f} % of the conversations in a named cluster hold "
        f"a word of its name; {100 * r['various_share']:.1f} % are in clusters named "
        f'"Various ...", {100 * r["various_support"]:.1f} % of them of the form it names'
    )
    print("top-level names: " + " | ".join(r["top_names"]))
    print("sample base names: " + " | ".join(r["sample_names"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sets", default="banking77,sgd,oasst")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--vars", default="{}", help="extra dbt vars (YAML), e.g. '{kura__x: 1}'")
    parser.add_argument("--keep", type=Path, help="keep the DuckDB files in this folder")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--held-out",
        type=float,
        default=0.0,
        help="discover on the rest, then add this share as a later day and report its novel share",
    )
    parser.add_argument(
        "--no-references", action="store_true", help="skip k-means/Ward/BERTopic references"
    )
    args = parser.parse_args(argv)
    extra = yaml.safe_load(args.vars) or {}
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="kura_build_quality_"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    print(f"extra vars: {extra or 'none (defaults)'}")
    results = []
    try:
        for name in args.sets.split(","):
            results.append(
                run_set(
                    name.strip(),
                    args.data_dir,
                    workdir,
                    extra,
                    held_out=args.held_out,
                    references=not args.no_references,
                )
            )
            print_result(results[-1])
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
