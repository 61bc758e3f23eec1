"""How the levels are sized and grouped when no labeller groups them itself: a geometric
schedule of level sizes, and Ward agglomerative clustering of the children's centroids with
no single-child parents.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import AgglomerativeClustering


def level_schedule(n_base: int, max_top: int, branching: float) -> list[int]:
    """Target number of clusters per level above the base, shrinking geometrically to max_top.

    >>> level_schedule(60, 5, 4)
    [19, 5]
    """
    if max_top < 1:
        raise ValueError(f"max_top must be at least 1, got {max_top}")
    if branching <= 1:
        raise ValueError(f"branching must be greater than 1, got {branching}")
    if n_base <= max_top:
        return []
    n_levels = max(1, math.ceil(math.log(n_base / max_top) / math.log(branching)))
    ratio = (n_base / max_top) ** (1.0 / n_levels)
    targets, previous = [], n_base
    for i in range(1, n_levels + 1):
        target = max_top if i == n_levels else max(max_top, round(n_base / ratio**i))
        target = min(target, previous - 1)
        targets.append(target)
        previous = target
    return targets


def group_clusters(centroids: np.ndarray, n_groups: int) -> np.ndarray:
    """Assign each of k centroids to one of at most n_groups parents; no parent gets one child.

    Returns parent indices 0..m-1 (m <= n_groups), numbered by first appearance.
    """
    k = len(centroids)
    if k < 2:
        raise ValueError("need at least two clusters to group")
    n_groups = max(1, min(n_groups, k - 1))
    if n_groups == 1:
        assignment = np.zeros(k, dtype=int)
    else:
        assignment = AgglomerativeClustering(n_clusters=n_groups, linkage="ward").fit_predict(
            centroids
        )
    return fold_singletons(assignment, centroids)


def fold_singletons(assignment: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Move the only child of any group into the nearest group with at least two children, and
    renumber groups 0..m-1 by first appearance (children come ordered by size, so big parents
    come first). With fewer groups than children, at least one group has two children, so the
    result never has a parent with a single child."""
    assignment = np.asarray(assignment, dtype=int).copy()
    n_groups = int(assignment.max()) + 1
    counts = np.bincount(assignment, minlength=n_groups)
    big = [g for g in range(n_groups) if counts[g] >= 2]
    if not big:
        assignment[:] = 0
    else:
        group_centroids = np.stack([centroids[assignment == g].mean(axis=0) for g in big])
        for i in range(len(assignment)):
            if counts[assignment[i]] == 1:
                distances = np.linalg.norm(group_centroids - centroids[i], axis=1)
                assignment[i] = big[int(np.argmin(distances))]
    remap: dict[int, int] = {}
    for g in assignment:
        remap.setdefault(int(g), len(remap))
    return np.array([remap[int(g)] for g in assignment], dtype=int)
