"""The cluster hierarchy: base clusters -> ... -> at most ``max_top`` top-level clusters.

Level sizes follow a geometric schedule (each level about ``branching`` times smaller than the
one below, ending at ``max_top``). Each level groups the clusters below it with the labeller's
``group`` (by default Ward agglomerative clustering of their centroids, deterministic; the LLM
labeller proposes and assigns categories, CLIO-style). A group with a single child is never
emitted: its child joins the nearest group with at least two children. Every level is therefore
at most half the size of the one below, so the loop always terminates.

``grouping``: the schedule and the deterministic grouping; ``build``: building and naming the
levels with a :class:`~kura_dbt.labels.Labeller`.
"""

from __future__ import annotations

from kura_dbt.hierarchy.build import HIERARCHY_COLUMNS, build_hierarchy, cluster_id, label_cache
from kura_dbt.hierarchy.grouping import fold_singletons, group_clusters, level_schedule

__all__ = [
    "HIERARCHY_COLUMNS",
    "build_hierarchy",
    "cluster_id",
    "fold_singletons",
    "group_clusters",
    "label_cache",
    "level_schedule",
]
