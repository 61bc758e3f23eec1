"""Placing new points on an existing map from their nearest neighbours in embedding space.

A new conversation lands at the similarity-weighted mean position of its ``k`` most similar
anchors (cosine), so it appears among the conversations it resembles and no existing point
moves. The weights fall off exponentially with the gap to the most similar anchor
(``temperature`` in cosine units), so one near-duplicate dominates a crowd of loose matches.
"""

from __future__ import annotations

import numpy as np

from kura_dbt.clustering.assign import unit_rows


def place_from_neighbours(
    X_new: np.ndarray,
    X_anchor: np.ndarray,
    xy_anchor: np.ndarray,
    k: int = 10,
    temperature: float = 0.05,
    batch: int = 2048,
) -> np.ndarray:
    """2D positions for the rows of ``X_new`` from anchors with known positions."""
    X_new = unit_rows(X_new)
    anchors = unit_rows(X_anchor)
    xy_anchor = np.asarray(xy_anchor, dtype=np.float64)
    out = np.zeros((len(X_new), 2))
    if len(X_new) == 0:
        return out
    if len(anchors) == 0:
        raise ValueError("kura: cannot place points on an empty map")
    k = max(1, min(k, len(anchors)))
    for start in range(0, len(X_new), batch):
        sim = X_new[start : start + batch] @ anchors.T
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top_sim = np.take_along_axis(sim, top, axis=1).astype(np.float64)
        weights = np.exp((top_sim - top_sim.max(axis=1, keepdims=True)) / temperature)
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + batch] = np.einsum("nk,nkd->nd", weights, xy_anchor[top])
    return out
