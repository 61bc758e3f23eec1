{#- kura__embeddings by Snowflake Cortex (var kura__embedder: cortex, or auto on a Snowflake
    target): the same table and incremental rule as the Python model of that name, which is
    disabled then (dbt_project.yml). The embedded text is the one the Python embedder would
    embed (var kura__embedding_text, kura_dbt.incremental.embedded_text_sql), its MD5 the
    text_hash; a summary is embedded again when that text, the embedder or the model changes,
    or when its last embedding failed. The vector is EMBED_TEXT_768 (or AI_EMBED, var
    kura__cortex_embed_function) of var kura__cortex_embedding_model, a VECTOR column; its
    input tokens are counted with SNOWFLAKE.CORTEX.COUNT_TOKENS (embeddings bill input tokens
    only). -#}
{{ config(
    enabled=kura.cortex_enabled('embedder'),
    materialized='incremental',
    unique_key='conversation_id',
    on_schema_change='append_new_columns',
) }}
{%- set model_name = var('kura__cortex_embedding_model', 'snowflake-arctic-embed-m-v1.5') -%}
{#- kura_dbt.settings.Settings.embedded_column: auto embeds the request (the user's own words)
    after the local summariser, the summary after an LLM summariser -#}
{%- set choice = var('kura__embedding_text', 'auto') | string | trim | lower -%}
{%- if choice == 'auto' -%}
    {%- set choice = 'request' if kura.backend('summariser') == 'local' else 'summary' -%}
{%- endif -%}
{%- if choice == 'summary' -%}
    {%- set text_sql = 'summaries.summary' -%}
{%- elif choice == 'request' -%}
    {%- set text_sql = "coalesce(nullif(trim(summaries.request), ''), summaries.summary)" -%}
{%- else -%}
    {{ exceptions.raise_compiler_error("kura: var kura__embedding_text must be auto, request or summary") }}
{%- endif %}

with usable as (
    select
        summaries.conversation_id,
        {{ text_sql }} as text
    from {{ ref('kura__summaries') }} as summaries
    where summaries.summary is not null
        and summaries.error is null
),

pending as (
    select usable.conversation_id, usable.text, md5(usable.text) as text_hash
    from usable
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.conversation_id = usable.conversation_id
        and done.text_hash = md5(usable.text)
        and coalesce(done.embedder, '') = 'cortex'
        and coalesce(done.model, '') = '{{ model_name }}'
        and done.error is null
    where done.conversation_id is null
        and trim(usable.text) != ''
    {%- else -%}
    where trim(usable.text) != ''
    {%- endif %}
)

select
    conversation_id,
    text_hash,
    {{ kura.cortex_embed(model_name, 'text') }} as embedding,
    'cortex' as embedder,
    '{{ model_name }}' as model,
    {{ 8 if kura.cortex_stand_in() else var('kura__cortex_embedding_dimensions', 768) }} as dimensions,
    {{ kura.utc_now() }} as embedded_at,
    cast(null as varchar) as error,
    {{ kura.cortex_count_tokens(model_name, 'text') }}::int as prompt_tokens,
    1 as llm_calls
from pending
