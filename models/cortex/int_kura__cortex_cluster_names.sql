{#- Cluster names and descriptions by Snowflake Cortex (var kura__labeller: cortex, or auto on a
    Snowflake target). The Python state model (int_kura__cluster_state) clusters and names
    every cluster with the local labeller; this model asks AI_COMPLETE, with the LLM
    labeller's own prompt and schema (kura.cortex_label_request(), generated from
    kura_dbt.labels.openai: one source), for a name and a description of each current cluster,
    and kura__taxonomy shows them in place of the local ones.

    Keyed by the cluster's label_key, the hash of exactly what its local name was made from, so
    that an unchanged cluster is never asked again (nor one that kept its label at a
    re-discovery); a change of model or prompt asks again; a failed answer (error) is asked
    again on the next build until it is parked (macros/cortex/state.sql: attempts, gave_up). A base cluster is named from up to 15 of its summaries, spread
    from the most central outwards (as the LLM labeller samples them), a parent from its
    children's names and descriptions; the local names of up to 10 sibling clusters are the
    contrast. -#}
{{ config(
    enabled=kura.cortex_enabled('labeller'),
    materialized='incremental',
    unique_key='label_key',
    on_schema_change='append_new_columns',
    schema=var('kura__private_schema', 'kura_private'),
    post_hook="{{ kura.cortex_check_failures('cluster names', 'named_at', 'labeller cortex, model ' ~ var('kura__cortex_model', 'llama3.1-70b')) }}",
) }}
{%- set request = kura.cortex_label_request() -%}
{%- set model_name = var('kura__cortex_model', 'llama3.1-70b') %}
{%- set same_key -%}
    coalesce(done.model, '') = '{{ model_name }}'
    and coalesce(done.prompt_version, '') = '{{ request["prompt_version"] }}'
{%- endset %}

with clusters as (
    select cluster_id, level, parent_id, name, description, label_key, size_at_discovery
    from {{ ref('int_kura__cluster_state') }}
    where record_type = 'cluster'
        and retired_epoch is null
        and label_key is not null
),

todo as (
    select clusters.*, {{ kura.cortex_previous_attempts(same_key) }} as previous_attempts
    from clusters
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.label_key = clusters.label_key
    where {{ kura.cortex_to_send(same_key) }}
    {%- endif %}
),

members as (
    select
        assigned.cluster_id,
        left(summaries.summary, 400) as summary,
        row_number() over (
            partition by assigned.cluster_id order by assigned.distance, assigned.conversation_id
        ) as position,
        count(*) over (partition by assigned.cluster_id) as members
    from {{ ref('int_kura__cluster_state') }} as assigned
    inner join {{ ref('kura__summaries') }} as summaries
        on summaries.conversation_id = assigned.conversation_id
    where assigned.record_type = 'conversation'
        and assigned.cluster_id is not null
        and summaries.summary is not null
        and assigned.cluster_id in (select cluster_id from todo where level = 0)
),

base_examples as (
    select
        cluster_id,
        listagg('- ' || summary, '\n') within group (order by position) as examples
    from members
    -- every step-th member from the most central out, at most 15 (labels.openai._sample)
    where mod(position - 1, greatest(1, floor(members / 15))) = 0
        and floor((position - 1) / greatest(1, floor(members / 15))) < 15
    group by cluster_id
),

child_rank as (
    select
        parent_id,
        '- ' || coalesce(name, cluster_id) || ': ' || coalesce(description, '') as line,
        row_number() over (
            partition by parent_id order by size_at_discovery desc, cluster_id
        ) as position
    from clusters
    where parent_id in (select cluster_id from todo where level > 0)
),

parent_examples as (
    select parent_id as cluster_id, listagg(line, '\n') within group (order by position) as examples
    from child_rank
    where position <= 20
    group by parent_id
),

sibling_rank as (
    select
        todo.cluster_id,
        '- ' || coalesce(sibling.name, sibling.cluster_id) as line,
        row_number() over (
            partition by todo.cluster_id order by sibling.size_at_discovery desc, sibling.cluster_id
        ) as position
    from todo
    inner join clusters as sibling
        on sibling.level = todo.level
        and coalesce(sibling.parent_id, '') = coalesce(todo.parent_id, '')
        and sibling.cluster_id != todo.cluster_id
),

contrast as (
    select cluster_id, listagg(line, '\n') within group (order by position) as examples
    from sibling_rank
    where position <= 10
    group by cluster_id
),

prompts as (
    select
        todo.cluster_id,
        todo.level,
        todo.label_key,
        todo.previous_attempts,
        {{ kura.cortex_string(request['system_prompt'] ~ '\n\n<inside_examples>\n') }}
        || coalesce(base_examples.examples, parent_examples.examples, '')
        || '\n</inside_examples>\n<outside_examples>\n'
        || coalesce(contrast.examples, '')
        || '\n</outside_examples>' as prompt
    from todo
    left join base_examples on base_examples.cluster_id = todo.cluster_id
    left join parent_examples on parent_examples.cluster_id = todo.cluster_id
    left join contrast on contrast.cluster_id = todo.cluster_id
),

{{ kura.cortex_ask(
    model_name,
    request,
    "object_construct('name', 'Stand-in name ' || cluster_id, "
    ~ "'description', 'The users asked about ' || cluster_id || '. A stand-in description.')",
) }},

parsed as (
    select
        *,
        {{ kura.cortex_call_error(
            'cluster', "nullif(trim(answer:name::varchar), '') is null", 'a name'
        ) }} as call_error
    from answers
)

select
    label_key,
    cluster_id,
    level,
    rtrim(trim(answer:name::varchar), '.') as name,
    trim(answer:description::varchar) as description,
    'cortex' as labeller,
    '{{ model_name }}' as model,
    '{{ request["prompt_version"] }}' as prompt_version,
    {{ kura.cortex_usage_columns(cost=false) }},
    1 as llm_calls,
    call_error as error,
    {{ kura.cortex_state_columns('previous_attempts + 1', 'call_error') }},
    {{ kura.cortex_run_time() }} as named_at
from parsed
