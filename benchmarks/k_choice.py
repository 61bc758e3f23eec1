"""How the automatic number of base clusters behaves, per set, in the library: the k the default
``KMeansClusterer`` (as a build builds it: ``kura__target_cluster_size`` 50, seed 42) chooses on
the vectors a build clusters (the local summariser's request embedded with the local model, as
``discovery_quality.py``), NMI / ARI against the labels, and the coherence of ``structure.py``.

Sets: banking77 test (3,080 queries, 77 intents); issue 12's proxy for a held-out set of small
intents (64 banking77 intents, seeded, with 10 / 16 / 25 queries each, and with 10-25 drawn per
intent: about 1,100 queries); SGD dev (2,098 dialogues, 16 domains; intents are finer); the
OpenAssistant sample (350, no labels); the demo's 500 conversations (``seeds/``, label:
``sample_domain``) and perturbed copies of it (2 % of the conversations replaced by SGD dev
dialogues, one copy per seed) to show how far k moves on a small change of the input.

    python benchmarks/k_choice.py [--criteria bic,loo_silhouette] [--reference] [--sets ...]
        [--cache DIR] [--model DIR]

``--model DIR``: embed the requests with another sentence-transformers model (a folder on
disk; nothing is fetched) instead of the shipped one, to see whether a stronger model frees the
criteria (BENCHMARKS.md: all-mpnet-base-v2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.corpora import Turns, banking77, build_vectors, oasst, sgd  # noqa: E402
from benchmarks.structure import coherence  # noqa: E402


def demo(repo: Path = REPO) -> tuple[list[Turns], list[str]]:
    """The demo's 500 conversations (seeds/) and their ``sample_domain``."""
    conversations = pd.read_csv(repo / "seeds" / "kura_sample_conversations.csv")
    messages = pd.read_csv(repo / "seeds" / "kura_sample_messages.csv")
    messages = messages.sort_values(["conversation_id", "message_index"])
    turns = {
        cid: list(zip(group["role"], group["content"].fillna(""), strict=True))
        for cid, group in messages.groupby("conversation_id", sort=False)
    }
    ids = list(conversations["conversation_id"])
    return [turns.get(c, []) for c in ids], [str(d) for d in conversations["sample_domain"]]


def proxy(X: np.ndarray, labels: list[str], per_intent: int | None, seed: int = 12):
    """64 of banking77's intents (seeded) with ``per_intent`` queries each (None: 10-25 drawn
    per intent)."""
    rng = np.random.default_rng(seed)
    y = np.array(labels)
    intents = rng.choice(np.unique(y), size=64, replace=False)
    rows: list[int] = []
    for intent in sorted(intents):
        members = np.flatnonzero(y == intent)
        m = per_intent if per_intent is not None else int(rng.integers(10, 26))
        rows += sorted(rng.choice(members, size=min(m, len(members)), replace=False))
    idx = np.array(rows)
    return X[idx], list(y[idx])


def perturbed(X: np.ndarray, labels: list[str], other: np.ndarray, seed: int, share: float = 0.02):
    """A copy with ``share`` of the rows replaced by rows of ``other`` (changed texts)."""
    rng = np.random.default_rng(seed)
    n = len(X)
    m = max(1, round(share * n))
    rows = rng.choice(n, size=m, replace=False)
    X2 = X.copy()
    X2[rows] = other[rng.choice(len(other), size=m, replace=False)]
    y2 = list(labels)
    for r in rows:
        y2[r] = "changed"
    return X2, y2


def load_sets(
    data_dir: Path, cache: Path, names: list[str], model: Path | None = None
) -> dict[str, tuple[np.ndarray, Any]]:
    """Each named set's vectors and labels (None: unlabelled); ``model``: a sentence-transformers
    model folder that embeds instead of the shipped model (:func:`build_vectors`)."""
    out: dict[str, tuple[np.ndarray, Any]] = {}
    need_bank = any(n.startswith(("banking77", "proxy")) for n in names)
    if need_bank:
        conv, yb = banking77(data_dir)
        Xb = build_vectors("banking77", conv, cache, model)
    if any(n.startswith(("sgd", "demo")) for n in names):
        conv, ys = sgd(data_dir)
        Xs = build_vectors("sgd", conv, cache, model)
    for name in names:
        if name == "banking77":
            out[name] = (Xb, yb)
        elif name.startswith("proxy"):
            tail = name[len("proxy") :]
            out[name] = proxy(Xb, yb, int(tail) if tail else None)
        elif name == "sgd":
            out[name] = (Xs, ys)
        elif name == "oasst":
            conv, _ = oasst(data_dir)
            out[name] = (build_vectors("oasst", conv, cache, model), None)
        elif name.startswith("demo"):
            conv, yd = demo()
            Xd = build_vectors("demo", conv, cache, model)
            tail = name[len("demo") :]
            out[name] = (Xd, yd) if not tail else perturbed(Xd, yd, Xs, int(tail.lstrip("~")))
    return out


def measure(X: np.ndarray, y: Any, clusterer: Any) -> dict[str, Any]:
    started = time.perf_counter()
    clusterer.fit(X)
    seconds = time.perf_counter() - started
    labels = clusterer.labels_
    result = {"k": int(clusterer.n_clusters_), "seconds": seconds, **coherence(X, labels)}
    if y is not None:
        result["nmi"] = normalized_mutual_info_score(y, labels)
        result["ari"] = adjusted_rand_score(y, labels)
    return result


def reference(X: np.ndarray, y: Any) -> dict[str, Any] | None:
    """k-means told the true number of labels (seed 42, 3 starts)."""
    if y is None:
        return None
    k = len(set(y))
    labels = KMeans(n_clusters=k, n_init=3, random_state=42).fit_predict(X)
    return {
        "k": k,
        **coherence(X, labels),
        "nmi": normalized_mutual_info_score(y, labels),
        "ari": adjusted_rand_score(y, labels),
    }


def row(name: str, how: str, r: dict[str, Any]) -> str:
    scores = f"{r['nmi']:.3f} | {r['ari']:.3f}" if "nmi" in r else "- | -"
    secs = f"{r['seconds']:.1f}" if "seconds" in r else ""
    return (
        f"| {name} | {how} | {r['k']} | {scores} | {100 * r['nearer_other']:.1f} % "
        f"| {r['to_centroid']:.3f} | {secs} |"
    )


def main(argv: list[str] | None = None) -> int:
    from kura_dbt.clustering import CLUSTERERS
    from kura_dbt.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sets",
        default="banking77,proxy10,proxy16,proxy25,proxy,sgd,oasst,demo,demo~1,demo~2,demo~3",
    )
    parser.add_argument(
        "--criteria", default="", help="k criteria to compare (default: the default)"
    )
    parser.add_argument("--reference", action="store_true", help="also k-means told the true k")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "k_choice")
    parser.add_argument(
        "--model", type=Path, help="a sentence-transformers model folder to embed with instead"
    )
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in args.sets.split(",") if s.strip()]
    sets = load_sets(args.data_dir, args.cache, names, args.model)
    print(
        "| set | k chosen by | k | NMI | ARI | nearer another centroid "
        "| similarity to centroid | s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    criteria = [c for c in args.criteria.split(",") if c] or [None]
    for name in names:
        X, y = sets[name]
        for criterion in criteria:
            clusterer = CLUSTERERS.build("kmeans", Settings())
            if criterion is not None:
                clusterer.set_params(criterion=criterion)
            print(row(name, criterion or clusterer.criterion, measure(X, y, clusterer)), flush=True)
        if args.reference and (ref := reference(X, y)) is not None:
            print(row(name, "k-means told the true k", ref), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
