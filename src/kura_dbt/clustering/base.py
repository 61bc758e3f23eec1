"""Shared parts of the clusterers: input checks, size-ordered labels, centroids."""

from __future__ import annotations

from typing import Any

import numpy as np



def _check_X(X: Any) -> np.ndarray:
    """Return X as a C-contiguous float32 2-D array; reject NaN/inf."""
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, 0)
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n_samples, n_features), got shape {arr.shape}")
    if arr.size and not np.isfinite(arr).all():
        raise ValueError("X contains NaN or infinite values")
    return np.ascontiguousarray(arr)


def relabel_by_size(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber cluster labels so that 0 is the largest cluster.

    Ties in size go to the cluster whose first member appears first.  Noise
    (negative labels) becomes -1.  Returns ``(new_labels, order)`` where
    ``order[i]`` is the old label that became ``i``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    new = np.full(labels.shape, -1, dtype=np.int64)
    mask = labels >= 0
    if not mask.any():
        return new, np.empty(0, dtype=np.int64)
    old_ids, first_index, sizes = np.unique(labels[mask], return_index=True, return_counts=True)
    # lexsort sorts by the last key first: size descending, then first occurrence
    order = old_ids[np.lexsort((first_index, -sizes))]
    lookup = np.full(int(old_ids.max()) + 1, -1, dtype=np.int64)
    lookup[order] = np.arange(order.size, dtype=np.int64)
    new[mask] = lookup[labels[mask]]
    return new, order


def _member_means(X: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean of the members of each cluster 0..k-1 (noise ignored), float32."""
    d = X.shape[1]
    if k == 0:
        return np.zeros((0, d), dtype=np.float32)
    mask = labels >= 0
    sums = np.zeros((k, d), dtype=np.float64)
    np.add.at(sums, labels[mask], X[mask])
    counts = np.bincount(labels[mask], minlength=k).astype(np.float64)
    return (sums / np.maximum(counts, 1.0)[:, None]).astype(np.float32)


def _n_distinct_rows(X: np.ndarray, cap: int) -> int:
    """Number of distinct rows of X, or ``cap`` if there are at least ``cap``."""
    if X.shape[0] == 0:
        return 0
    # Cheap path: if the first `cap` rows are already distinct we are done.
    head = X[: max(cap, 1)]
    n_head = np.unique(head, axis=0).shape[0]
    if n_head >= cap:
        return cap
    return min(cap, np.unique(X, axis=0).shape[0])


def cosine_distances_to_centroids(X: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Each row's cosine distance to its own cluster's (normalised) centre, in [0, 2];
    NaN for noise (label -1)."""
    X = np.asarray(X, dtype=np.float32)
    distance = np.full(len(X), np.nan)
    centers = np.asarray(centers, dtype=np.float64)
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        centre = centers[label] / (np.linalg.norm(centers[label]) or 1.0)
        distance[members] = 1.0 - X[members] @ centre
    return np.clip(distance, 0.0, 2.0)
