{#- Every cluster there has been, current and retired, at every level: the stable taxonomy.
    Ids are opaque and survive re-discoveries when the cluster does (see kura__cluster_lineage).
    centroid is the mean direction of its conversations' embeddings (a JSON array), radius (base
    clusters) how far its members lie: new conversations farther than that are novel. With the
    Cortex labeller (var kura__labeller: cortex, or auto on Snowflake) a cluster's name and
    description are Cortex's (int_kura__cortex_cluster_names, by label key) where it has
    answered, else the local ones. -#}
{%- set cortex = kura.backend('labeller') == 'cortex' %}
select
    state.cluster_id,
    state.level,
    state.parent_id,
    {#- the public label where the privacy thresholds hide one of its children (a parent
        named from its visible children only, kura_dbt.taxonomy.privacy), else the discovery's #}
    {% if cortex -%}
    case when state.public_name is not null then state.public_name else coalesce(cortex.name, state.name) end as name,
    case when state.public_name is not null then state.public_description else coalesce(cortex.description, state.description) end as description,
    case when state.public_name is not null then state.public_keywords else state.keywords end as keywords,
    case when cortex.name is not null and state.public_name is null then 'cortex' else state.labeller end as labeller,
    {%- else -%}
    case when state.public_name is not null then state.public_name else state.name end as name,
    case when state.public_name is not null then state.public_description else state.description end as description,
    case when state.public_name is not null then state.public_keywords else state.keywords end as keywords,
    state.labeller,
    {%- endif %}
    state.name as discovered_name,
    state.public_name is not null as has_public_label,
    state.label_key,
    coalesce(state.label_error, false) as label_error,
    {#- bounded retries of the name (kura_dbt.parking): discoveries that asked for its label key,
        and whether the name is parked after var kura__llm_max_attempts failures #}
    {% if cortex -%}
    coalesce(cortex.attempts, state.attempts) as attempts,
    {%- else -%}
    state.attempts,
    {%- endif %}
    coalesce(state.gave_up, false) as gave_up,
    state.centroid,
    state.radius,
    state.size_at_discovery,
    state.created_epoch,
    state.retired_epoch,
    state.retired_epoch is null as is_current,
    state.epoch as last_discovered_epoch,
    state.embedding_model,
    {% if cortex -%}
    coalesce(cortex.llm_calls, state.llm_calls) as llm_calls,
    coalesce(cortex.prompt_tokens, state.prompt_tokens) as prompt_tokens,
    coalesce(cortex.completion_tokens, state.completion_tokens) as completion_tokens,
    coalesce(cortex.named_at, state.updated_at) as updated_at
    {%- else -%}
    state.llm_calls,
    state.prompt_tokens,
    state.completion_tokens,
    state.updated_at
    {%- endif %}
from {{ ref('int_kura__cluster_state') }} as state
{% if cortex -%}
left join {{ ref('int_kura__cortex_cluster_names') }} as cortex
    on cortex.label_key = state.label_key
    and cortex.error is null
{% endif -%}
where state.record_type = 'cluster'
