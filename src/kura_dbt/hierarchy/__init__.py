"""The cluster hierarchy: base clusters -> ... -> exactly ``min(max_top, base clusters)``
top-level clusters.

The clusters that have no parent yet are the frontier (at first, every base cluster). A
geometric schedule sets the frontier's size after each level (each about ``branching`` times
smaller than the one before, ending at ``max_top``). Each level groups the frontier into
exactly that many groups: by default from their conversations (:func:`group_members`:
spherical k-means over the conversations with each cluster kept whole, so that every
conversation counts and no parent swallows a broad region of loosely related clusters; each
cluster ends in the group with the nearest mean; deterministic); a labeller with a grouping of
its own (the LLM labeller proposes and assigns categories, CLIO-style) has its groups merged or
split to the exact number. A group of two or more becomes a parent
at that level; a group of one is never wrapped in a single-child parent: its cluster stays on
the frontier. So a parent's children can come from different levels below it, and the
top-level clusters (the roots) can be at different levels, a base cluster unlike every other
one staying a root; there are always exactly ``min(max_top, base clusters)`` of them.

``grouping``: the schedule and the groupings; ``build``: building and naming the levels with a
:class:`~kura_dbt.labels.Labeller`.
"""

from __future__ import annotations

from kura_dbt.hierarchy.build import HIERARCHY_COLUMNS, build_hierarchy, cluster_id, label_cache
from kura_dbt.hierarchy.grouping import (
    exact_groups,
    group_clusters,
    group_members,
    level_schedule,
    refine_groups,
)

__all__ = [
    "HIERARCHY_COLUMNS",
    "build_hierarchy",
    "cluster_id",
    "exact_groups",
    "group_clusters",
    "group_members",
    "label_cache",
    "level_schedule",
    "refine_groups",
]
