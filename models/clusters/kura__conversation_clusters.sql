{#- Each embedded conversation's base cluster under the current taxonomy. A conversation keeps
    its cluster from build to build; only a re-discovery reassigns (epoch says when it was
    made). Novel conversations (farther from every cluster than its radius) and HDBSCAN noise
    have no cluster (cluster_id NULL) but keep their nearest cluster and the distance to it. -#}
with state as (
    select *
    from {{ ref('int_kura__cluster_state') }}
    where record_type = 'conversation'
),

discoveries as (
    select epoch, max(clusterer) as clusterer
    from {{ ref('int_kura__cluster_state') }}
    where record_type = 'run' and decision = 'discover'
    group by epoch
)

select
    state.conversation_id,
    state.cluster_id,
    state.distance,
    state.cluster_id is null as is_unclustered,
    discoveries.clusterer,
    state.status,
    state.nearest_cluster_id,
    state.epoch,
    state.updated_at as assigned_at
from state
inner join {{ ref('kura__embeddings') }} as embeddings
    on state.conversation_id = embeddings.conversation_id
    and state.text_hash = embeddings.text_hash
    and state.embedding_model = embeddings.model
left join discoveries
    on state.epoch = discoveries.epoch
