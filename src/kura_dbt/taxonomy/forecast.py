"""What ``kura estimate`` can tell of the next build's taxonomy before the build runs: whether
``int_kura__cluster_state`` will re-discover, and at most how many clusters a re-discovery
names (each cluster's name, description and keywords are new texts for the privacy auditor).

The decision is the build's own (:func:`kura_dbt.taxonomy.policy.decide`), asked twice: once
as if none of the conversations the build summarises were novel and the taxonomy had not
grown, once as if all of them were novel and every new conversation counted as growth. Both
re-discover: ``yes``; neither: ``no``; else ``possible`` (drift and growth depend on the new
conversations' embeddings, which the build has not made yet). Not foreseen: a change of
embedding model (a re-embedding), which re-discovers too.

How many clusters a re-discovery makes is not known before it fits; the bound follows the
clusterer's own limits: ``kura__n_base_clusters`` when set; automatic k-means at most
``max(2, conversations // 10)`` base clusters (:meth:`kura_dbt.clustering.kmeans.
KMeansClusterer._k_range`); HDBSCAN at most ``conversations // kura__hdbscan_min_cluster_size``;
and the levels above them at most :func:`kura_dbt.hierarchy.grouping.level_schedule`'s sizes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from kura_dbt.settings import Settings
from kura_dbt.taxonomy.policy import Figures, clustering_settings_key, decide

__all__ = ["Forecast", "base_clusters_at_most", "clusters_at_most", "forecast"]


@dataclass(frozen=True)
class Forecast:
    rediscover: str  # yes, no or possible
    reason: str
    clusters_at_most: int  # of the re-discovery (0 when there is none)
    base_at_most: int = 0  # its base clusters (the labeller's bound, kura_dbt.labels.estimate)


def _int(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def forecast(
    settings: Settings,
    last: Mapping[str, Any] | None,
    has_taxonomy: bool,
    summarised: int,
    added: int,
) -> Forecast:
    """The next build's re-discovery: ``last`` is the state's last run row (None before the
    first build of ``int_kura__cluster_state``), ``has_taxonomy`` whether it holds current
    clusters, ``summarised`` the conversations the build summarises (new or changed: each is
    embedded and assigned again) and ``added`` those of them that are new."""
    if settings.pinned_taxonomy:
        return Forecast("no", "kura__pinned_taxonomy: the pinned categories are shown", 0)
    last = last or {}
    before = _int(last.get("conversations"))
    model = last.get("embedding_model") if isinstance(last.get("embedding_model"), str) else None
    previous_key = last.get("settings_key")

    def decision(novel: int, grown: int) -> Any:
        figures = Figures(
            has_taxonomy=has_taxonomy,
            conversations=before + grown,
            new=summarised,
            novel=novel,
            conversations_at_discovery=_int(last.get("conversations_at_discovery")),
            new_since_discovery=_int(last.get("new_since_discovery")),
            novel_since_discovery=_int(last.get("novel_since_discovery")),
            embedding_model=model,
            previous_embedding_model=model,
            settings_key=clustering_settings_key(settings),
            previous_settings_key=previous_key if isinstance(previous_key, str) else None,
        )
        return decide(settings, figures)

    after = before + added
    least, most = decision(0, 0), decision(summarised, added)
    if after == 0 or not most.discover:
        reason = "no conversations to cluster yet" if after == 0 else most.reason
        return Forecast("no", reason, 0)
    bound, base = clusters_at_most(settings, after), base_clusters_at_most(settings, after)
    if least.discover:
        return Forecast("yes", least.reason, bound, base)
    reason = f"{most.reason}, if the new conversations are novel"
    return Forecast("possible", reason, bound, base)


def clusters_at_most(settings: Settings, conversations: int) -> int:
    """The most clusters, every level, that a discovery over ``conversations`` names."""
    from kura_dbt.hierarchy.grouping import level_schedule

    if conversations <= 0:
        return 0
    base = base_clusters_at_most(settings, conversations)
    levels = level_schedule(base, settings.max_top_clusters, settings.hierarchy_branching)
    return base + sum(levels)


def base_clusters_at_most(settings: Settings, conversations: int) -> int:
    """The most base clusters a discovery over ``conversations`` makes (the clusterer's own
    limits)."""
    from kura_dbt.clustering import CLUSTERERS

    if conversations <= 0:
        return 0
    if CLUSTERERS.key(settings.clusterer) == "hdbscan":
        base = conversations // settings.hdbscan_min_cluster_size
    elif settings.n_base_clusters is not None:
        base = settings.n_base_clusters
    else:
        base = max(2, conversations // 10)
    return max(1, min(base, conversations))
