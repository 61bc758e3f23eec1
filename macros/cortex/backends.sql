{#- Which backend a stage uses, resolved once for SQL and Python alike.

    The vars kura__summariser, kura__embedder and kura__labeller default to `auto`: the Cortex
    backends (models/cortex/, no key, no external access) on a Snowflake target, the offline
    local backends elsewhere. The same rule is written inline where macros cannot be called
    (dbt_project.yml, which enables the Python models, and the kura_settings object in
    python_models/_python_models.yml, which hands the resolved names to Python); the tests in
    tests/python/test_cortex.py hold the three together. -#}

{% macro backend(kind) -%}
    {%- set value = var('kura__' ~ kind, 'auto') | string | trim | lower -%}
    {%- if value == 'auto' -%}
        {{ return('cortex' if target.type == 'snowflake' else 'local') }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}


{#- true when `kind` (summariser, embedder, labeller) runs on Cortex in SQL; a Cortex backend
    asked for on another warehouse fails the parse with a sentence that says what to set. -#}
{% macro cortex_enabled(kind) -%}
    {%- set on = kura.backend(kind) == 'cortex' -%}
    {%- if on and target.type != 'snowflake' and not kura.cortex_stand_in() -%}
        {{ exceptions.raise_compiler_error(
            "kura: var kura__" ~ kind ~ " is cortex, which runs Snowflake Cortex functions, but "
            ~ "the target is " ~ target.type ~ "; set kura__" ~ kind ~ " to auto or local") }}
    {%- endif -%}
    {{ return(on) }}
{%- endmacro %}


{#- Deterministic SQL in place of the Cortex functions (var kura__cortex_stand_in: true): for
    offline tests on fakesnow, never for a real build. -#}
{% macro cortex_stand_in() -%}
    {{ return(var('kura__cortex_stand_in', false) | string | trim | lower in ['true', '1', 'yes']) }}
{%- endmacro %}


{#- `text` as a Snowflake string constant (backslash escapes, as Snowflake reads them). -#}
{% macro cortex_string(text) -%}
    '{{ text | string | replace("\\", "\\\\") | replace("'", "\\'") | replace("\n", "\\n") }}'
{%- endmacro %}


{#- The current time in UTC, without a zone (as the Python models write their timestamps). -#}
{% macro utc_now() -%}
    convert_timezone('UTC', current_timestamp())::timestamp_ntz
{%- endmacro %}
