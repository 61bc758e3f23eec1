{#- kura__embeddings by Snowflake Cortex (var kura__embedder: cortex, or auto on a Snowflake
    target): the same table and incremental rule as the Python model of that name, which is
    disabled then (dbt_project.yml). The embedded text is the one the Python embedder would
    embed (var kura__embedding_text; macro kura.embedded_text, the SQL of
    kura_dbt.sql.embedded_text: redaction's markers left out), its MD5 the text_hash; a summary is embedded again when that text, the embedder or the model changes,
    or when its last embedding failed and it is not parked (macros/cortex/state.sql). The
    vector is AI_EMBED (or EMBED_TEXT_768 / _1024, var kura__cortex_embed_function) of var
    kura__cortex_embedding_model, a VECTOR column; its input tokens are counted with
    SNOWFLAKE.CORTEX.COUNT_TOKENS (embeddings bill input tokens only). Before bundle 2026_06 a
    text AI_EMBED cannot embed fails the whole query (docs/SNOWFLAKE.md, "Cortex answers"). -#}
{{ config(
    enabled=kura.cortex_enabled('embedder'),
    materialized='incremental',
    unique_key='conversation_id',
    on_schema_change='append_new_columns',
    post_hook="{{ kura.cortex_check_failures('embeddings', 'embedded_at', 'embedder cortex, model ' ~ var('kura__cortex_embedding_model', 'snowflake-arctic-embed-m-v1.5')) }}",
) }}
{%- set model_name = var('kura__cortex_embedding_model', 'snowflake-arctic-embed-m-v1.5') -%}
{#- kura_dbt.settings.Settings.embedded_column: auto embeds the request (the user's own words)
    after the local summariser, the summary after an LLM summariser -#}
{%- set choice = var('kura__embedding_text', 'auto') | string | trim | lower -%}
{%- if choice == 'auto' -%}
    {%- set choice = 'request' if kura.backend('summariser') == 'local' else 'summary' -%}
{%- endif -%}
{%- if choice in ('summary', 'request') -%}
    {%- set text_sql = kura.embedded_text(choice, 'summaries') -%}
{%- else -%}
    {{ exceptions.raise_compiler_error("kura: var kura__embedding_text must be auto, request or summary") }}
{%- endif %}
{%- set same_key -%}
    coalesce(done.text_hash, '') = md5(usable.text)
    and coalesce(done.embedder, '') = 'cortex'
    and coalesce(done.model, '') = '{{ model_name }}'
{%- endset %}

with usable as (
    select
        summaries.conversation_id,
        {{ text_sql }} as text
    from {{ ref('kura__summaries') }} as summaries
    where summaries.summary is not null
        and summaries.error is null
),

pending as (
    select
        usable.conversation_id,
        usable.text,
        md5(usable.text) as text_hash,
        {{ kura.cortex_previous_attempts(same_key) }} as previous_attempts
    from usable
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.conversation_id = usable.conversation_id
    where trim(usable.text) != ''
        and ({{ kura.cortex_to_send(same_key) }})
    {%- else -%}
    where trim(usable.text) != ''
    {%- endif %}
),

embedded as (
    select *, {{ kura.cortex_embed(model_name, 'text') }} as answer
    from pending
),

checked as (
    select
        *,
        {{ kura.cortex_embedding('answer') }} as vector,
        coalesce(
            {{ kura.cortex_embed_error('answer') }},
            case when {{ kura.cortex_embedding('answer') }} is null
                then 'Cortex AI_EMBED returned no vector (NULL) for this text' end
        ) as call_error
    from embedded
)

select
    conversation_id,
    text_hash,
    vector as embedding,
    'cortex' as embedder,
    '{{ model_name }}' as model,
    case when call_error is null
        then {{ 8 if kura.cortex_stand_in() else var('kura__cortex_embedding_dimensions', 768) }}
    end as dimensions,
    {{ kura.cortex_run_time() }} as embedded_at,
    call_error as error,
    {{ kura.cortex_state_columns('previous_attempts + 1', 'call_error') }},
    {{ kura.cortex_count_tokens(model_name, 'text') }}::int as prompt_tokens,
    1 as llm_calls
from checked
