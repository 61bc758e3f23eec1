{#- One row per element of a JSON array held as text (e.g. kura__summaries.languages,
    '["English", "python"]'): `select <columns>, <element> as <alias> from <relation>`, the
    element as a string; a row with an empty or NULL array gives no row. Used by
    int_kura__conversation_facet_values for the languages of each conversation. -#}
{% macro json_array_elements(relation, columns, json_column, alias) -%}
    {{ return(adapter.dispatch('json_array_elements', 'kura')(relation, columns, json_column, alias)) }}
{%- endmacro %}

{% macro default__json_array_elements(relation, columns, json_column, alias) -%}
    {{ exceptions.raise_compiler_error(
        "kura.json_array_elements has no implementation for adapter '" ~ adapter.type() ~
        "'. Add a `" ~ adapter.type() ~ "__json_array_elements` macro (see macros/cross_db/json_array_elements.sql).") }}
{%- endmacro %}

{#- DuckDB's json extension: json_extract_string(json, '$[*]') is the list of the elements as
    strings; unnest gives one row each -#}
{% macro duckdb__json_array_elements(relation, columns, json_column, alias) -%}
    select {{ columns | join(', ') }}, element as {{ alias }}
    from (
        select {{ columns | join(', ') }}, unnest(json_extract_string({{ json_column }}, '$[*]')) as element
        from {{ relation }}
    ) as elements
{%- endmacro %}

{#- Snowflake: LATERAL FLATTEN over the parsed array (TRY_PARSE_JSON: NULL for text that is not
    JSON), VALUE::varchar the element without JSON quotes -#}
{% macro snowflake__json_array_elements(relation, columns, json_column, alias) -%}
    select {% for c in columns %}source.{{ c }}, {% endfor %}elements.value::varchar as {{ alias }}
    from {{ relation }} as source,
        lateral flatten(input => try_parse_json(source.{{ json_column }})) as elements
{%- endmacro %}
