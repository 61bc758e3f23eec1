"""Clustering of conversation embeddings.

Three scikit-learn style clusterers (parameters in ``__init__`` only, results in
trailing-underscore attributes after ``fit``), all deterministic for a given
``random_state``:

``KMeansClusterer``
    k-means (``sklearn.cluster.KMeans``).  With ``n_clusters=None`` (the default)
    the number of clusters is chosen from the data, without labels, by the
    Bayesian information criterion of a spherical Gaussian mixture (the X-means
    criterion of Pelleg & Moore, 2000) over a coarse-to-fine grid of candidate k,
    scored on a fixed-seed sample of at most ``sample_size`` points.
``MiniBatchKMeansClusterer``
    the same with ``sklearn.cluster.MiniBatchKMeans`` for large inputs.
``HDBSCANClusterer``
    density-based clustering with the ``hdbscan`` package, by default after a
    UMAP reduction to 5 dimensions (as BERTopic does).  Points in no dense
    region get label ``-1`` and are reported as unclustered; they never count
    as a cluster.

After ``fit(X)`` every clusterer has

* ``labels_``: int64 array of length n; clusters are numbered ``0..k-1`` by
  decreasing size (ties: the cluster whose first member comes first in ``X``
  gets the smaller label), ``-1`` marks noise (HDBSCAN only);
* ``n_clusters_``: k, the number of clusters, noise excluded;
* ``cluster_centers_``: float32 array ``(k, d)``, row ``i`` belongs to label
  ``i`` (the k-means centroids; the mean of the members for HDBSCAN).

The k-means clusterers also have ``k_scores_`` (``{k: score}`` for every
candidate k that was scored; empty when ``n_clusters`` was given) and
``criterion_``.

Use :func:`make_clusterer` to build one from a name and keyword parameters
(as read from configuration).

Input ``X`` is expected to be float32, L2-normalised sentence embeddings
(n x 384 for all-MiniLM-L6-v2), but any finite real matrix works.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from threadpoolctl import threadpool_limits

from kura_dbt.registry import backend_key

__all__ = [
    "CLUSTERERS",
    "HDBSCANClusterer",
    "KMeansClusterer",
    "MiniBatchKMeansClusterer",
    "make_clusterer",
    "relabel_by_size",
    "spherical_gaussian_bic",
]

_CRITERIA = ("bic", "silhouette")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


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


def spherical_gaussian_bic(X: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    """BIC (higher is better) of a hard-assignment spherical Gaussian mixture.

    The X-means criterion (Pelleg & Moore, 2000, with the per-dimension variance
    correction): every cluster is a Gaussian with its own mean, all share one
    isotropic variance ``s2 = inertia / ((n - k) d)`` and the mixing weights are
    the cluster shares.  The log-likelihood is

        sum_j n_j log(n_j / n) - n d / 2 log(2 pi s2) - (n - k) d / 2

    and the number of free parameters is ``(k - 1) + k d + 1``, so
    ``BIC = logL - p / 2 log n``.
    """
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(centers))
    counts = counts[counts > 0]
    k = counts.size
    if n <= k or d == 0:
        return -math.inf
    inertia = float(((X - np.asarray(centers, dtype=np.float64)[labels]) ** 2).sum())
    # Floor the variance so exact duplicates cannot drive the likelihood to +inf.
    s2 = max(inertia / ((n - k) * d), 1e-12)
    loglik = (
        float((counts * np.log(counts / n)).sum())
        - n * d / 2.0 * math.log(2.0 * math.pi * s2)
        - (n - k) * d / 2.0
    )
    n_params = (k - 1) + k * d + 1
    return loglik - n_params / 2.0 * math.log(n)


def _thread_limits(n_threads: int | None) -> threadpool_limits:
    """BLAS single-threaded; OpenMP limited to `n_threads` (None: all cores).

    scikit-learn's k-means parallelises with OpenMP; its k-means++ seeding and
    distance computations also call BLAS many times on small blocks.  With BLAS
    threads on top of OpenMP threads a 2-core machine is oversubscribed, and
    when other processes are busy a fit was measured 5-15x slower, so BLAS is
    pinned to one thread.
    """
    limits: dict[str, int] = {"blas": 1}
    if n_threads is not None:
        limits["openmp"] = int(n_threads)
    return threadpool_limits(limits=limits)


def _geometric_grid(lo: int, hi: int, ratio: float) -> list[int]:
    """Integers from lo to hi (both included) spaced roughly by `ratio`."""
    grid = {lo, hi}
    value = float(lo)
    while value < hi:
        grid.add(round(value))
        value = max(value * ratio, value + 1.0)
    return sorted(k for k in grid if lo <= k <= hi)


# ---------------------------------------------------------------------------
# k-means with automatic k
# ---------------------------------------------------------------------------


class _AutoKMeansBase(ClusterMixin, BaseEstimator):
    """Shared logic of the k-means clusterers (not for direct use)."""

    def _estimator(self, k: int, *, final: bool) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public API ---------------------------------------------------------

    def fit(self, X: Any, y: Any = None) -> _AutoKMeansBase:
        """Cluster X; choose k from the data when ``n_clusters`` is None."""
        self._validate_params()
        with _thread_limits(self.n_threads):
            return self._fit(X)

    def _fit(self, X: Any) -> _AutoKMeansBase:
        X = _check_X(X)
        n, d = X.shape
        self.k_scores_: dict[int, float] = {}
        self.criterion_ = self.criterion if self.n_clusters is None else "given"
        self.n_features_in_ = d

        if n == 0:
            self._set_result(np.empty(0, dtype=np.int64), np.zeros((0, d), dtype=np.float32), X)
            return self

        rng = np.random.default_rng(self.random_state)
        sample = X
        if self.sample_size is not None and n > self.sample_size:
            idx = np.sort(rng.choice(n, size=self.sample_size, replace=False))
            sample = X[idx]

        if self.n_clusters is not None:
            k = int(self.n_clusters)
            distinct = _n_distinct_rows(X, k)
            if distinct < k:
                warnings.warn(
                    f"n_clusters={k} but X has only {distinct} distinct points; "
                    f"using {distinct} clusters",
                    UserWarning,
                    stacklevel=3,
                )
                k = distinct
        else:
            k = self._select_k(sample)

        if k <= 1:
            labels = np.zeros(n, dtype=np.int64)
            centers = X.mean(axis=0, keepdims=True).astype(np.float32)
            self._set_result(labels, centers, X)
            return self

        model = self._estimator(k, final=True).fit(X)
        self._set_result(model.labels_, model.cluster_centers_, X)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Label of the nearest centre for each row of X."""
        X = _check_X(X)
        centers = self.cluster_centers_
        if X.shape[0] == 0 or centers.shape[0] == 0:
            return np.full(X.shape[0], -1 if centers.shape[0] == 0 else 0, dtype=np.int64)
        d2 = (
            (X.astype(np.float64) ** 2).sum(1)[:, None]
            - 2.0 * X.astype(np.float64) @ centers.T.astype(np.float64)
            + (centers.astype(np.float64) ** 2).sum(1)[None, :]
        )
        return d2.argmin(axis=1).astype(np.int64)

    # -- internals ----------------------------------------------------------

    def _validate_params(self) -> None:
        if self.n_clusters is not None and int(self.n_clusters) < 1:
            raise ValueError(f"n_clusters must be >= 1 or None, got {self.n_clusters}")
        if int(self.min_clusters) < 1:
            raise ValueError(f"min_clusters must be >= 1, got {self.min_clusters}")
        if self.max_clusters is not None and int(self.max_clusters) < int(self.min_clusters):
            raise ValueError(
                f"max_clusters ({self.max_clusters}) must be >= min_clusters ({self.min_clusters})"
            )
        if self.criterion not in _CRITERIA:
            raise ValueError(f"criterion must be one of {_CRITERIA}, got {self.criterion!r}")
        if self.sample_size is not None and int(self.sample_size) < 2:
            raise ValueError(f"sample_size must be >= 2 or None, got {self.sample_size}")
        if not float(self.grid_ratio) > 1.0:
            raise ValueError(f"grid_ratio must be > 1, got {self.grid_ratio}")
        if self.patience is not None and int(self.patience) < 1:
            raise ValueError(f"patience must be >= 1 or None, got {self.patience}")
        if float(self.k_tolerance) < 0.0:
            raise ValueError(f"k_tolerance must be >= 0, got {self.k_tolerance}")

    def _set_result(self, labels: np.ndarray, centers: np.ndarray, X: np.ndarray) -> None:
        new_labels, order = relabel_by_size(labels)
        self.labels_ = new_labels
        self.n_clusters_ = int(order.size)
        self.cluster_centers_ = np.ascontiguousarray(
            np.asarray(centers, dtype=np.float32)[order]
        ).reshape(order.size, X.shape[1])

    def _score(self, sample: np.ndarray, k: int) -> float:
        model = self._estimator(k, final=False).fit(sample)
        if self.criterion == "bic":
            return spherical_gaussian_bic(sample, model.labels_, model.cluster_centers_)
        labels = model.labels_
        if np.unique(labels).size < 2:
            return -1.0
        return float(silhouette_score(sample, labels, metric="euclidean"))

    def _select_k(self, sample: np.ndarray) -> int:
        """Coarse-to-fine search for the k with the best score on `sample`."""
        m = sample.shape[0]
        k_max = int(self.max_clusters) if self.max_clusters is not None else max(2, m // 10)
        # never more clusters than distinct points; BIC needs n > k
        k_max = min(k_max, _n_distinct_rows(sample, k_max), m - 1)
        k_min = min(int(self.min_clusters), k_max)
        if self.criterion == "silhouette":
            k_min = max(k_min, 2)  # silhouette is undefined for a single cluster
        if k_max <= 1:
            return max(k_max, 1)
        if k_min >= k_max:
            return k_max

        scores = self.k_scores_

        def evaluate(k: int) -> float:
            if k not in scores:
                scores[k] = self._score(sample, k)
            return scores[k]

        # 1. coarse geometric grid, ascending, stopping once the score has
        #    fallen `patience` times in a row below the best seen so far
        #    (BIC only: it rises and then falls with k; the silhouette curve
        #    has early local maxima, so with it the whole grid is scanned)
        best_k, best = None, -math.inf
        behind = 0
        early_stop = self.criterion == "bic" and self.patience is not None
        for k in _geometric_grid(k_min, k_max, self.grid_ratio):
            s = evaluate(k)
            if s > best:
                best_k, best, behind = k, s, 0
            else:
                behind += 1
                if early_stop and behind >= self.patience:
                    break

        # 2. refine: evaluate the geometric midpoints between the best k and
        #    its evaluated neighbours until they are within `k_tolerance`
        while True:
            ks = sorted(scores)
            best_k = max(ks, key=lambda k: (scores[k], -k))
            i = ks.index(best_k)
            new = []
            if i > 0:
                lo = ks[i - 1]
                if best_k / lo > 1.0 + self.k_tolerance:
                    new.append(round(math.sqrt(lo * best_k)))
            if i + 1 < len(ks):
                hi = ks[i + 1]
                if hi / best_k > 1.0 + self.k_tolerance:
                    new.append(round(math.sqrt(best_k * hi)))
            new = [k for k in new if k not in scores]
            if not new:
                break
            for k in new:
                evaluate(k)
        # best score; ties go to the smaller k
        return max(scores, key=lambda k: (scores[k], -k))


class KMeansClusterer(_AutoKMeansBase):
    """k-means; k is chosen from the data when ``n_clusters`` is None.

    Parameters
    ----------
    n_clusters:
        Fixed number of clusters, or None to choose it automatically.
    min_clusters, max_clusters:
        Range of candidate k for the automatic choice.  ``max_clusters=None``
        means ``sample size // 10`` (on average at least 10 points a cluster).
        Fewer clusters than ``min_clusters`` are returned only when X has fewer
        distinct points.
    criterion:
        ``"bic"`` (default): BIC of a spherical Gaussian mixture, see
        :func:`spherical_gaussian_bic`.  ``"silhouette"``: mean silhouette.
    sample_size:
        Candidates are scored on a fixed-seed random sample of at most this
        many points (None: all points).  This bounds the selection time and
        the resolution: k does not keep growing with n.
    grid_ratio, patience, k_tolerance:
        The coarse grid is geometric with this ratio; with BIC it stops after
        ``patience`` candidates in a row worse than the best (None: scan the
        whole grid, as is always done for silhouette); refinement stops
        when the best k's evaluated neighbours are within ``k_tolerance``
        (relative).
    n_init, max_iter:
        For the final fit on all points (candidate fits use one init and
        ``candidate_max_iter`` iterations).
    n_threads:
        OpenMP threads for k-means (None: all cores).  BLAS always runs
        single-threaded inside ``fit`` (see ``_thread_limits``).
    random_state:
        Seed for the sample and k-means initialisation.
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        min_clusters: int = 2,
        max_clusters: int | None = None,
        criterion: str = "bic",
        sample_size: int | None = 4000,
        grid_ratio: float = math.sqrt(2.0),
        patience: int | None = 2,
        k_tolerance: float = 0.05,
        n_init: int = 3,
        max_iter: int = 300,
        candidate_max_iter: int = 100,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.criterion = criterion
        self.sample_size = sample_size
        self.grid_ratio = grid_ratio
        self.patience = patience
        self.k_tolerance = k_tolerance
        self.n_init = n_init
        self.max_iter = max_iter
        self.candidate_max_iter = candidate_max_iter
        self.n_threads = n_threads
        self.random_state = random_state

    def _estimator(self, k: int, *, final: bool) -> KMeans:
        return KMeans(
            n_clusters=k,
            n_init=self.n_init if final else 1,
            max_iter=self.max_iter if final else self.candidate_max_iter,
            random_state=self.random_state,
        )


class MiniBatchKMeansClusterer(_AutoKMeansBase):
    """Mini-batch k-means (for large n); k chosen as in :class:`KMeansClusterer`.

    Candidate k are scored exactly as in :class:`KMeansClusterer` (ordinary
    k-means on the fixed-seed sample, so both choose the same k); only the final
    fit on all points uses ``sklearn.cluster.MiniBatchKMeans`` with
    ``batch_size``, ``n_init`` and ``max_iter`` (passes over the data).  The
    other parameters are those of :class:`KMeansClusterer`.
    """

    def __init__(
        self,
        n_clusters: int | None = None,
        min_clusters: int = 2,
        max_clusters: int | None = None,
        criterion: str = "bic",
        sample_size: int | None = 4000,
        grid_ratio: float = math.sqrt(2.0),
        patience: int | None = 2,
        k_tolerance: float = 0.05,
        batch_size: int = 2048,
        n_init: int = 3,
        max_iter: int = 100,
        candidate_max_iter: int = 100,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.min_clusters = min_clusters
        self.max_clusters = max_clusters
        self.criterion = criterion
        self.sample_size = sample_size
        self.grid_ratio = grid_ratio
        self.patience = patience
        self.k_tolerance = k_tolerance
        self.batch_size = batch_size
        self.n_init = n_init
        self.max_iter = max_iter
        self.candidate_max_iter = candidate_max_iter
        self.n_threads = n_threads
        self.random_state = random_state

    def _estimator(self, k: int, *, final: bool) -> KMeans | MiniBatchKMeans:
        if not final:
            # candidates are scored on the (small) sample: ordinary k-means is
            # both faster there and a better fit than mini-batches
            return KMeans(
                n_clusters=k,
                n_init=1,
                max_iter=self.candidate_max_iter,
                random_state=self.random_state,
            )
        return MiniBatchKMeans(
            n_clusters=k,
            batch_size=self.batch_size,
            n_init=self.n_init,
            max_iter=self.max_iter,
            random_state=self.random_state,
        )


# ---------------------------------------------------------------------------
# HDBSCAN
# ---------------------------------------------------------------------------


class HDBSCANClusterer(ClusterMixin, BaseEstimator):
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
    ) -> None:
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.cluster_selection_method = cluster_selection_method
        self.cluster_selection_epsilon = cluster_selection_epsilon
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> HDBSCANClusterer:
        """Cluster X; noise gets -1."""
        if int(self.min_cluster_size) < 2:
            raise ValueError(f"min_cluster_size must be >= 2, got {self.min_cluster_size}")
        if self.cluster_selection_method not in ("eom", "leaf"):
            raise ValueError(
                "cluster_selection_method must be 'eom' or 'leaf', "
                f"got {self.cluster_selection_method!r}"
            )
        X = _check_X(X)
        n, d = X.shape
        self.n_features_in_ = d
        labels = np.full(n, -1, dtype=np.int64)
        if n >= max(int(self.min_cluster_size), 2) and _n_distinct_rows(X, 2) >= 2:
            labels = self._hdbscan_labels(self._reduce(X))
        self.labels_, order = relabel_by_size(labels)
        self.n_clusters_ = int(order.size)
        self.cluster_centers_ = _member_means(X, self.labels_, self.n_clusters_)
        return self

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


# ---------------------------------------------------------------------------
# factory
# ---------------------------------------------------------------------------

CLUSTERERS: dict[str, type[BaseEstimator]] = {
    "kmeans": KMeansClusterer,
    "minibatch_kmeans": MiniBatchKMeansClusterer,
    "hdbscan": HDBSCANClusterer,
}


def make_clusterer(name: str, **params: Any) -> BaseEstimator:
    """Build a clusterer by name (``kmeans``, ``minibatch_kmeans``, ``hdbscan``).

    Raises ValueError for an unknown name and TypeError for a parameter the
    clusterer does not take (nothing is silently ignored).
    """
    key = backend_key(name)
    if key not in CLUSTERERS:
        raise ValueError(
            f"unknown clusterer {name!r}; valid names: {', '.join(sorted(CLUSTERERS))}"
        )
    cls = CLUSTERERS[key]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(
            f"{key} clusterer got unknown parameter(s) {', '.join(map(repr, unknown))}; "
            f"valid parameters: {', '.join(accepted)}"
        )
    return cls(**params)
