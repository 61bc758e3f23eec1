{#- Monday of the week of a timestamp, as a date. -#}
{% macro week_start(ts) -%}
    {{ return(adapter.dispatch('week_start', 'kura')(ts)) }}
{%- endmacro %}

{% macro default__week_start(ts) -%}
    cast({{ dbt.date_trunc('week', ts) }} as date)
{%- endmacro %}

{#- A date as 'YYYY-MM-DD' text, whatever the session's date output format (Snowflake's
    DATE_OUTPUT_FORMAT changes what a plain cast gives). -#}
{% macro date_string(d) -%}
    {{ return(adapter.dispatch('date_string', 'kura')(d)) }}
{%- endmacro %}

{#- DuckDB (and the ANSI cast elsewhere): a date cast to text is ISO 8601 -#}
{% macro default__date_string(d) -%}
    cast({{ d }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro snowflake__date_string(d) -%}
    to_char({{ d }}, 'YYYY-MM-DD')
{%- endmacro %}
