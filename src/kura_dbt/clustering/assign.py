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

The folds are *grouped* where the build knows who and when (:func:`calibration_groups`): all of
one user's conversations in one fold, and conversations with no user by their day. A later day
is not a random sample of the same source: one user's series of near-duplicate prompts lands in
one day, and with random folds every held-out conversation still had its near-duplicates in the
other folds, so the radii were calibrated on distances a new day never shows (OpenAssistant
trees dealt to days whole: 94 % of the later days novel, SGD's files as days: 10 %, for a 5 %
target; ``benchmarks/novelty_days.py``). With groups, the leave-one-out distances leave out the
member's whole group (a cluster that is one user's series takes the floor), and there is one
fold per group, up to ``CALIBRATION_MAX_GROUP_FOLDS``, so that each fold is trained on nearly
as many users or days as the taxonomy (with 5 grouped folds the later days were over-covered:
2 % and 1 % novel; with one per group 4.4 % and 4.9 %). A group larger than a fold's share is
split at random (a user that large returns every day).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


CALIBRATION_FOLDS = 5  # random folds
# grouped folds: one group each, up to this many (a fold trained on fewer groups than the
# taxonomy has would see fewer kinds of user or day than the taxonomy does, and over-cover)
CALIBRATION_MAX_GROUP_FOLDS = 20
CALIBRATION_MAX_ROWS = 20_000  # the calibration reads a seeded sample of at most this many


def cluster_radii(
    X: np.ndarray,
    labels: np.ndarray,
    centers: np.ndarray,
    quantile: float = 0.95,
    calibrate: bool = True,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """One radius per cluster 0..k-1 (cosine distance), see the module docstring;
    ``calibrate``: scaled by :func:`calibration_scale` (folds by ``groups``, one per row)."""
    radii = _radii(X, labels, len(centers), quantile, groups)
    if calibrate:
        radii = radii * calibration_scale(
            X, labels, len(centers), quantile, seed=seed, groups=groups
        )
    return radii


def calibration_groups(
    users: Sequence[object] | None, days: Sequence[object] | None
) -> np.ndarray | None:
    """The calibration group of each conversation: its user where known, else its day (one
    group per day of the conversations with no user); None when neither is known for any
    conversation (random folds). ``users`` and ``days`` are per conversation, None or NaN
    where unknown."""
    n = len(users) if users is not None else len(days) if days is not None else 0
    users = list(users) if users is not None else [None] * n
    days = list(days) if days is not None else [None] * n
    if len(users) != n or len(days) != n:
        raise ValueError("kura: users and days must have one entry per conversation")
    keys = []
    for i, (user, day) in enumerate(zip(users, days, strict=True)):
        if not _missing(user):
            keys.append(f"user:{user}")
        elif not _missing(day):
            keys.append(f"day:{day}")
        else:
            keys.append(f"row:{i}")
    if n == 0 or all(k.startswith("row:") for k in keys):
        return None
    return np.unique(np.asarray(keys, dtype=object).astype(str), return_inverse=True)[1]


def _missing(value: object) -> bool:
    """None, NaN, NaT, NA or blank text: not known."""
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float):
        return value != value
    return isinstance(value, str) and not value.strip()


def calibration_folds(
    groups: np.ndarray | None, n: int, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """The fold (0..folds-1) of each of ``n`` rows: a seeded random permutation without
    groups; with groups, whole groups dealt largest first to the lightest fold (a group of more
    than ``n / folds`` rows first split at random into pieces of at most that many)."""
    if groups is None:
        return rng.permutation(n) % folds
    groups = np.asarray(groups)
    cap = max(1, -(-n // folds))
    pieces: list[np.ndarray] = []
    for g in rng.permutation(np.unique(groups)):
        rows = rng.permutation(np.flatnonzero(groups == g))
        pieces.extend(rows[start : start + cap] for start in range(0, len(rows), cap))
    order = sorted(range(len(pieces)), key=lambda p: -len(pieces[p]))  # stable: seeded ties
    fold = np.empty(n, dtype=np.int64)
    load = np.zeros(folds, dtype=np.int64)
    for p in order:
        lightest = int(load.argmin())
        fold[pieces[p]] = lightest
        load[lightest] += len(pieces[p])
    return fold


def calibration_scale(
    X: np.ndarray,
    labels: np.ndarray,
    k: int,
    quantile: float,
    folds: int | None = None,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> float:
    """The factor (>= 1) by which the radii must grow so that a ``quantile`` share of members,
    each measured against the centroids and radii fitted without its fold, falls within the
    radius of its nearest centroid. Folds by ``groups`` (one per row of X, see
    :func:`calibration_folds`; by default one per group, at most
    ``CALIBRATION_MAX_GROUP_FOLDS``), random without (``CALIBRATION_FOLDS``). 1.0 when there
    are too few members to tell."""
    labels = np.asarray(labels)
    if groups is not None and len(groups) != len(labels):
        raise ValueError("kura: calibration groups must have one entry per row")
    rows = np.flatnonzero(labels >= 0)
    if folds is None:
        folds = CALIBRATION_FOLDS
        if groups is not None:  # one per group, each of at least 10 members on average
            n_groups = len(np.unique(np.asarray(groups)[rows]))
            most = min(CALIBRATION_MAX_GROUP_FOLDS, len(rows) // 10)
            folds = max(CALIBRATION_FOLDS, min(n_groups, most))
    rng = np.random.default_rng(seed)
    if len(rows) > CALIBRATION_MAX_ROWS:
        rows = np.sort(rng.choice(rows, CALIBRATION_MAX_ROWS, replace=False))
    if len(rows) < 10 * folds or k < 1:
        return 1.0
    U = unit_rows(np.asarray(X)[rows])
    y = labels[rows]
    g = None if groups is None else np.asarray(groups)[rows]
    fold = calibration_folds(g, len(rows), folds, rng)
    ratios = []
    for f in range(folds):
        train, held = fold != f, fold == f
        present = np.unique(y[train])
        centroids = np.stack([U[train][y[train] == c].mean(axis=0) for c in present])
        index = np.full(k, -1)
        index[present] = np.arange(len(present))
        radii = _radii(
            U[train], index[y[train]], len(present), quantile, None if g is None else g[train]
        )
        nearest, distance, _ = assign_to_centroids(U[held], centroids)
        ratios.append(distance / np.maximum(radii[nearest], 1e-9))
    return max(1.0, float(np.quantile(np.concatenate(ratios), quantile)))


def _radii(
    X: np.ndarray,
    labels: np.ndarray,
    k: int,
    quantile: float,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    if not 0.0 < quantile <= 1.0:
        raise ValueError(
            f"kura: var kura__assign_radius_quantile must be in (0, 1], got {quantile}"
        )
    labels = np.asarray(labels)
    distances = leave_one_out_distances(X, labels, groups)
    clustered = labels >= 0
    known = clustered & ~np.isnan(distances)
    floor = float(np.median(distances[known])) if known.any() else 0.0
    radii = np.full(k, floor, dtype=np.float64)
    for label in range(k):
        member = distances[(labels == label) & ~np.isnan(distances)]
        if member.size:
            radii[label] = max(float(np.quantile(member, quantile)), floor)
    return radii


def leave_one_out_distances(
    X: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None
) -> np.ndarray:
    """Each clustered row's cosine distance to the mean direction of the other members of its
    cluster (NaN for noise and for a cluster of one). With ``groups`` (one per row), the other
    members are those of other groups: a user's series is measured against the other users
    (NaN where the cluster holds no other group)."""
    X = unit_rows(X).astype(np.float64)
    labels = np.asarray(labels)
    out = np.full(len(X), np.nan)
    for label in np.unique(labels[labels >= 0]):
        members = np.flatnonzero(labels == label)
        if groups is None:
            own, n_own = X[members], np.ones(len(members))
        else:
            own, n_own = _group_sums(X[members], np.asarray(groups)[members])
        measured = n_own < len(members)  # some other member (of another group) is left
        if not measured.any():
            continue
        others = X[members].sum(axis=0)[None, :] - own
        norms = np.linalg.norm(others, axis=1)
        similarity = np.einsum("nd,nd->n", X[members], others) / np.where(norms > 0, norms, 1.0)
        out[members[measured]] = np.clip(1.0 - similarity[measured], 0.0, 2.0)
    return out


def _group_sums(X: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the sum of the rows of its group (itself included), and their number."""
    _, group = np.unique(groups, return_inverse=True)
    sums = np.zeros((int(group.max()) + 1, X.shape[1]))
    np.add.at(sums, group, X)
    return sums[group], np.bincount(group)[group]


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
