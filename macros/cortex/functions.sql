{#- The Snowflake Cortex functions the Cortex backends call, one macro each, dispatched so that
    they only ever render on Snowflake. Only generally available functions are in the default
    path:

    - AI_COMPLETE (GA 2025-11-21: https://docs.snowflake.com/en/release-notes/2025/other/2025-11-21-ai-complete-ga),
      single-string form AI_COMPLETE(model, prompt, model_parameters, response_format,
      show_details) (https://docs.snowflake.com/en/sql-reference/functions/ai_complete-single-string);
      response_format is an object {'type': 'json', 'schema': ...}, not a string
      (https://docs.snowflake.com/en/user-guide/snowflake-cortex/complete-structured-outputs);
      show_details => TRUE returns {choices: [{messages: ...}], created, model, usage:
      {prompt_tokens, completion_tokens, total_tokens}}, which is where the token counts come
      from; a row it cannot answer is NULL and does not fail the query.
    - SNOWFLAKE.CORTEX.EMBED_TEXT_768(model, text) -> VECTOR(FLOAT, 768)
      (https://docs.snowflake.com/en/sql-reference/functions/embed_text-snowflake-cortex), or
      AI_EMBED(model, text) (https://docs.snowflake.com/en/sql-reference/functions/ai_embed)
      with var kura__cortex_embed_function: ai_embed.
    - SNOWFLAKE.CORTEX.COUNT_TOKENS(model, text) for the embeddings' input tokens (embedding
      functions bill input tokens only: https://docs.snowflake.com/en/user-guide/snowflake-cortex/aisql-cost).
      AI_COUNT_TOKENS is its newer form but was in preview when this was written
      (https://docs.snowflake.com/en/release-notes/2025/other/2025-09-26-ai-count-tokens-function),
      so it is not used.

    With var kura__cortex_stand_in: true each macro renders a deterministic expression of the
    same shape instead (offline tests on fakesnow); never for a real build. -#}


{#- A VARIANT shaped like AI_COMPLETE's show_details answer. `prompt` is SQL (a column or an
    expression), `response_format_sql` the object constant of the request
    (kura.cortex_summary_request() / kura.cortex_label_request()), `stand_in_answer` the SQL of
    the answer object the stand-in returns. -#}
{% macro cortex_complete(model, prompt, response_format_sql, max_tokens, stand_in_answer) -%}
    {#- parsed whether the function returns an OBJECT or its JSON text -#}
    try_parse_json(to_varchar(
    {%- if kura.cortex_stand_in() -%}
        {{ kura.cortex_complete_stand_in(model, prompt, stand_in_answer) }}
    {%- else -%}
        {{ adapter.dispatch('cortex_complete', 'kura')(model, prompt, response_format_sql, max_tokens) }}
    {%- endif -%}
    ))
{%- endmacro %}

{% macro default__cortex_complete(model, prompt, response_format_sql, max_tokens) -%}
    {#- rendered at parse time on any warehouse (the model is disabled there): fail only if run -#}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error("kura: the Cortex backends run on Snowflake only (target type " ~ target.type ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__cortex_complete(model, prompt, response_format_sql, max_tokens) -%}
    ai_complete(
        '{{ model }}',
        {{ prompt }},
        {'temperature': {{ var('kura__llm_temperature', 0.0) }}, 'max_tokens': {{ max_tokens }}},
        {{ response_format_sql }},
        true
    )
{%- endmacro %}

{% macro cortex_complete_stand_in(model, prompt, answer) -%}
    object_construct(
        'choices', array_construct(object_construct('messages', {{ answer }})),
        'model', '{{ model }}',
        'usage', object_construct(
            'prompt_tokens', ceil(length({{ prompt }}) / 4),
            'completion_tokens', 40,
            'total_tokens', ceil(length({{ prompt }}) / 4) + 40
        )
    )
{%- endmacro %}


{#- The answer object of an AI_COMPLETE show_details VARIANT, whether the function put it in
    `messages` as an object or as JSON text. -#}
{% macro cortex_answer(response) -%}
    try_parse_json(to_varchar({{ response }}:choices[0]:messages))
{%- endmacro %}


{#- An embedding of `text` (SQL) with `model`: VECTOR(FLOAT, 768) from EMBED_TEXT_768 (or
    AI_EMBED); the stand-in is an ARRAY of 8 numbers from the text's MD5. -#}
{% macro cortex_embed(model, text) -%}
    {%- if kura.cortex_stand_in() -%}
        array_construct(
            {%- for i in range(8) %}
            (ascii(substr(md5({{ text }}), {{ i + 1 }}, 1)) - 75) / 30.0{{ "," if not loop.last }}
            {%- endfor %}
        )::array
    {%- else -%}
        {{ adapter.dispatch('cortex_embed', 'kura')(model, text) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__cortex_embed(model, text) -%}
    {#- rendered at parse time on any warehouse (the model is disabled there): fail only if run -#}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error("kura: the Cortex backends run on Snowflake only (target type " ~ target.type ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__cortex_embed(model, text) -%}
    {%- set function = var('kura__cortex_embed_function', 'embed_text_768') | string | lower -%}
    {%- if function == 'ai_embed' -%}
        ai_embed('{{ model }}', {{ text }})
    {%- elif function == 'embed_text_768' -%}
        snowflake.cortex.embed_text_768('{{ model }}', {{ text }})
    {%- elif function == 'embed_text_1024' -%}
        snowflake.cortex.embed_text_1024('{{ model }}', {{ text }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("kura: var kura__cortex_embed_function must be embed_text_768, embed_text_1024 or ai_embed, got " ~ function) }}
    {%- endif -%}
{%- endmacro %}

{#- Input tokens of `text` (SQL) for `model`. -#}
{% macro cortex_count_tokens(model, text) -%}
    {%- if kura.cortex_stand_in() -%}
        ceil(length({{ text }}) / 4)
    {%- else -%}
        {{ adapter.dispatch('cortex_count_tokens', 'kura')(model, text) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__cortex_count_tokens(model, text) -%}
    {#- rendered at parse time on any warehouse (the model is disabled there): fail only if run -#}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error("kura: the Cortex backends run on Snowflake only (target type " ~ target.type ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{% macro snowflake__cortex_count_tokens(model, text) -%}
    snowflake.cortex.count_tokens('{{ model }}', {{ text }})
{%- endmacro %}
