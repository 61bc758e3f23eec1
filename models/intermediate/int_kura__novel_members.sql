{#- Every (novel conversation, cluster) pair at every level: a conversation that was beyond every
    cluster's radius belongs to no cluster, but is counted against its nearest base cluster and
    that cluster's ancestors, so the marts can show where new kinds of conversations land. -#}
with recursive members as (
    select
        conversation_clusters.conversation_id,
        taxonomy.cluster_id,
        taxonomy.level,
        taxonomy.parent_id
    from {{ ref('kura__conversation_clusters') }} as conversation_clusters
    inner join {{ ref('kura__taxonomy') }} as taxonomy
        on conversation_clusters.nearest_cluster_id = taxonomy.cluster_id
        and taxonomy.is_current
    where conversation_clusters.status = 'novel'

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
