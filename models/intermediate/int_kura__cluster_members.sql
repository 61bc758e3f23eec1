{#- Every (conversation, cluster) pair at every level: a conversation belongs to its base cluster
    and to each of that cluster's ancestors. -#}
with recursive members as (
    select
        conversation_clusters.conversation_id,
        hierarchy.cluster_id,
        hierarchy.level,
        hierarchy.parent_id
    from {{ ref('kura__conversation_clusters') }} as conversation_clusters
    inner join {{ ref('kura__taxonomy') }} as hierarchy
        on conversation_clusters.cluster_id = hierarchy.cluster_id
        and hierarchy.is_current

    union all

    select
        members.conversation_id,
        parents.cluster_id,
        parents.level,
        parents.parent_id
    from members
    inner join {{ ref('kura__taxonomy') }} as parents
        on members.parent_id = parents.cluster_id
        and parents.is_current
)

select conversation_id, cluster_id, level
from members
