-- At most var('kura__max_top_clusters') top-level clusters, all on the same (highest) level,
-- and every child exactly one level below its parent.
with top_level as (
    select count(*) as top_clusters, count(distinct level) as top_levels
    from {{ ref('kura__cluster_hierarchy') }}
    where parent_id is null
),

bad_edges as (
    select count(*) as bad
    from {{ ref('kura__cluster_hierarchy') }} as child
    inner join {{ ref('kura__cluster_hierarchy') }} as parent
        on child.parent_id = parent.cluster_id
    where parent.level != child.level + 1
)

select top_clusters, top_levels, bad
from top_level
cross join bad_edges
where top_clusters > {{ var('kura__max_top_clusters') }}
   or top_levels > 1
   or bad > 0
