{#- int_kura__privacy_relabels with the Cortex auditor (var kura__auditor: cortex, or auto on a
    Snowflake target): the same table, columns and incremental rule as the Python model of that
    name, which is off on Snowflake then (dbt_project.yml). Each cluster name, description or
    keyword list that int_kura__privacy_audit scored below var kura__privacy_min_score is made
    again by AI_REDACT, which replaces the personal details it finds with their category in
    brackets ("[NAME]", "[EMAIL]"; kura.cortex_redact(), its documented answer in
    tests/fixtures/cortex/ai_redact.json), and the new text is scored by AI_COMPLETE with the
    audit's own prompt and schema (kura.cortex_audit_request()); kura__clusters shows it when
    that score passes. A text in which AI_REDACT finds nothing keeps no replacement and stays
    withheld, without a call. Remade once per auditor, model, prompt version and detector
    (`ai_redact`); a failed call, or no answer from AI_REDACT, is tried again next build. -#}
{{ config(
    enabled=kura.cortex_enabled('auditor'),
    materialized='incremental',
    unique_key='text_hash',
    on_schema_change='append_new_columns',
) }}
{%- set request = kura.cortex_audit_request() -%}
{%- set model_name = var('kura__cortex_model', 'llama3.1-70b') -%}
{%- set min_score = var('kura__privacy_min_score', 3) | int -%}
{%- set detector = 'ai_redact' -%}

with withheld as (
    select texts.text_hash, min(texts.kind) as kind, min(texts.text) as text
    from {{ ref('int_kura__privacy_texts') }} as texts
    inner join {{ ref('int_kura__privacy_audit') }} as audit
        on audit.text_hash = texts.text_hash
    where texts.kind in ('cluster_name', 'cluster_description', 'cluster_keywords')
        and audit.score < {{ min_score }}
    group by texts.text_hash
),

pending as (
    select withheld.*
    from withheld
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.text_hash = withheld.text_hash
    where done.text_hash is null
        or done.error is not null
        or coalesce(done.auditor, '') != 'cortex'
        or coalesce(done.model, '') != '{{ model_name }}'
        or coalesce(done.prompt_version, '') != '{{ request["prompt_version"] }}'
        or coalesce(done.detector_version, '') != '{{ detector }}'
    {%- endif %}
    {%- if min_score <= 1 %}
    limit 0  -- a minimum score of 1 withholds nothing
    {%- endif %}
),

redacted as (
    select *, {{ kura.cortex_redact('text') }} as replacement
    from pending
),

prompts as (
    select
        *,
        replacement is not null and replacement != text as changed,
        {{ kura.cortex_string(request['system_prompt'] ~ '\n\n') }}
        || '<' || kind || '>\n' || left(replacement, {{ request['max_text_chars'] }})
        || '\n</' || kind || '>' as prompt
    from redacted
),

{{ kura.cortex_ask(
    model_name,
    request,
    "object_construct('justification', 'stand-in audit', 'rating', "
    ~ "case when contains(replacement, '@') then 1 else 5 end)",
    send_when='changed',
) }},

checked as (
    select
        *,
        case
            when replacement is null then 'Cortex AI_REDACT returned no answer (NULL) for this text'
            when changed then {{ kura.cortex_call_error(
                'text', 'not coalesce(answer:rating::int between 1 and 5, false)',
                'a rating from 1 to 5'
            ) }}
        end as call_error
    from answers
)

select
    text_hash,
    kind,
    case when changed then replacement end as replacement,
    case when changed then md5(replacement) end as replacement_hash,
    case when changed and call_error is null then answer:rating::int end as score,
    case when changed then left(answer:justification::varchar, 500) end as reason,
    call_error as error,
    'cortex' as auditor,
    '{{ model_name }}' as model,
    '{{ request["prompt_version"] }}' as prompt_version,
    '{{ detector }}' as detector_version,
    {{ kura.cortex_usage_columns() }},  -- NULL tokens where nothing was sent
    case when changed then 1 else 0 end as llm_calls,
    {{ kura.cortex_run_time() }} as relabelled_at
from checked
