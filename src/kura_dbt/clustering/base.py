"""Shared parts of the clusterers: input checks, size-ordered labels, centroids."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data


def _check_X(estimator: Any, X: Any, *, reset: bool) -> np.ndarray:
    """X checked by scikit-learn (dense, finite, 2-D) as C-contiguous float32, with
    ``n_features_in_`` set (``reset``) or checked. Empty input (no rows) is accepted: an empty
    warehouse still builds."""
    shape = np.shape(X)
    if len(shape) != 2 and not (len(shape) == 1 and shape[0] == 0):
        raise ValueError(
            f"X must be a 2-D array (n_samples, n_features), got shape {shape}. Reshape your data "
            "either using array.reshape(-1, 1) for a single feature or array.reshape(1, -1) for a "
            "single sample."
        )
    if shape[0] == 0:
        arr = np.zeros((0, shape[1] if len(shape) == 2 else 0), dtype=np.float32)
        if reset:
            estimator.n_features_in_ = arr.shape[1]
        return arr
    arr = validate_data(estimator, X, reset=reset, dtype=np.float32, accept_sparse=False)
    return np.ascontiguousarray(arr)


class AssignMixin:
    """Fit and assign: after ``fit`` a clusterer has ``radii_`` (one per cluster, see
    :func:`kura_dbt.clustering.assign.cluster_radii`); ``assign(X)`` gives each row its nearest
    cluster by cosine, or -1 when it lies beyond that cluster's radius (novel).

    ``calibration_groups``: set before ``fit`` (one group per row of X, e.g. each conversation's
    user or day, :func:`kura_dbt.clustering.assign.calibration_groups`), the radii's calibration
    holds out whole groups; None (the default): random folds. Not a parameter: it describes
    the rows, not the model."""

    # set by the clusterer it is mixed into (its parameter, and ``fit``)
    radius_quantile: float
    labels_: np.ndarray
    cluster_centers_: np.ndarray
    radii_: np.ndarray
    calibration_groups: np.ndarray | None = None

    def _set_radii(self, X: np.ndarray) -> None:
        from kura_dbt.clustering.assign import cluster_radii

        if len(self.cluster_centers_) == 0:
            self.radii_ = np.zeros(0)
        else:
            self.radii_ = cluster_radii(
                X,
                self.labels_,
                self.cluster_centers_,
                self.radius_quantile,
                seed=int(getattr(self, "random_state", 0) or 0),
                groups=self._groups_of(X),
            )

    def _groups_of(self, X: np.ndarray) -> np.ndarray | None:
        groups = self.calibration_groups
        if groups is None:
            return None
        if len(groups) != len(X):
            raise ValueError(f"calibration_groups has {len(groups)} entries for {len(X)} rows of X")
        return np.asarray(groups)

    def assign(self, X: Any) -> np.ndarray:
        """The nearest cluster of each row of X, or -1 beyond its radius."""
        from kura_dbt.clustering.assign import assign_to_centroids

        check_is_fitted(self, "radii_")
        X = _check_X(self, X, reset=False)
        if len(self.cluster_centers_) == 0:
            return np.full(len(X), -1, dtype=np.int64)
        nearest, _, within = assign_to_centroids(X, self.cluster_centers_, self.radii_)
        return np.where(within, nearest, -1).astype(np.int64)


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


def cosine_distances_to_centroids(
    X: np.ndarray, labels: np.ndarray, centers: np.ndarray
) -> np.ndarray:
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
