"""Clustering of conversation embeddings.

Three scikit-learn style clusterers (parameters in ``__init__`` only, results in
trailing-underscore attributes after ``fit``), all deterministic for a given
``random_state``:

``KMeansClusterer``
    k-means (``sklearn.cluster.KMeans``).  With ``n_clusters=None`` (the default)
    the number of clusters is chosen from the data, without labels, by the
    Bayesian information criterion of a spherical Gaussian mixture (the X-means
    criterion of Pelleg & Moore, 2000; var ``kura__k_criterion`` ``bic``, the default) or
    the left-out simplified silhouette (``loo_silhouette``) over a coarse-to-fine grid of
    candidate k, scored on a fixed-seed sample of at most ``sample_size`` points.
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
(on the one registry, :data:`CLUSTERERS`, that the dbt models build from).

Input ``X`` is expected to be float32, L2-normalised sentence embeddings
(n x 384 for all-MiniLM-L6-v2), but any finite real matrix works.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from kura_dbt.clustering.base import relabel_by_size
from kura_dbt.clustering.density import HDBSCANClusterer
from kura_dbt.clustering.kmeans import (
    KMeansClusterer,
    MiniBatchKMeansClusterer,
    loo_silhouette,
    spherical_gaussian_bic,
)
from kura_dbt.registry import Registry
from kura_dbt.settings import Settings

__all__ = [
    "CLUSTERERS",
    "HDBSCANClusterer",
    "KMeansClusterer",
    "MiniBatchKMeansClusterer",
    "loo_silhouette",
    "make_clusterer",
    "relabel_by_size",
    "spherical_gaussian_bic",
]

# the backends by var ``kura__clusterer``, built from the run's settings
CLUSTERERS: Registry[BaseEstimator] = Registry("clusterer")


def _kmeans_from(cls: type[BaseEstimator]):
    def build(settings: Settings) -> BaseEstimator:
        return cls(
            n_clusters=settings.n_base_clusters,
            criterion=settings.k_criterion,
            target_cluster_size=settings.target_cluster_size,
            random_state=settings.seed,
            radius_quantile=settings.assign_radius_quantile,
        )

    return build


CLUSTERERS.register("kmeans")(_kmeans_from(KMeansClusterer))
CLUSTERERS.register("minibatch_kmeans")(_kmeans_from(MiniBatchKMeansClusterer))


@CLUSTERERS.register("hdbscan")
def _hdbscan(settings: Settings) -> BaseEstimator:
    return HDBSCANClusterer(
        min_cluster_size=settings.hdbscan_min_cluster_size,
        random_state=settings.seed,
        radius_quantile=settings.assign_radius_quantile,
    )


def make_clusterer(name: str, **params: Any) -> BaseEstimator:
    """The clusterer ``name`` (``kmeans``, ``minibatch_kmeans``, ``hdbscan``) as
    :data:`CLUSTERERS` builds it from the default settings, with ``params`` set on it (the dbt
    models use ``CLUSTERERS.build(name, settings)``).

    Raises ValueError for an unknown name and TypeError for a parameter the
    clusterer does not take (nothing is silently ignored).
    """
    clusterer = CLUSTERERS.build(name, Settings())
    accepted = list(clusterer.get_params(deep=False))
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise TypeError(
            f"{CLUSTERERS.key(name)} clusterer got unknown parameter(s) "
            f"{', '.join(map(repr, unknown))}; valid parameters: {', '.join(accepted)}"
        )
    return clusterer.set_params(**params)
