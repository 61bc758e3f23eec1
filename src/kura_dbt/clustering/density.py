"""HDBSCAN on a UMAP reduction; points in no dense region are noise (-1)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from kura_dbt.clustering.base import (
    AssignMixin,
    _check_X,
    _member_means,
    _n_distinct_rows,
    relabel_by_size,
)


class HDBSCANClusterer(AssignMixin, ClusterMixin, BaseEstimator):
    """HDBSCAN (``hdbscan`` package), by default on a 5-d UMAP reduction.

    Raw 384-d sentence embeddings are too high-dimensional for density
    estimation (on banking77 HDBSCAN on raw vectors leaves about half the
    points as noise and takes ~1 min for 10,000 points); reducing to a few
    dimensions with UMAP first, as BERTopic does, is both faster and better.
    Set ``n_components=None`` to cluster X as given.

    Parameters
    ----------
    min_cluster_size, min_samples, cluster_selection_method, cluster_selection_epsilon:
        Passed to ``hdbscan.HDBSCAN`` (``min_samples=None`` means
        ``min_cluster_size``).
    n_components, n_neighbors:
        UMAP target dimension (None: no reduction) and neighbourhood size;
        UMAP uses the cosine metric and ``min_dist=0``.
    random_state:
        Seed for UMAP (HDBSCAN itself is deterministic).

    Noise points get label ``-1``; they are not a cluster.  Inputs with fewer
    than ``min_cluster_size`` points are all noise.
    """

    def __init__(
        self,
        min_cluster_size: int = 10,
        min_samples: int | None = None,
        cluster_selection_method: str = "eom",
        cluster_selection_epsilon: float = 0.0,
        n_components: int | None = 5,
        n_neighbors: int = 15,
        random_state: int = 0,
        radius_quantile: float = 0.95,
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.random_state = random_state
        self.radius_quantile = radius_quantile

    def fit(self, X: Any, y: Any = None) -> HDBSCANClusterer:
        """Cluster X; noise gets -1."""
        if int(self.min_cluster_size) < 2:
            raise ValueError(f"min_cluster_size must be >= 2, got {self.min_cluster_size}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError(
                "cluster_selection_method must be 'eom' or 'leaf', "
                f"got {self.cluster_selection_method!r}"
            )
        X = _check_X(self, X, reset=True)
        n = X.shape[0]
        labels = np.full(n, -1, dtype=np.int64)
        if n >= max(int(self.min_cluster_size), 2) and _n_distinct_rows(X, 2) >= 2:
            labels = self._hdbscan_labels(self._reduce(X))
        self.labels_, order = relabel_by_size(labels)
        self.n_clusters_ = int(order.size)
        self.cluster_centers_ = _member_means(X, self.labels_, self.n_clusters_)
        self._set_radii(X)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The nearest cluster (cosine to the members' mean) of each row of X; -1 when there is
        no cluster. HDBSCAN's own model is not kept: a taxonomy stores centroids, not objects."""
        from kura_dbt.clustering.assign import assign_to_centroids

        check_is_fitted(self, "cluster_centers_")
        X = _check_X(self, X, reset=False)
        if len(self.cluster_centers_) == 0:
            return np.full(len(X), -1, dtype=np.int64)
        return assign_to_centroids(X, self.cluster_centers_)[0]

    def _reduce(self, X: np.ndarray) -> np.ndarray:
        n, d = X.shape
        if self.n_components is None or int(self.n_components) >= d:
            return X
        # spectral initialisation needs more points than dimensions + 1
        if n <= int(self.n_components) + 2:
            return X
        try:
            import umap
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "HDBSCANClusterer with n_components set needs umap-learn "
                "(pip install 'kura-dbt[local]'), or pass n_components=None"
            ) from exc
        with warnings.catch_warnings():
            # umap warns that a fixed random_state disables parallelism
            warnings.filterwarnings("ignore", message=".*n_jobs.*", category=UserWarning)
            reducer = umap.UMAP(
                n_components=int(self.n_components),
                n_neighbors=max(2, min(int(self.n_neighbors), n - 1)),
                min_dist=0.0,
                metric="cosine",
                random_state=self.random_state,
                init="spectral" if n > 100 else "random",
            )
            return np.asarray(reducer.fit_transform(X), dtype=np.float64)

    def _hdbscan_labels(self, Z: np.ndarray) -> np.ndarray:
        import hdbscan

        n = Z.shape[0]
        min_samples = self.min_samples
        if min_samples is not None:
            min_samples = max(1, min(int(min_samples), n - 1))
        model = hdbscan.HDBSCAN(
            min_cluster_size=int(self.min_cluster_size),
            min_samples=min_samples,
            cluster_selection_method=self.cluster_selection_method,
            cluster_selection_epsilon=float(self.cluster_selection_epsilon),
            metric="euclidean",
        )
        return np.asarray(model.fit(np.asarray(Z, dtype=np.float64)).labels_, dtype=np.int64)
