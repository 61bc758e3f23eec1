{#- Monday of the week of a timestamp, as a date. -#}
{% macro week_start(ts) -%}
    {{ return(adapter.dispatch('week_start', 'kura')(ts)) }}
{%- endmacro %}

{% macro default__week_start(ts) -%}
    cast({{ dbt.date_trunc('week', ts) }} as date)
{%- endmacro %}
