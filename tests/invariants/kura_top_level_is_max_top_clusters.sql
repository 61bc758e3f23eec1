-- Exactly least(var('kura__max_top_clusters'), number of base clusters) top-level clusters
-- (clusters with no parent), never fewer: a cluster the grouping leaves alone stays a top-level
-- cluster of its own instead of being folded into a group it does not resemble, so the
-- top-level clusters may be at different levels (a base cluster can be one). Every child is
-- below its parent: a parent's level is the step of the hierarchy that made it, and a child
-- left alone at a step sits more than one level below its parent.
-- (A changed var applies at the next discovery: it re-discovers, unless kura__rediscover is
-- never.)
with counts as (
    select
        count(case when parent_id is null then 1 end) as top_clusters,
        count(case when level = 0 then 1 end) as base_clusters
    from {{ ref('kura__cluster_hierarchy') }}
),

bad_edges as (
    select count(*) as bad
    from {{ ref('kura__cluster_hierarchy') }} as child
    inner join {{ ref('kura__cluster_hierarchy') }} as parent
        on child.parent_id = parent.cluster_id
    where parent.level <= child.level
)

select counts.top_clusters, counts.base_clusters, bad_edges.bad
from counts
cross join bad_edges
where counts.top_clusters != least({{ var('kura__max_top_clusters') }}, counts.base_clusters)
   or bad_edges.bad > 0
