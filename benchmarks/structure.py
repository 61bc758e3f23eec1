"""How a build's clusters sit in the embedding space, without labels: the coherence of the base
clusters and the balance and separation of the top level. Shared by the benchmarks that build
(``build_quality.py``, ``discovery_quality.py``, which print these figures per set);
``from_file`` scores a DuckDB file a build left behind (``build_quality.py --keep``).

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

from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd


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


def read_build(db: Path) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """kura__conversations, kura__clusters and the embeddings (rows of the conversations)."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("set search_path = 'main,main_kura_private'")
        conversations = con.execute(
            "select c.conversation_id, c.request, c.summary, c.flags, c.base_cluster_id, "
            "c.top_cluster_id, e.embedding from kura__conversations as c "
            "left join kura__embeddings as e using (conversation_id) order by conversation_id"
        ).df()
        clusters = con.execute(
            "select cluster_id, level, parent_id, name, size, child_count from kura__clusters"
        ).df()
    have = conversations["embedding"].notna().to_numpy()
    matrix = np.zeros((len(conversations), 0), dtype=np.float32)
    if have.any():
        width = len(next(v for v in conversations["embedding"] if v is not None))
        matrix = np.stack(
            [
                np.asarray(v, dtype=np.float32) if v is not None else np.zeros(width, np.float32)
                for v in conversations["embedding"]
            ]
        )
    return conversations.drop(columns="embedding"), clusters, matrix


def from_file(path: Path) -> dict[str, float]:
    """:func:`structure` of the build in a DuckDB file (``kura__conversations`` and the
    embeddings it was clustered on)."""
    frame, _, matrix = read_build(path)
    return structure(matrix, frame["base_cluster_id"], frame["top_cluster_id"])
