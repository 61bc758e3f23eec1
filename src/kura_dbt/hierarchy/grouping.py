"""How the levels are sized and grouped: a geometric schedule of frontier sizes, and a grouping
of the current frontier (the clusters that have no parent yet) into exactly as many groups as
the schedule asks for.

A group of two or more becomes a new parent; a group of one is not wrapped in a parent (that
would be a single-child parent): its cluster stays on the frontier as it is, and may be grouped
at a later level or stay a top-level cluster. So every level takes the frontier to exactly its
target size, and the last one to exactly ``max_top``.

The default grouping (:func:`group_members`) is built from the conversations: spherical k-means
over them with each cluster kept whole, from several starts, so that each cluster sits in the
group whose centroid (the mean direction of its conversations) is nearest to it by cosine
(:func:`refine_groups`). :func:`group_clusters` groups centroids alone (Ward, each counting
once; one of the starts, and what a labeller's ``group`` gets by default). A labeller's own
grouping (the LLM's) is brought to the exact number of groups by :func:`exact_groups` (merge
the closest groups, or split the widest).
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import AgglomerativeClustering


def level_schedule(n_base: int, max_top: int, branching: float) -> list[int]:
    """The frontier size after each level above the base, shrinking geometrically to max_top.

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


def _clamp_groups(k: int, n_groups: int) -> tuple[int, np.ndarray | None]:
    """``n_groups`` clamped to 1..k, and the grouping itself where it is trivial (every
    cluster alone, or all in one group); raises for no clusters."""
    if k < 1:
        raise ValueError("need at least one cluster to group")
    n_groups = min(max(1, int(n_groups)), k)
    if n_groups == k:
        return n_groups, np.arange(k)
    if n_groups == 1:
        return n_groups, np.zeros(k, dtype=int)
    return n_groups, None


def group_clusters(centroids: np.ndarray, n_groups: int) -> np.ndarray:
    """Put each of k centroids in one of exactly ``min(n_groups, k)`` groups (Ward, then
    :func:`refine_groups`, each centroid counting once). A group may hold a single centroid:
    the caller does not wrap it in a parent.

    Returns group indices 0..m-1, numbered by first appearance.
    """
    centroids = np.asarray(centroids, dtype=np.float64)
    n_groups, trivial = _clamp_groups(len(centroids), n_groups)
    if trivial is not None:
        return trivial
    assignment = AgglomerativeClustering(n_clusters=n_groups, linkage="ward").fit_predict(centroids)
    return refine_groups(assignment, centroids)


def group_members(sums: np.ndarray, n_groups: int, n_init: int = 8, seed: int = 0) -> np.ndarray:
    """Put each of k clusters in one of exactly ``min(n_groups, k)`` groups, judged by their
    conversations: ``sums[c]`` is the sum of cluster c's (unit) conversation embeddings.

    The grouping maximises the sum over conversations of their similarity to their group's
    centroid (spherical k-means on the conversations, each cluster kept whole): with
    ``S_g = sum of sums[c] in g`` that is ``sum_g |S_g|``. So every conversation counts, not
    every cluster once: a broad region of many loosely related clusters (writing, advice,
    role-play ...) gains more from being split than two tight, distinct clusters lose from
    sharing a parent, where grouping the clusters' centroids (each counting once) keeps the
    tight ones apart and lumps the rest into one parent that holds most conversations.

    Local search from several starts: Ward on the clusters' directions (the centroid
    grouping) and ``n_init`` seeded k-means++ starts weighted by the clusters' masses, each
    refined by :func:`refine_groups`; the best objective wins (ties: the earlier start).
    Deterministic for a given ``seed``. Returns group indices 0..m-1 by first appearance."""
    sums = np.asarray(sums, dtype=np.float64)
    n_groups, trivial = _clamp_groups(len(sums), n_groups)
    if trivial is not None:
        return trivial
    units = sums / np.maximum(np.linalg.norm(sums, axis=1), 1e-12)[:, None]
    starts = [group_clusters(units, n_groups)]
    rng = np.random.default_rng(seed)
    starts += [_seeded_start(units, sums, n_groups, rng) for _ in range(n_init)]
    best, best_score = starts[0], -np.inf
    for start in starts:
        groups = refine_groups(start, sums)
        score = _members_objective(groups, sums)
        if score > best_score + 1e-9:
            best, best_score = groups, score
    return best


def _seeded_start(
    units: np.ndarray, sums: np.ndarray, n_groups: int, rng: np.random.Generator
) -> np.ndarray:
    """A k-means++ start on the clusters' directions, each weighted by its mass (``|sum|``):
    seeds far (by cosine) from those picked, then every cluster in the group of its nearest
    seed (each seed keeping its own)."""
    mass = np.linalg.norm(sums, axis=1)
    picked = [int(rng.choice(len(units), p=mass / mass.sum()))]
    nearest = 1.0 - units @ units[picked[0]]
    while len(picked) < n_groups:
        weights = np.maximum(nearest, 0.0) * mass
        weights[picked] = 0.0
        total = weights.sum()
        free = np.setdiff1d(np.arange(len(units)), picked)
        pick = int(rng.choice(len(units), p=weights / total)) if total > 0 else int(free[0])
        picked.append(pick)
        nearest = np.minimum(nearest, 1.0 - units @ units[pick])
    groups = (units @ units[picked].T).argmax(axis=1)
    groups[picked] = np.arange(n_groups)
    return groups


def _members_objective(groups: np.ndarray, sums: np.ndarray) -> float:
    """The sum over conversations of their similarity to their group's centroid."""
    totals = np.zeros((int(groups.max()) + 1, sums.shape[1]))
    np.add.at(totals, groups, sums)
    return float(np.linalg.norm(totals, axis=1).sum())


def refine_groups(assignment: np.ndarray, vectors: np.ndarray, max_sweeps: int = 100) -> np.ndarray:
    """Move each member to the group whose direction is nearest by cosine, keeping every group
    non-empty (spherical k-means sweeps started from the given groups, so the number of groups
    never changes). A group's direction is the normalised sum of its members' ``vectors``: with
    unit centroids, every member counts once; with each cluster's sum of conversation
    embeddings, it is exactly the parent's centroid (the mean direction of its conversations).

    Ward merges whole groups, so a member can end up nearer another group than its own; after
    this, none does (a group of one is its own direction). Each sweep raises the sum over
    members of ``vector . direction``, so it stops; ``max_sweeps`` is a guard."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    units = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    a = _renumber(assignment)
    m = int(a.max()) + 1
    for _ in range(max_sweeps):
        sums = np.zeros((m, vectors.shape[1]))
        np.add.at(sums, a, vectors)
        lengths = np.linalg.norm(sums, axis=1)
        cos = units @ (sums / np.where(lengths > 0, lengths, 1.0)[:, None]).T
        counts = np.bincount(a, minlength=m)
        moved = False
        gain = cos.max(axis=1) - cos[np.arange(len(a)), a]
        for i in np.argsort(-gain, kind="stable"):  # the members that gain most move first
            best = int(np.argmax(cos[i]))
            own = int(a[i])
            if best != own and cos[i, best] > cos[i, own] + 1e-12 and counts[own] > 1:
                counts[own] -= 1
                counts[best] += 1
                a[i] = best
                moved = True
        if not moved:
            break
    return _renumber(a)


def exact_groups(assignment: np.ndarray, centroids: np.ndarray, n_groups: int) -> np.ndarray:
    """Bring any grouping (a labeller's) to exactly ``min(n_groups, k)`` groups: while there
    are too many, merge the two whose merge adds least to the within-group sum of squares
    (Ward's criterion); while there are too few, split the widest group of two or more in two
    (Ward). Groups are renumbered by first appearance."""
    centroids = np.asarray(centroids, dtype=np.float64)
    a = _renumber(assignment)
    k = len(a)
    n_groups = min(max(1, int(n_groups)), k)
    while int(a.max()) + 1 > n_groups:
        m = int(a.max()) + 1
        means = np.stack([centroids[a == g].mean(axis=0) for g in range(m)])
        sizes = np.bincount(a, minlength=m).astype(np.float64)
        cost = ((means[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
        cost *= sizes[:, None] * sizes[None, :] / (sizes[:, None] + sizes[None, :])
        cost[np.diag_indices(m)] = np.inf
        g, h = np.unravel_index(int(np.argmin(cost)), cost.shape)
        a[a == max(g, h)] = min(g, h)
        a = _renumber(a)
    while int(a.max()) + 1 < n_groups:
        m = int(a.max()) + 1
        spread = [
            (((centroids[a == g] - centroids[a == g].mean(axis=0)) ** 2).sum(), (a == g).sum())
            if (a == g).sum() >= 2
            else (-1.0, 0)
            for g in range(m)
        ]
        widest = max(range(m), key=lambda g: spread[g])
        inside = np.flatnonzero(a == widest)
        if len(inside) == 2:
            halves = np.array([0, 1])
        else:
            halves = AgglomerativeClustering(n_clusters=2, linkage="ward").fit_predict(
                centroids[inside]
            )
        a[inside[halves == 1]] = m
        a = _renumber(a)
    return a


def _renumber(assignment: np.ndarray) -> np.ndarray:
    """Groups numbered 0..m-1 by first appearance (children come ordered by size, so the groups
    of the big ones come first)."""
    remap: dict[int, int] = {}
    for g in np.asarray(assignment, dtype=int):
        remap.setdefault(int(g), len(remap))
    return np.array([remap[int(g)] for g in np.asarray(assignment, dtype=int)], dtype=int)
