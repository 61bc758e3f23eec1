"""k-means clusterers with the number of clusters chosen from the data (BIC, X-means)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from kura_dbt.clustering.base import AssignMixin, _check_X, _n_distinct_rows, relabel_by_size

_CRITERIA = ("bic", "silhouette", "loo_silhouette")


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


def loo_silhouette(X: np.ndarray, labels: np.ndarray, centers: np.ndarray) -> float:
    """Mean simplified silhouette (Hruschka et al., 2004: distances to centroids instead of to
    every member) with each point left out of its own cluster's centroid.

    For point i of a cluster of m members with centroid c, ``a_i`` is its distance to the
    centroid of the other m - 1 members, ``|x_i - c| m / (m - 1)``, ``b_i`` its distance to the
    nearest other centroid, and ``s_i = (b_i - a_i) / max(a_i, b_i)`` (0 for a singleton, as
    in the silhouette). Left out, a point does not pull its own centroid towards itself, so
    splitting a group into ever smaller clusters is not rewarded as the in-sample silhouette
    rewards it (that one keeps rising with k on sentence embeddings). Higher is better.
    """
    X = np.asarray(X, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    labels = np.asarray(labels)
    k = len(centers)
    sizes = np.bincount(labels, minlength=k).astype(np.float64)[labels]
    d2 = (X**2).sum(1)[:, None] - 2.0 * X @ centers.T + (centers**2).sum(1)[None, :]
    d2 = np.maximum(d2, 0.0)
    rows = np.arange(len(X))
    own = np.sqrt(d2[rows, labels]) * sizes / np.maximum(sizes - 1.0, 1.0)
    d2[rows, labels] = np.inf
    other = np.sqrt(d2.min(axis=1)) if k > 1 else np.full(len(X), np.inf)
    spread = np.maximum(own, other)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where((sizes > 1) & (spread > 0) & np.isfinite(other), (other - own) / spread, 0.0)
    return float(s.mean())


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


class _AutoKMeansBase(AssignMixin, ClusterMixin, BaseEstimator):
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
        X = _check_X(self, X, reset=True)
        n, d = X.shape
        self.k_scores_: dict[int, float] = {}
        self.criterion_ = self.criterion if self.n_clusters is None else "given"
        self.n_iter_ = 0

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
            self._say(f"choosing the number of clusters on {len(sample)} of {n} conversations")
            k = self._select_k(sample, n)

        if k <= 1:
            labels = np.zeros(n, dtype=np.int64)
            centers = X.mean(axis=0, keepdims=True).astype(np.float32)
            self._set_result(labels, centers, X)
            return self

        self._say(f"fitting {k} clusters on {n} conversations")
        model = self._estimator(k, final=True)
        if self.init_centers is not None:
            model.set_params(init=self._warm_start(X, k, rng), n_init=1)
        model.fit(X)
        self.n_iter_ = int(model.n_iter_)
        self._set_result(model.labels_, model.cluster_centers_, X)
        return self

    def _warm_start(self, X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """Initial centres from ``init_centers`` (a previous discovery's centroids), so that a
        re-discovery converges near the clusters that still hold. With fewer clusters than
        before, centres that no row is nearest to are dropped and the closest pairs merged
        (Ward's criterion, weighted by the rows nearest to each); with more, the new
        ones are drawn k-means++ style (by squared distance to the nearest centre) from X, so
        they land where the old centres explain the data worst (novel conversations)."""
        old = np.asarray(self.init_centers, dtype=np.float64)
        if old.ndim != 2 or old.shape[1] != X.shape[1]:
            raise ValueError(f"init_centers must have shape (k, {X.shape[1]}), got {old.shape}")
        Xd = X.astype(np.float64)
        d2: np.ndarray | None = None
        if len(old):
            d2 = (Xd**2).sum(1)[:, None] - 2.0 * Xd @ old.T + (old**2).sum(1)[None, :]
            d2 = np.maximum(d2, 0.0)
        if len(old) >= k:
            assert d2 is not None  # k >= 1, so old has rows
            counts = np.bincount(d2.argmin(axis=1), minlength=len(old)).astype(np.float64)
            centres, weights = old[counts > 0], counts[counts > 0]  # nothing near: dropped
            while len(centres) > k:  # merge the pair a merge costs least (Ward's criterion)
                gaps = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
                cost = weights[:, None] * weights[None, :] / (weights[:, None] + weights[None, :])
                cost = np.where(np.eye(len(centres), dtype=bool), np.inf, cost * gaps)
                i, j = sorted(np.unravel_index(np.argmin(cost), cost.shape))
                merged = (weights[i] * centres[i] + weights[j] * centres[j]) / (
                    weights[i] + weights[j]
                )
                centres = np.vstack(
                    [
                        np.delete(centres, [i, j], axis=0)[:i],
                        merged,
                        np.delete(centres, [i, j], axis=0)[i:],
                    ]
                )
                weights = np.concatenate(
                    [
                        np.delete(weights, [i, j])[:i],
                        [weights[i] + weights[j]],
                        np.delete(weights, [i, j])[i:],
                    ]
                )
            if len(centres) == k:
                return centres
            old = centres  # fewer held than k: add new ones below
            d2 = (Xd**2).sum(1)[:, None] - 2.0 * Xd @ old.T + (old**2).sum(1)[None, :]
            d2 = np.maximum(d2, 0.0)
        picked = list(old)
        nearest = d2.min(axis=1) if d2 is not None else np.full(len(Xd), np.inf)
        while len(picked) < k:
            weights = np.where(np.isfinite(nearest), nearest, 1.0)
            total = weights.sum()
            pick = (
                int(rng.choice(len(Xd), p=weights / total))
                if total > 0
                else int(rng.integers(len(Xd)))
            )
            picked.append(Xd[pick])
            nearest = np.minimum(nearest, ((Xd - Xd[pick]) ** 2).sum(axis=1))
        return np.asarray(picked)

    def predict(self, X: Any) -> np.ndarray:
        """Label of the nearest centre for each row of X (always one: see ``assign`` for the
        taxonomy's rule, which leaves rows beyond every radius out)."""
        check_is_fitted(self, "cluster_centers_")
        X = _check_X(self, X, reset=False)
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
        if self.target_cluster_size is not None and int(self.target_cluster_size) < 1:
            raise ValueError(
                f"target_cluster_size must be >= 1 or None, got {self.target_cluster_size}"
            )
        if float(self.k_tolerance) < 0.0:
            raise ValueError(f"k_tolerance must be >= 0, got {self.k_tolerance}")

    def _set_result(self, labels: np.ndarray, centers: np.ndarray, X: np.ndarray) -> None:
        new_labels, order = relabel_by_size(labels)
        self.labels_ = new_labels
        self.n_clusters_ = int(order.size)
        self.cluster_centers_ = np.ascontiguousarray(
            np.asarray(centers, dtype=np.float32)[order]
        ).reshape(order.size, X.shape[1])
        if self.n_clusters_:
            self._say(f"calibrating the novelty radii of {self.n_clusters_} clusters")
        self._set_radii(X)

    def _score(self, sample: np.ndarray, k: int) -> float:
        model = self._estimator(k, final=False).fit(sample)
        if self.criterion == "bic":
            return spherical_gaussian_bic(sample, model.labels_, model.cluster_centers_)
        if self.criterion == "loo_silhouette":
            return loo_silhouette(sample, model.labels_, model.cluster_centers_)
        labels = model.labels_
        if np.unique(labels).size < 2:
            return -1.0
        return float(silhouette_score(sample, labels, metric="euclidean"))

    def _select_k(self, sample: np.ndarray, n: int | None = None) -> int:
        """Coarse-to-fine search for the k with the best score on `sample` (of `n` rows), from
        at least ``n / target_cluster_size`` clusters."""
        k_min, k_max = self._k_range(sample, n)
        if k_max <= 1:
            return max(k_max, 1)
        if k_min >= k_max:
            return k_max
        self._coarse_scan(sample, k_min, k_max)
        # 2. refine: evaluate the geometric midpoints between the best k and
        #    its evaluated neighbours until they are within `k_tolerance`
        while new := _midpoints(self.k_scores_, self.k_tolerance):
            for k in new:
                self._evaluate(sample, k)
        # best score; ties go to the smaller k
        best_k = _best_k(self.k_scores_)
        if self.init_centers is None:
            return best_k
        return self._keep_previous_k(sample, best_k, k_min, k_max)

    def _k_range(self, sample: np.ndarray, n: int | None) -> tuple[int, int]:
        """The smallest and largest k to try on `sample` (of `n` rows)."""
        m = sample.shape[0]
        n = m if n is None else int(n)
        k_max = int(self.max_clusters) if self.max_clusters is not None else max(2, m // 10)
        # never more clusters than distinct points; BIC needs n > k
        k_max = min(k_max, _n_distinct_rows(sample, k_max), m - 1)
        k_min = int(self.min_clusters)
        if self.target_cluster_size is not None:
            k_min = max(k_min, math.ceil(n / int(self.target_cluster_size)))
        k_min = min(k_min, k_max)
        if self.criterion != "bic":
            k_min = max(k_min, 2)  # silhouette is undefined for a single cluster
        return k_min, k_max

    def _evaluate(self, sample: np.ndarray, k: int) -> float:
        """The score of k, computed once (``k_scores_``)."""
        if k not in self.k_scores_:
            self.k_scores_[k] = self._score(sample, k)
            self._say(f"scored k = {k} ({len(self.k_scores_)} candidates so far)", step=True)
        return self.k_scores_[k]

    def _say(self, message: str, step: bool = False) -> None:
        """Tell ``progress`` (when set) what the fit is doing; ``step``: one of many alike."""
        if self.progress is not None:
            self.progress(message, step)

    def _coarse_scan(self, sample: np.ndarray, k_min: int, k_max: int) -> None:
        """1. A coarse geometric grid, ascending, stopping once the score has fallen `patience`
        times in a row below the best seen so far (BIC only: it rises and then falls with k;
        the silhouette curve has early local maxima, so with it the whole grid is scanned)."""
        best = -math.inf
        behind = 0
        early_stop = self.criterion == "bic" and self.patience is not None
        for k in _geometric_grid(k_min, k_max, self.grid_ratio):
            s = self._evaluate(sample, k)
            if s > best:
                best, behind = s, 0
            else:
                behind += 1
                if early_stop and behind >= self.patience:
                    break

    def _keep_previous_k(self, sample: np.ndarray, best_k: int, k_min: int, k_max: int) -> int:
        """A re-discovery keeps the previous number of clusters while the criterion cannot tell
        it from the best: near its optimum the curve is flat and noisy (one k-means start per
        candidate), so a different k there would only reshuffle clusters that still hold."""
        k_prev = len(self.init_centers)
        if not k_min <= k_prev <= k_max:
            return best_k
        scores = self.k_scores_
        previous = self._evaluate(sample, k_prev)
        spread = scores[best_k] - min(scores.values())
        return k_prev if scores[best_k] - previous <= self.keep_k_tolerance * spread else best_k


def _best_k(scores: dict[int, float]) -> int:
    """The k of the best score; ties go to the smaller k."""
    return max(scores, key=lambda k: (scores[k], -k))


def _midpoints(scores: dict[int, float], tolerance: float) -> list[int]:
    """The geometric midpoints, not yet scored, between the best k and its scored neighbours
    that are more than ``tolerance`` (relative) away from it."""
    ks = sorted(scores)
    best_k = _best_k(scores)
    i = ks.index(best_k)
    new = []
    if i > 0:
        lo = ks[i - 1]
        if best_k / lo > 1.0 + tolerance:
            new.append(round(math.sqrt(lo * best_k)))
    if i + 1 < len(ks):
        hi = ks[i + 1]
        if hi / best_k > 1.0 + tolerance:
            new.append(round(math.sqrt(best_k * hi)))
    return [k for k in new if k not in scores]


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
    radius_quantile:
        ``radii_``: this quantile of the members' leave-one-out cosine distances
        (see :mod:`kura_dbt.clustering.assign`).
    init_centers:
        A previous discovery's centroids (k0 x d) to start from instead of
        k-means++, so that a re-discovery keeps the clusters that still hold
        (see ``_warm_start``). k is still chosen as above, but k0 is kept when
        its score is within ``keep_k_tolerance`` of the best, as a share of the
        scores' range (the criterion's noise near its optimum).
    target_cluster_size:
        With automatic k, at least ``ceil(n / target_cluster_size)`` clusters (at most
        ``max_clusters``): the criterion may choose more, never fewer. The BIC of one shared
        isotropic variance in 384 dimensions prefers a handful of clusters on topically diverse
        text (real chat logs: 3 for 350 OpenAssistant prompts), where an analyst needs groups
        of a few dozen conversations; on data with clear groups (intents) it chooses more than
        this floor, and the floor changes nothing. None: the criterion alone.
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
        radius_quantile: float = 0.95,
        init_centers: Any = None,
        keep_k_tolerance: float = 0.01,
        target_cluster_size: int | None = None,
        progress: Callable[[str, bool], None] | None = None,
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
        self.radius_quantile = radius_quantile
        self.init_centers = init_centers
        self.keep_k_tolerance = keep_k_tolerance
        self.target_cluster_size = target_cluster_size
        self.progress = progress

    def _estimator(self, k: int, *, final: bool) -> KMeans:
        return KMeans(
            n_clusters=k,
            n_init=self.n_init if final else 1,
            max_iter=self.max_iter if final else self.candidate_max_iter,
            random_state=self.random_state,
        )


class MiniBatchKMeansClusterer(KMeansClusterer):
    """Mini-batch k-means (for large n); k chosen as in :class:`KMeansClusterer`, with the same
    parameters.

    Candidate k are scored exactly as in :class:`KMeansClusterer` (ordinary
    k-means on the fixed-seed sample, so both choose the same k); only the final
    fit on all points uses ``sklearn.cluster.MiniBatchKMeans`` with batches of
    ``batch_size`` rows, ``n_init`` starts and at most ``max_iter`` passes over the data
    (it stops earlier once the fit no longer improves).
    """

    batch_size = 2048

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
