{#- Every cluster there has been, current and retired, at every level: the stable taxonomy.
    Ids are opaque and survive re-discoveries when the cluster does (see kura__cluster_lineage).
    centroid is the mean direction of its conversations' embeddings (a JSON array), radius (base
    clusters) how far its members lie: new conversations farther than that are novel. -#}
select
    cluster_id,
    level,
    parent_id,
    name,
    description,
    keywords,
    labeller,
    label_key,
    coalesce(label_error, false) as label_error,
    centroid,
    radius,
    size_at_discovery,
    created_epoch,
    retired_epoch,
    retired_epoch is null as is_current,
    epoch as last_discovered_epoch,
    embedding_model,
    llm_calls,
    prompt_tokens,
    completion_tokens,
    updated_at
from {{ ref('int_kura__cluster_state') }}
where record_type = 'cluster'
