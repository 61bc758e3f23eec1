{#- kura__summaries by Snowflake Cortex (var kura__summariser: cortex, or auto on a Snowflake
    target): the same table, columns and incremental rule as the Python model of that name,
    which is disabled then (dbt_project.yml). One AI_COMPLETE call per conversation with
    text, with the summariser's own system prompt and the JSON schema of ConversationSummary
    (kura.cortex_summary_request(), generated from kura_dbt.summaries.cortex: one source).

    A conversation is (re)summarised when it is new, its content hash changed, it was summarised
    by another backend, model or prompt version, or its last attempt failed and it is not parked
    (macros/cortex/state.sql: attempts, gave_up, error; a build in which every call failed fails
    the model). Tokens come from AI_COMPLETE's own usage answer. var kura__llm_max_calls caps the
    calls of one run (the rest stays pending, counted in pending_after_cap). Long transcripts
    keep their start and end, cut as kura_dbt.llm.fit_to_budget cuts them
    (kura__llm_max_transcript_tokens at 4 characters per token), and are flagged truncated.
    With var kura__cortex_redact the transcript goes through AI_REDACT first. -#}
{{ config(
    enabled=kura.cortex_enabled('summariser'),
    materialized='incremental',
    unique_key='conversation_id',
    on_schema_change='append_new_columns',
    post_hook="{{ kura.cortex_check_failures('summaries', 'summarised_at', 'summariser cortex, model ' ~ var('kura__cortex_model', 'llama3.1-70b')) }}",
) }}
{%- set request = kura.cortex_summary_request() -%}
{%- set model_name = var('kura__cortex_model', 'llama3.1-70b') -%}
{%- set marker = request['truncation_marker'] -%}
{%- set max_chars = (var('kura__llm_max_transcript_tokens', 8000) | int) * 4 -%}
{%- set keep = [0, max_chars - (marker | length)] | max -%}
{%- set head = (keep * 2) // 3 -%}
{%- set tail = keep - head -%}
{%- set max_calls = var('kura__llm_max_calls', none) -%}
{%- if kura.backend('summariser') == 'cortex' and (var('kura__extra_facets', []) | map(attribute='name') | list) != request['extra_facets'] -%}
    {{ exceptions.raise_compiler_error(
        "kura: var kura__extra_facets names " ~ (var('kura__extra_facets', []) | map(attribute='name') | list)
        ~ " but the Cortex summary request was generated for " ~ request['extra_facets']
        ~ "; run `kura schema --format dbt --project-dir . --out macros/kura_cortex_requests.sql`"
        ~ " in your project (docs/SNOWFLAKE.md)") }}
{%- endif %}

{%- set same_key -%}
    coalesce(done.content_hash, '') = transcripts.content_hash
    and coalesce(done.summariser, '') = 'cortex'
    and coalesce(done.model, '') = '{{ model_name }}'
    and coalesce(done.prompt_version, '') = '{{ request["prompt_version"] }}'
{%- endset %}

with pending as (
    select
        transcripts.conversation_id,
        transcripts.content_hash,
        transcripts.transcript,
        transcripts.turn_count,
        transcripts.user_turns,
        transcripts.assistant_turns,
        {{ kura.cortex_previous_attempts(same_key) }} as previous_attempts
    from {{ ref('int_kura__transcripts') }} as transcripts
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.conversation_id = transcripts.conversation_id
    where {{ kura.cortex_to_send(same_key) }}
    {%- endif %}
),

capped as (
    select
        *,
        count(*) over () as pending_total
    from pending
    {% if max_calls is not none -%}
    qualify row_number() over (order by conversation_id) <= {{ max_calls | int }}
    {%- endif %}
),

{#- AI_REDACT (var kura__cortex_redact) only on what this build sends -#}
redacted as (
    select
        conversation_id,
        content_hash,
        {%- if kura.cortex_redact_enabled() %}
        case when turn_count > 0 then {{ kura.cortex_redact('transcript') }} end as transcript,
        {%- else %}
        transcript,
        {%- endif %}
        turn_count,
        user_turns,
        assistant_turns,
        previous_attempts,
        pending_total
    from capped
),

prompts as (
    select
        *,
        (length(transcript) + 3) / 4 > {{ max_chars // 4 }} as truncated,
        {{ kura.cortex_string(request['system_prompt'] ~ '\n\n<transcript>\n') }}
        || case
            when (length(transcript) + 3) / 4 > {{ max_chars // 4 }}
                then left(transcript, {{ head }}) || {{ kura.cortex_string(marker) }}
                    {%- if tail > 0 %} || right(transcript, {{ tail }}){% endif %}
            else transcript
        end
        || '\n</transcript>' as prompt
    from redacted
),

{{ kura.cortex_ask(
    model_name,
    request,
    "object_construct('summary', 'The user asks: ' || left(transcript, 60), "
    ~ "'request', left(transcript, 60), 'task', 'stand-in task', "
    ~ "'languages', array_construct('English'), 'concerning_score', 1, "
    ~ "'user_frustration', 1 + length(transcript) % 5, "
    ~ "'assistant_errors', array_construct())",
    send_when='turn_count > 0 and transcript is not null',
) }},

parsed as (
    select
        *,
        {{ kura.cortex_call_error(
            'conversation',
            'answer:summary::varchar is null',
            'a summary',
            before="when turn_count = 0 then null
            when transcript is null then 'Cortex AI_REDACT returned no answer (NULL): not sent'",
        ) }} as call_error,
        previous_attempts + case when turn_count > 0 and transcript is not null then 1 else 0 end
            as call_attempts
    from answers
)

select
    conversation_id,
    content_hash,
    answer:summary::varchar as summary,
    answer:request::varchar as request,
    answer:task::varchar as task,
    coalesce(to_json(answer:languages), '[]') as languages,
    case when answer:concerning_score::int between 1 and 5 then answer:concerning_score::int end
        as concerning_score,
    case when answer:user_frustration::int between 1 and 5 then answer:user_frustration::int end
        as user_frustration,
    to_json(answer:assistant_errors) as assistant_errors,
    to_json(answer:extra_facets) as extra_facets,
    to_json(array_construct_compact(
        case when turn_count = 0 then 'empty' end,
        case when user_turns = 0 then 'no_user_message' end,
        case when turn_count > 0 and truncated then 'truncated' end,
        case when call_error is not null then 'error' end
    )) as flags,
    turn_count,
    user_turns,
    assistant_turns,
    {{ kura.cortex_usage_columns() }},
    case when turn_count > 0 and transcript is not null then 1 else 0 end as llm_calls,
    'cortex' as summariser,
    '{{ model_name }}' as model,
    '{{ request["prompt_version"] }}' as prompt_version,
    call_error as error,
    {{ kura.cortex_state_columns('call_attempts', 'call_error') }},
    {{ kura.cortex_run_time() }} as summarised_at,
    case when pending_total > {{ max_calls | int if max_calls is not none else 'pending_total' }}
        then pending_total - {{ max_calls | int if max_calls is not none else 'pending_total' }}
    end as pending_after_cap
from parsed
