"""How a build's clusters sit in the embedding space, without labels: the coherence of the base
clusters and the balance and separation of the top level. Shared by the benchmarks that build;
also a command that scores DuckDB files a build left behind (``build_quality.py --keep``):

    python benchmarks/structure.py FILE.duckdb [FILE.duckdb ...]

Every similarity is the cosine of L2-normalised embeddings (``kura__embeddings``); a cluster's
centroid is the mean direction of its conversations, the rule assignment uses.

* ``nearer_other``: the share of conversations whose own base cluster's centroid is not the
  nearest one (they sit nearer another cluster's centre than their own);
* ``to_centroid``: the members' mean similarity to their own base cluster's centroid;
* ``top_share``: the largest top-level cluster's share of the conversations;
* ``within_top`` / ``between_top``: the mean similarity of two conversations in the same
  top-level cluster, and of two in different ones (the gap says how distinct siblings are).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np


def _units(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


def _codes(labels: Any) -> np.ndarray:
    """Labels (any hashable, None for none) as 0..k-1, -1 for none."""
    values = ["" if v is None or v != v else str(v) for v in labels]
    names = sorted({v for v in values if v})
    index = {name: i for i, name in enumerate(names)}
    return np.array([index.get(v, -1) for v in values], dtype=np.int64)


def coherence(X: np.ndarray, labels: Any) -> dict[str, float]:
    """``nearer_other`` and ``to_centroid`` of the base clusters ``labels`` (rows of ``X``)."""
    U, y = _units(X), _codes(labels)
    keep = y >= 0
    U, y = U[keep], y[keep]
    k = int(y.max()) + 1 if len(y) else 0
    if k == 0:
        return {"nearer_other": float("nan"), "to_centroid": float("nan")}
    sums = np.zeros((k, U.shape[1]))
    np.add.at(sums, y, U)
    centres = _units(sums)
    similarity = U @ centres.T
    own = similarity[np.arange(len(y)), y]
    return {
        "nearer_other": float((similarity.argmax(axis=1) != y).mean()),
        "to_centroid": float(own.mean()),
    }


def top_level(X: np.ndarray, labels: Any) -> dict[str, float]:
    """``top_share``, ``within_top`` and ``between_top`` of the top-level clusters ``labels``."""
    U, y = _units(X), _codes(labels)
    keep = y >= 0
    U, y = U[keep], y[keep]
    n = len(y)
    if n < 2:
        return {"top_share": float("nan"), "within_top": float("nan"), "between_top": float("nan")}
    k = int(y.max()) + 1
    sums = np.zeros((k, U.shape[1]))
    np.add.at(sums, y, U)
    sizes = np.bincount(y, minlength=k).astype(np.float64)
    self_pairs = float((U * U).sum())  # each conversation with itself
    within_sum = float((sums * sums).sum()) - self_pairs
    within_pairs = float((sizes * (sizes - 1)).sum())
    total = U.sum(axis=0)
    between_sum = float(total @ total) - float((sums * sums).sum())
    between_pairs = float(n * n - (sizes * sizes).sum())
    return {
        "top_share": float(sizes.max() / n),
        "within_top": within_sum / within_pairs if within_pairs else float("nan"),
        "between_top": between_sum / between_pairs if between_pairs else float("nan"),
    }


def structure(X: np.ndarray, base: Any, top: Any) -> dict[str, float]:
    """Both reports for one build: base clusters ``base``, top-level clusters ``top``."""
    return {**coherence(X, base), **top_level(X, top)}


def from_file(path: Path) -> dict[str, float]:
    """:func:`structure` of the build in a DuckDB file (``kura__conversations`` and the
    embeddings it was clustered on)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.build_quality import read_build

    frame, _, matrix = read_build(path)
    return structure(matrix, frame["base_cluster_id"], frame["top_cluster_id"])


def main(argv: list[str]) -> int:
    print(
        "| file | nearer another centroid | similarity to centroid | largest top share "
        "| within top | between top |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in argv:
        s = from_file(Path(name))
        print(
            f"| {Path(name).name} | {100 * s['nearer_other']:.1f} % | {s['to_centroid']:.3f} | "
            f"{100 * s['top_share']:.1f} % | {s['within_top']:.3f} | {s['between_top']:.3f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
