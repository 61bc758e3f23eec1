{#- Column names of an input relation (lower-cased), read at run time with a zero-row query.
    Returns an empty list while dbt parses. -#}
{% macro input_columns(relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set result = run_query('select * from ' ~ relation ~ ' where 1 = 0') -%}
    {%- set names = [] -%}
    {%- for name in result.column_names -%}{%- do names.append(name | lower) -%}{%- endfor -%}
    {{ return(names) }}
{%- endmacro %}

{#- Fail with a clear message when a required input column is missing.
    `var_name` is the var that points at the relation, `columns` maps the contract name to the
    var holding the user's column name, e.g. {'conversation_id': 'kura__conversation_id_column'}. -#}
{% macro require_columns(relation, var_name, columns) -%}
    {%- if execute -%}
        {%- set present = kura.input_columns(relation) -%}
        {%- set missing = [] -%}
        {%- for contract_name, column_var in columns.items() -%}
            {%- if var(column_var) | lower not in present -%}
                {%- do missing.append(contract_name ~ " (column '" ~ var(column_var) ~ "', set by var " ~ column_var ~ ")") -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if missing | length > 0 -%}
            {{ exceptions.raise_compiler_error(
                "kura: the input " ~ relation ~ " (var " ~ var_name ~ ") lacks required column(s): " ~
                missing | join(', ') ~ ". Columns found: " ~ present | join(', ') ~
                ". Point the column var at your column name, e.g. `vars: {" ~ (columns.values() | list)[0] ~ ": my_column}`.") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The user's column if the input has it, else a typed NULL. For optional contract columns. -#}
{% macro optional_column(relation, column_var, data_type) -%}
    {%- set present = kura.input_columns(relation) -%}
    {%- if not execute or var(column_var) | lower in present -%}
        cast({{ var(column_var) }} as {{ data_type }})
    {%- else -%}
        cast(null as {{ data_type }})
    {%- endif -%}
{%- endmacro %}

{#- True when an optional input var is set (not none / empty). -#}
{% macro input_enabled(var_name) -%}
    {%- set value = var(var_name, none) -%}
    {{ return(value is not none and (value | string | trim) not in ('', 'None', 'none', 'null')) }}
{%- endmacro %}
