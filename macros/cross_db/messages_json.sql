{#- JSON array of {"role", "content"} objects for one conversation, in order.
    Used by int_kura__transcripts so that the Python models get each turn with its role. -#}
{% macro messages_json(role, content, order_by) -%}
    {{ return(adapter.dispatch('messages_json', 'kura')(role, content, order_by)) }}
{%- endmacro %}

{% macro default__messages_json(role, content, order_by) -%}
    {{ exceptions.raise_compiler_error(
        "kura.messages_json has no implementation for adapter '" ~ adapter.type() ~
        "'. Add a `" ~ adapter.type() ~ "__messages_json` macro (see macros/cross_db/messages_json.sql).") }}
{%- endmacro %}

{% macro duckdb__messages_json(role, content, order_by) -%}
    cast(to_json(list({'role': {{ role }}, 'content': {{ content }}} order by {{ order_by }})) as varchar)
{%- endmacro %}

{% macro snowflake__messages_json(role, content, order_by) -%}
    to_json(array_agg(object_construct('role', {{ role }}, 'content', {{ content }})) within group (order by {{ order_by }}))
{%- endmacro %}
