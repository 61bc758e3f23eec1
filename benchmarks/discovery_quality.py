"""The discovery a build runs, in the library, on the text a build embeds: for each data set, the
local summariser's request (the summary where there is none, as `kura__embedding_text: auto`
does) embedded with the local model, then `kura_dbt.taxonomy.discover.discover` with default
settings on a seeded 80 % (the days a discovery sees) and the other 20 % assigned as a later
day by the discovery's centroids and radii (the assign path of a nightly build).

Reports per set: base k, NMI and ARI against the labels, the top level's NMI, and the
structure of `structure.py` (coherence, largest top-level share, within vs between similarity),
and the later day's novel share (target: 1 - `kura__assign_radius_quantile` = 5 %). The same
figures as `build_quality.py --held-out 0.2` without dbt's own cost, so that a code change can be
compared on a loaded machine in minutes; run it once per checkout (PYTHONPATH) to compare.

    python benchmarks/discovery_quality.py [--sets banking77,sgd,oasst,mixed] [--cache DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.build_quality import SETS, held_out_days  # noqa: E402
from benchmarks.structure import structure  # noqa: E402

TOP = {"sgd": 16}  # kura__max_top_clusters per set (build_quality.py's), else integration_tests' 6


def embedded(name: str, data_dir: Path, cache: Path) -> tuple[np.ndarray, list[str], Any]:
    """The vectors a build clusters, the summaries it names from, and the labels (cached)."""
    conversations, labels = SETS[name](data_dir)
    path = cache / f"{name}.npz"
    if path.exists():
        saved = np.load(path, allow_pickle=True)
        return saved["X"], list(saved["summaries"]), labels
    from kura_dbt.embeddings.local import LocalEmbedder
    from kura_dbt.summaries.local import LocalSummariser

    summariser = LocalSummariser()
    records = [
        summariser.summarise([{"role": r, "content": t} for r, t in turns])
        for turns in conversations
    ]
    texts = [r.request or r.summary or " " for r in records]
    X = LocalEmbedder().embed(texts)
    summaries = [r.summary or "" for r in records]
    np.savez(path, X=X, summaries=np.array(summaries, dtype=object))
    return X, summaries, labels


def run(name: str, data_dir: Path, cache: Path, held_out: float) -> dict[str, Any]:
    from kura_dbt.clustering.assign import assign_to_centroids
    from kura_dbt.settings import Settings
    from kura_dbt.taxonomy.discover import discover

    X, summaries, labels = embedded(name, data_dir, cache)
    first, later = held_out_days(len(X), held_out)
    started = time.perf_counter()
    found = discover(
        [f"c{i:06d}" for i in first],
        X[first],
        [summaries[i] for i in first],
        Settings(max_top_clusters=TOP.get(name, 6)),
    )
    seconds = time.perf_counter() - started
    h = found.hierarchy
    top_of = dict(zip(h["cluster_id"], h["top_cluster_id"], strict=True))
    base = np.array([found.base_ids[b] if b >= 0 else "" for b in found.labels], dtype=object)
    top = np.array([top_of.get(b, "") for b in base], dtype=object)
    within = assign_to_centroids(X[later], found.centroids, found.radii)[2]
    result: dict[str, Any] = {
        "set": name,
        "conversations": len(first),
        "k": int(found.labels.max()) + 1,
        "seconds": seconds,
        "novel_later": float(1.0 - within.mean()) if len(later) else float("nan"),
        "later": len(later),
        **structure(X[first], base, top),
    }
    if labels is not None:
        y = [labels[i] for i in first]
        result["nmi"] = normalized_mutual_info_score(y, base)
        result["ari"] = adjusted_rand_score(y, base)
        result["top_nmi"] = normalized_mutual_info_score(y, top)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", default="banking77,sgd,oasst,mixed")
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache")
    parser.add_argument("--held-out", type=float, default=0.2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    print(
        "| set | k | NMI | ARI | top NMI | nearer another centroid | similarity to centroid "
        "| largest top share | within top | between top | later day novel | discovery s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    results = []
    for name in args.sets.split(","):
        r = run(name.strip(), args.data_dir, args.cache, args.held_out)
        results.append(r)
        scores = (
            f"{r['nmi']:.3f} | {r['ari']:.3f} | {r['top_nmi']:.3f}" if "nmi" in r else "- | - | -"
        )
        print(
            f"| {r['set']} | {r['k']} | {scores} | {100 * r['nearer_other']:.1f} % "
            f"| {r['to_centroid']:.3f} | {100 * r['top_share']:.1f} % | {r['within_top']:.3f} "
            f"| {r['between_top']:.3f} | {100 * r['novel_later']:.1f} % of {r['later']} "
            f"| {r['seconds']:.1f} |",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
