-- A parent has at least as many distinct users as each child, and no more than their sum.
with children as (
    select parent_id, max(distinct_users) as most, sum(distinct_users) as total
    from {{ ref('kura__cluster_hierarchy') }}
    where parent_id is not null
    group by parent_id
)

select hierarchy.cluster_id, hierarchy.distinct_users, children.most, children.total
from {{ ref('kura__cluster_hierarchy') }} as hierarchy
inner join children
    on hierarchy.cluster_id = children.parent_id
where hierarchy.distinct_users < children.most or hierarchy.distinct_users > children.total
