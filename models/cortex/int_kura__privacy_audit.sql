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
{%- set input_price = var('kura__llm_input_cost_per_mtok', none) -%}
{%- set output_price = var('kura__llm_output_cost_per_mtok', none) -%}

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

answered as (
    select
        *,
        {{ kura.cortex_complete(
            model_name,
            'prompt',
            request['response_format_sql'],
            var('kura__cortex_max_output_tokens', 1024),
            "object_construct('justification', 'stand-in audit', 'rating', "
            ~ "case when contains(text, '@') then 1 else 5 end)",
        ) }} as response
    from prompts
),

parsed as (
    select
        *,
        {{ kura.cortex_details('response') }} as details,
        {{ kura.cortex_answer(kura.cortex_details('response')) }} as answer
    from answered
),

checked as (
    select
        *,
        case
            when {{ kura.cortex_error('response') }} is not null then {{ kura.cortex_error('response') }}
            when response is null then 'Cortex AI_COMPLETE returned no answer (NULL) for this text'
            when not coalesce(answer:rating::int between 1 and 5, false)
                then 'Cortex AI_COMPLETE answered without a rating from 1 to 5 (answer: '
                    || left(to_varchar(details), 200) || ')'
        end as call_error,
        previous_attempts + 1 as call_attempts
    from parsed
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
    details:usage:prompt_tokens::int as prompt_tokens,
    details:usage:completion_tokens::int as completion_tokens,
    {% if input_price is not none and output_price is not none -%}
    (coalesce(details:usage:prompt_tokens::int, 0) * {{ input_price }}
        + coalesce(details:usage:completion_tokens::int, 0) * {{ output_price }}) / 1000000.0
    {%- else -%}
    cast(null as float)
    {%- endif %} as cost_usd,
    1 as llm_calls,
    {{ kura.cortex_state_columns('call_attempts', 'call_error') }},
    {{ kura.cortex_run_time() }} as audited_at
from checked
