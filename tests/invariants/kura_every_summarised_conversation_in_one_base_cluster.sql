-- Every conversation with a summary and an embedding (not a failed one) has exactly one row in
-- kura__conversation_clusters, and its cluster (when it has one) is a base (level 0) cluster.
with summarised as (
    select summaries.conversation_id
    from {{ ref('kura__summaries') }} as summaries
    inner join {{ ref('kura__embeddings') }} as embeddings
        on summaries.conversation_id = embeddings.conversation_id
    where summaries.summary is not null and summaries.error is null
        and embeddings.embedding is not null
),

assigned as (
    select
        conversation_clusters.conversation_id,
        count(*) as assignments,
        max(case when hierarchy.level = 0 or conversation_clusters.is_unclustered then 1 else 0 end) as in_base
    from {{ ref('kura__conversation_clusters') }} as conversation_clusters
    left join {{ ref('kura__cluster_hierarchy') }} as hierarchy
        on conversation_clusters.cluster_id = hierarchy.cluster_id
    group by conversation_clusters.conversation_id
)

select summarised.conversation_id, assigned.assignments, assigned.in_base
from summarised
left join assigned
    on summarised.conversation_id = assigned.conversation_id
where assigned.assignments is null or assigned.assignments != 1 or assigned.in_base != 1
