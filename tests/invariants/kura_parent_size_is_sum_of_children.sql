-- A parent's size equals the sum of its children's sizes, and child_count is its real number
-- of children; a base cluster's size is its number of conversations.
with children as (
    select parent_id, sum(size) as children_size, count(*) as children
    from {{ ref('kura__cluster_hierarchy') }}
    where parent_id is not null
    group by parent_id
),

base_members as (
    select cluster_id, count(*) as conversations
    from {{ ref('kura__conversation_clusters') }}
    where cluster_id is not null
    group by cluster_id
)

select hierarchy.cluster_id, hierarchy.level, hierarchy.size, children.children_size,
       hierarchy.child_count, children.children, base_members.conversations
from {{ ref('kura__cluster_hierarchy') }} as hierarchy
left join children
    on hierarchy.cluster_id = children.parent_id
left join base_members
    on hierarchy.cluster_id = base_members.cluster_id
where (hierarchy.level > 0 and (children.children_size is null or hierarchy.size != children.children_size))
   or (hierarchy.level > 0 and hierarchy.child_count != children.children)
   or (hierarchy.level = 0 and (hierarchy.child_count != 0 or hierarchy.size != coalesce(base_members.conversations, 0)))
