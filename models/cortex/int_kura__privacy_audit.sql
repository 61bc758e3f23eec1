{#- int_kura__privacy_audit by Snowflake Cortex (var kura__auditor: cortex, or auto on a
    Snowflake target): the same table, columns and incremental rule as the Python model of that
    name, which is disabled then (python_models/_python_models.yml). One AI_COMPLETE call per
    distinct text, with the LLM auditor's own prompt (CLIO's privacy rubric) and the JSON schema
    of PrivacyScore (kura.cortex_audit_request(), generated from kura_dbt.summaries.cortex: one
    source). A text is (re)scored when it is new, was scored by another model or prompt version,
    or its last audit failed and it is not parked (macros/cortex/state.sql); a build in which
    every call failed fails the model. Tokens come from AI_COMPLETE's usage answer; var
    kura__llm_max_calls caps the calls of one run (the rest stays unscored, so withheld). -#}
{{ config(
    enabled=kura.cortex_enabled('auditor'),
    materialized='incremental',
    unique_key='text_hash',
    on_schema_change='append_new_columns',
    post_hook="{{ kura.cortex_check_failures('privacy audits', 'audited_at', 'auditor cortex, model ' ~ var('kura__cortex_model', 'llama3.1-70b')) }}",
) }}
{%- set request = kura.cortex_audit_request() -%}
{%- set model_name = var('kura__cortex_model', 'llama3.1-70b') -%}
{%- set max_calls = var('kura__llm_max_calls', none) -%}

{%- set same_key -%}
    coalesce(done.auditor, '') = 'cortex'
    and coalesce(done.model, '') = '{{ model_name }}'
    and coalesce(done.prompt_version, '') = '{{ request["prompt_version"] }}'
{%- endset %}

with texts as (
    select text_hash, min(kind) as kind, min(text) as text
    from {{ ref('int_kura__privacy_texts') }}
    group by text_hash
),

pending as (
    select
        texts.*,
        {{ kura.cortex_previous_attempts(same_key) }} as previous_attempts
    from texts
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.text_hash = texts.text_hash
    where {{ kura.cortex_to_send(same_key) }}
    {%- endif %}
),

capped as (
    select *
    from pending
    {% if max_calls is not none -%}
    qualify row_number() over (order by text_hash) <= {{ max_calls | int }}
    {%- endif %}
),

prompts as (
    select
        *,
        {{ kura.cortex_string(request['system_prompt'] ~ '\n\n') }}
        || '<' || kind || '>\n' || left(text, {{ request['max_text_chars'] }}) || '\n</' || kind || '>'
            as prompt
    from capped
),

{{ kura.cortex_ask(
    model_name,
    request,
    "object_construct('justification', 'stand-in audit', 'rating', "
    ~ "case when contains(text, '@') then 1 else 5 end)",
) }},

checked as (
    select
        *,
        {{ kura.cortex_call_error(
            'text', 'not coalesce(answer:rating::int between 1 and 5, false)', 'a rating from 1 to 5'
        ) }} as call_error,
        previous_attempts + 1 as call_attempts
    from answers
)

select
    text_hash,
    kind,
    case when call_error is null then answer:rating::int end as score,
    left(answer:justification::varchar, 500) as reason,
    call_error as error,
    'cortex' as auditor,
    '{{ model_name }}' as model,
    '{{ request["prompt_version"] }}' as prompt_version,
    {{ kura.cortex_usage_columns() }},
    1 as llm_calls,
    {{ kura.cortex_state_columns('call_attempts', 'call_error') }},
    {{ kura.cortex_run_time() }} as audited_at
from checked
