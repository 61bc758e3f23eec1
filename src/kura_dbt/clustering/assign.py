"""Assignment to an existing taxonomy: nearest centroid by cosine, within that cluster's radius.

A cluster's *radius* is how far its members lie from its centroid at discovery: the
``quantile`` of their cosine distances, floored at the median distance of all members so that
a tight or tiny cluster does not reject everything new. Each member's distance is measured to
the centroid of the *other* members (leave-one-out): a centroid is pulled towards the points
it was fitted on, and in a few hundred dimensions distances concentrate so much that this pull
alone would put most new conversations of the same kind beyond the radius. A conversation
farther from its nearest centroid than that centroid's radius is *novel*: it is recorded with
its nearest cluster and distance, never forced in.

Leave-one-out alone still under-covers: a cluster's quantile is read from a few dozen members,
and its centroid is fitted on all of them together. Measured on the demo's requests (random
450/50 splits), 12 % of new conversations of the same kind fell beyond a 0.95 radius. So the
radii are *calibrated by cross-fitting*: the members are split into folds; each fold's members
are measured against the centroids and radii of the other folds' members, and every radius is
scaled by the ``quantile`` of those held-out distance / radius ratios (never shrunk). On the same
splits 7 % are then novel, for a 5 % target (``benchmarks/offline_choices.py radii``).
"""

from __future__ import annotations

import numpy as np


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


CALIBRATION_FOLDS = 5
CALIBRATION_MAX_ROWS = 20_000  # the calibration reads a seeded sample of at most this many


def cluster_radii(
    X: np.ndarray,
    labels: np.ndarray,
    centers: np.ndarray,
    quantile: float = 0.95,
    calibrate: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """One radius per cluster 0..k-1 (cosine distance), see the module docstring;
    ``calibrate``: scaled by :func:`calibration_scale`."""
    radii = _radii(X, labels, len(centers), quantile)
    if calibrate:
        radii = radii * calibration_scale(X, labels, len(centers), quantile, seed=seed)
    return radii


def calibration_scale(
    X: np.ndarray,
    labels: np.ndarray,
    k: int,
    quantile: float,
    folds: int = CALIBRATION_FOLDS,
    seed: int = 0,
) -> float:
    """The factor (>= 1) by which the radii must grow so that a ``quantile`` share of members,
    each measured against the centroids and radii fitted without its fold, falls within the
    radius of its nearest centroid. 1.0 when there are too few members to tell."""
    labels = np.asarray(labels)
    rows = np.flatnonzero(labels >= 0)
    rng = np.random.default_rng(seed)
    if len(rows) > CALIBRATION_MAX_ROWS:
        rows = np.sort(rng.choice(rows, CALIBRATION_MAX_ROWS, replace=False))
    if len(rows) < 10 * folds or k < 1:
        return 1.0
    U = unit_rows(np.asarray(X)[rows])
    y = labels[rows]
    fold = rng.permutation(len(rows)) % folds
    ratios = []
    for f in range(folds):
        train, held = fold != f, fold == f
        present = np.unique(y[train])
        centroids = np.stack([U[train][y[train] == c].mean(axis=0) for c in present])
        index = np.full(k, -1)
        index[present] = np.arange(len(present))
        radii = _radii(U[train], index[y[train]], len(present), quantile)
        nearest, distance, _ = assign_to_centroids(U[held], centroids)
        ratios.append(distance / np.maximum(radii[nearest], 1e-9))
    return max(1.0, float(np.quantile(np.concatenate(ratios), quantile)))


def _radii(X: np.ndarray, labels: np.ndarray, k: int, quantile: float) -> np.ndarray:
    if not 0.0 < quantile <= 1.0:
        raise ValueError(
            f"kura: var kura__assign_radius_quantile must be in (0, 1], got {quantile}"
        )
    labels = np.asarray(labels)
    distances = leave_one_out_distances(X, labels)
    clustered = labels >= 0
    known = clustered & ~np.isnan(distances)
    floor = float(np.median(distances[known])) if known.any() else 0.0
    radii = np.full(k, floor, dtype=np.float64)
    for label in range(k):
        member = distances[(labels == label) & ~np.isnan(distances)]
        if member.size:
            radii[label] = max(float(np.quantile(member, quantile)), floor)
    return radii


def leave_one_out_distances(X: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each clustered row's cosine distance to the mean direction of the other members of its
    cluster (NaN for noise and for a cluster of one)."""
    X = unit_rows(X).astype(np.float64)
    labels = np.asarray(labels)
    out = np.full(len(X), np.nan)
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue
        others = X[members].sum(axis=0)[None, :] - X[members]
        norms = np.linalg.norm(others, axis=1)
        similarity = np.einsum("nd,nd->n", X[members], others) / np.where(norms > 0, norms, 1.0)
        out[members] = np.clip(1.0 - similarity, 0.0, 2.0)
    return out


def assign_to_centroids(
    X: np.ndarray, centroids: np.ndarray, radii: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row: the index of its nearest centroid (cosine), the distance to it, and
    whether it lies within that centroid's radius (always True without radii)."""
    X = unit_rows(X)
    n = len(X)
    if n == 0 or len(centroids) == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, np.nan), np.zeros(n, dtype=bool)
    similarity = X @ unit_rows(centroids).T
    nearest = similarity.argmax(axis=1).astype(np.int64)
    distance = np.clip(1.0 - similarity[np.arange(n), nearest].astype(np.float64), 0.0, 2.0)
    within = (
        np.ones(n, dtype=bool) if radii is None else distance <= np.asarray(radii)[nearest] + 1e-9
    )
    return nearest, distance, within
