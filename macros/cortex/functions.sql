{#- The Snowflake Cortex functions the Cortex backends call, one macro each, dispatched so that
    they only ever render on Snowflake. What each answers, and where that is documented, is in
    tests/fixtures/cortex/ (one file per answer shape, its sources beside it) and in
    docs/SNOWFLAKE.md, "Cortex answers":

    - AI_COMPLETE, single-string form, with named arguments
      (https://docs.snowflake.com/en/sql-reference/functions/ai_complete-single-string):
      response_format is an object {'type': 'json', 'schema': ...}
      (https://docs.snowflake.com/en/user-guide/snowflake-cortex/complete-structured-outputs);
      with show_details => TRUE the structured answer is at structured_output[0].raw_message and
      the token counts at usage (no `choices`); with return_error_details => TRUE the answer is
      {value, error} (https://docs.snowflake.com/en/sql-reference/functions/ai_complete,
      "Error behavior"; bundle 2026_02). var kura__cortex_error_handling: error_details (default)
      or try, SNOWFLAKE.CORTEX.TRY_COMPLETE for an account without that bundle (a row that
      fails is NULL, without its message).
    - AI_EMBED(model, text) -> VECTOR (https://docs.snowflake.com/en/sql-reference/functions/ai_embed),
      or SNOWFLAKE.CORTEX.EMBED_TEXT_768 / _1024 (var kura__cortex_embed_function), which the
      documentation announces for deprecation by the end of 2026.
    - SNOWFLAKE.CORTEX.COUNT_TOKENS(model, text) -> INTEGER for the embeddings' input tokens.
    - AI_REDACT(text) -> VARCHAR (var kura__cortex_redact, off by default).

    With var kura__cortex_stand_in: true each macro renders SQL that returns the documented shape
    instead (kura.cortex_stand_in_shapes(), generated from the fixtures); never for a real build. -#}


{#- The raw answer of one AI_COMPLETE call, as a VARIANT (parsed whether the function returns
    an OBJECT or its JSON text). `prompt` is SQL, `response_format_sql` the object constant of
    the request (kura.cortex_summary_request() / kura.cortex_label_request()), `stand_in_answer`
    the SQL of the answer object a stand-in returns. Read it with kura.cortex_details(),
    kura.cortex_error() and kura.cortex_answer(). -#}
{% macro cortex_complete(model, prompt, response_format_sql, max_tokens, stand_in_answer) -%}
    try_parse_json(to_varchar(
    {%- if kura.cortex_stand_in() -%}
        {{ kura.cortex_complete_stand_in(prompt, stand_in_answer) }}
    {%- else -%}
        {{ adapter.dispatch('cortex_complete', 'kura')(model, prompt, response_format_sql, max_tokens) }}
    {%- endif -%}
    ))
{%- endmacro %}

{% macro default__cortex_complete(model, prompt, response_format_sql, max_tokens) -%}
    {{ kura.cortex_only() }}
{%- endmacro %}

{% macro snowflake__cortex_complete(model, prompt, response_format_sql, max_tokens) -%}
    {%- set parameters = "'temperature': " ~ var('kura__llm_temperature', 0.0) ~ ", 'max_tokens': " ~ max_tokens -%}
    {%- if kura.cortex_error_handling() == 'try' -%}
    snowflake.cortex.try_complete(
        '{{ model }}',
        [{'role': 'user', 'content': {{ prompt }}}],
        {{ '{' ~ parameters }}, 'response_format': {{ response_format_sql }}}
    )
    {%- else -%}
    ai_complete(
        model => '{{ model }}',
        prompt => {{ prompt }},
        model_parameters => {{ '{' ~ parameters ~ '}' }},
        response_format => {{ response_format_sql }},
        show_details => true,
        return_error_details => true
    )
    {%- endif -%}
{%- endmacro %}


{#- How the AI_COMPLETE calls report a row's failure (var kura__cortex_error_handling):
    error_details, AI_COMPLETE(..., return_error_details => TRUE), {value, error} per row (bundle
    2026_02); try, SNOWFLAKE.CORTEX.TRY_COMPLETE, NULL per row whatever the bundle. -#}
{% macro cortex_error_handling() -%}
    {%- set value = var('kura__cortex_error_handling', 'error_details') | string | trim | lower -%}
    {%- if value not in ['error_details', 'try'] -%}
        {{ exceptions.raise_compiler_error("kura: var kura__cortex_error_handling must be error_details or try, got " ~ value) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}


{#- The show_details object of an AI_COMPLETE answer: the answer itself, or its `value` when the
    call asked for return_error_details. -#}
{% macro cortex_details(response) -%}
    try_parse_json(to_varchar(coalesce({{ response }}:value, {{ response }})))
{%- endmacro %}

{#- The error text of an AI_COMPLETE answer with return_error_details; NULL when it succeeded. -#}
{% macro cortex_error(response) -%}
    {{ response }}:error::varchar
{%- endmacro %}

{#- The model's answer object in a show_details object (`details`, a column), from whichever
    shape the call produced: structured_output[0].raw_message (a response_format was given),
    choices[0].messages (none was), choices[0].message.content (an OpenAI-style model), each an
    object or its JSON text (a VARIANT cast to VARCHAR is its JSON, or the string itself). -#}
{% macro cortex_answer(details) -%}
    {{ return(adapter.dispatch('cortex_answer', 'kura')(details)) }}
{%- endmacro %}

{% macro default__cortex_answer(details) -%}
    try_parse_json(coalesce(
        {{ details }}:structured_output[0]:raw_message::varchar,
        {{ details }}:choices[0]:messages::varchar,
        {{ details }}:choices[0]:message:content::varchar
    ))
{%- endmacro %}


{#- An AI_COMPLETE stand-in: the fixture shape of var kura__cortex_stand_in_shape (structured,
    text, openai or error) with `answer` (SQL of an object) where the model's answer goes,
    wrapped as return_error_details wraps it (or bare, for the try form); a row for which the
    SQL predicate of var kura__cortex_stand_in_failing holds (`input` stands for the prompt)
    gets the documented error answer. -#}
{% macro cortex_complete_stand_in(prompt, answer) -%}
    {%- set shapes = kura.cortex_stand_in_shapes() -%}
    {%- set shape = var('kura__cortex_stand_in_shape', 'structured') | string | trim | lower -%}
    {%- set failing = var('kura__cortex_stand_in_failing', none) -%}
    {%- set details = kura.cortex_error_handling() == 'error_details' -%}
    {%- if shape not in shapes and shape != 'error' -%}
        {{ exceptions.raise_compiler_error("kura: var kura__cortex_stand_in_shape must be one of " ~ (shapes | list) ~ " or error, got " ~ shape) }}
    {%- endif -%}
    {%- set error_sql = ("parse_json(" ~ kura.cortex_string(shapes['__error__']) ~ ")") if details else "null" -%}
    {%- if shape == 'error' -%}
        {{ error_sql }}
    {%- else -%}
        {%- set template = shapes[shape]['template'] -%}
        {%- if details -%}{%- set template = '{"error": null, "value": ' ~ template ~ '}' -%}{%- endif -%}
        {%- if shapes[shape]['content'] == 'object' -%}
            {%- set content = "to_json(" ~ answer ~ ")" -%}
        {%- else -%}
            {%- set content = "to_json(to_variant(to_json(" ~ answer ~ ")))" -%}
        {%- endif -%}
        {%- set ok = "parse_json(replace(" ~ kura.cortex_string(template) ~ ", '\"<<kura:answer>>\"', " ~ content ~ "))" -%}
        {%- if failing is none -%}
        {{ ok }}
        {%- else -%}
        case when {{ failing | replace('input', prompt) }} then {{ error_sql }} else {{ ok }} end
        {%- endif %}
    {%- endif -%}
{%- endmacro %}


{#- An embedding of `text` (SQL) with `model`: a VECTOR from AI_EMBED (or EMBED_TEXT_768 /
    _1024). With var kura__cortex_embed_error_details (bundle 2026_06) AI_EMBED answers
    {value, error} instead; read it with kura.cortex_embedding() and kura.cortex_embed_error().
    The stand-in is an ARRAY of 8 numbers from the text's MD5. -#}
{% macro cortex_embed(model, text) -%}
    {%- if kura.cortex_stand_in() -%}
        {%- set vector = "array_construct(" ~ kura.cortex_md5_numbers(text) ~ ")::array" -%}
        {%- set failing = var('kura__cortex_stand_in_failing', none) -%}
        {%- set error = kura.cortex_string(kura.cortex_stand_in_shapes()['__error_text__']) -%}
        {%- if kura.cortex_embed_error_details() -%}
        object_construct('value', {{ vector if failing is none else "case when not (" ~ (failing | replace('input', text)) ~ ") then " ~ vector ~ " end" }},
            'error', {{ 'null' if failing is none else "case when " ~ (failing | replace('input', text)) ~ " then " ~ error ~ " end" }})
        {%- else -%}
        {{ vector if failing is none else "case when not (" ~ (failing | replace('input', text)) ~ ") then " ~ vector ~ " end" }}
        {%- endif -%}
    {%- else -%}
        {{ adapter.dispatch('cortex_embed', 'kura')(model, text) }}
    {%- endif -%}
{%- endmacro %}

{% macro cortex_md5_numbers(text) -%}
    {%- for i in range(8) %}
    (ascii(substr(md5({{ text }}), {{ i + 1 }}, 1)) - 75) / 30.0{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro cortex_embed_error_details() -%}
    {{ return(var('kura__cortex_embed_error_details', false) | string | trim | lower in ['true', '1', 'yes']) }}
{%- endmacro %}

{#- The vector and the error text of a kura.cortex_embed() answer (`embedding`, a column). -#}
{% macro cortex_embedding(embedding) -%}
    {{ embedding ~ ':value' if kura.cortex_embed_error_details() else embedding }}
{%- endmacro %}

{% macro cortex_embed_error(embedding) -%}
    {{ embedding ~ ':error::varchar' if kura.cortex_embed_error_details() else 'cast(null as varchar)' }}
{%- endmacro %}

{% macro default__cortex_embed(model, text) -%}
    {{ kura.cortex_only() }}
{%- endmacro %}

{% macro snowflake__cortex_embed(model, text) -%}
    {%- set function = var('kura__cortex_embed_function', 'ai_embed') | string | lower -%}
    {%- set details = ', true' if kura.cortex_embed_error_details() else '' -%}
    {%- if function == 'ai_embed' -%}
        ai_embed('{{ model }}', {{ text }}{{ details }})
    {%- elif details -%}
        {{ exceptions.raise_compiler_error("kura: var kura__cortex_embed_error_details needs kura__cortex_embed_function: ai_embed") }}
    {%- elif function == 'embed_text_768' -%}
        snowflake.cortex.embed_text_768('{{ model }}', {{ text }})
    {%- elif function == 'embed_text_1024' -%}
        snowflake.cortex.embed_text_1024('{{ model }}', {{ text }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("kura: var kura__cortex_embed_function must be ai_embed, embed_text_768 or embed_text_1024, got " ~ function) }}
    {%- endif -%}
{%- endmacro %}


{#- Input tokens of `text` (SQL) for `model`: an INTEGER. -#}
{% macro cortex_count_tokens(model, text) -%}
    {%- if kura.cortex_stand_in() -%}
        ceil(length({{ text }}) / 4)
    {%- else -%}
        {{ adapter.dispatch('cortex_count_tokens', 'kura')(model, text) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__cortex_count_tokens(model, text) -%}
    {{ kura.cortex_only() }}
{%- endmacro %}

{% macro snowflake__cortex_count_tokens(model, text) -%}
    snowflake.cortex.count_tokens('{{ model }}', {{ text }})
{%- endmacro %}


{#- `text` (SQL) with personal details replaced by their category in brackets ("[NAME]",
    "[EMAIL]"), by AI_REDACT (var kura__cortex_redact); NULL when the function could not answer.
    The stand-in replaces e-mail addresses with [EMAIL], the documented placeholder. -#}
{% macro cortex_redact(text) -%}
    {%- if kura.cortex_stand_in() -%}
        regexp_replace({{ text }}, '[^ @]+@[^ @]+[.][a-z]+', '[EMAIL]')
    {%- else -%}
        {{ adapter.dispatch('cortex_redact', 'kura')(text) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__cortex_redact(text) -%}
    {{ kura.cortex_only() }}
{%- endmacro %}

{% macro snowflake__cortex_redact(text) -%}
    ai_redact({{ text }})
{%- endmacro %}

{% macro cortex_redact_enabled() -%}
    {{ return(var('kura__cortex_redact', false) | string | trim | lower in ['true', '1', 'yes']) }}
{%- endmacro %}


{#- rendered at parse time on any warehouse (the model is disabled there): fail only if run -#}
{% macro cortex_only() -%}
    {%- if execute -%}
    {{ exceptions.raise_compiler_error("kura: the Cortex backends run on Snowflake only (target type " ~ target.type ~ ")") }}
    {%- endif -%}
{%- endmacro %}
