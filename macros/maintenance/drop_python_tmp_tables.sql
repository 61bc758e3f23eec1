{#-
    Drop the `<model>__dbt_tmp<timestamp>` tables that dbt-duckdb leaves behind after every
    incremental run of a Python model.

    Why they pile up (dbt-duckdb 1.11, plain DuckDB files, not MotherDuck): the incremental
    materialization asks `duckdb__dispatch_temporary_relation` for a temporary relation
    (`make_temp_relation`: `<model>__dbt_tmp` + `py_current_timestring()`, no schema,
    `temporary: true`), and so never puts it in `to_drop`. SQL models do get a `create
    temporary table`, which DuckDB discards with the connection; but for Python models
    `py_write_table` ignores its `temporary` argument and runs a plain
    `create table "<model>__dbt_tmp..."` on a fresh cursor: a permanent table in the
    database's default schema, holding a copy of the rows the model computed, and a new
    name on every run.

    Used as a post-hook on every kura model (dbt_project.yml: `models: kura: +post-hook`), so
    that nothing is asked of users. It does nothing unless the model is an incremental Python
    model on DuckDB (not MotherDuck, where dbt-duckdb drops its own `dbt_temp` tables), and it
    drops every leftover of that model, so tables left by earlier builds (or by a run that
    failed half way) go too. Your own incremental Python models can use it the same way:
        +post-hook: "{{ kura.drop_python_tmp_tables() }}"

    Returns no SQL (dbt skips an empty hook); the drops run while the hook is rendered.
-#}
{% macro drop_python_tmp_tables(relation=none) -%}
    {{ return(adapter.dispatch('drop_python_tmp_tables', 'kura')(relation)) }}
{%- endmacro %}

{#- Other adapters (Snowflake, ...) create real temporary tables: nothing to do. -#}
{% macro default__drop_python_tmp_tables(relation=none) -%}
    {{ return('') }}
{%- endmacro %}

{% macro duckdb__drop_python_tmp_tables(relation=none) -%}
    {%- if not execute or adapter.is_motherduck() -%}
        {{ return('') }}
    {%- endif -%}
    {%- if relation is none -%}
        {#- as a post-hook: only incremental Python models leave tables behind -#}
        {%- if model is not mapping or model.get('language') != 'python'
              or config.get('materialized') != 'incremental' -%}
            {{ return('') }}
        {%- endif -%}
        {%- set relation = this -%}
    {%- endif -%}

    {#- The leftover is created unqualified on a fresh cursor, so it lands in the database's
        default catalog and schema; this hook's connection has the same defaults. -#}
    {%- set prefix = relation.identifier ~ '__dbt_tmp' -%}
    {%- set leftovers_sql -%}
        select database_name, schema_name, table_name
        from duckdb_tables()
        where not temporary
          and database_name = current_database()
          and schema_name = current_schema()
          and starts_with(table_name, '{{ prefix | replace("'", "''") }}')
          and regexp_full_match(substr(table_name, {{ prefix | length + 1 }}), '[0-9]+')
        order by table_name
    {%- endset -%}
    {%- for row in run_query(leftovers_sql).rows -%}
        {%- set leftover = api.Relation.create(
                database=row[0], schema=row[1], identifier=row[2], type='table') -%}
        {{ log('kura: dropping leftover ' ~ leftover, info=false) }}
        {%- do adapter.drop_relation(leftover) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}

{#- At the start of every dbt invocation (on-run-start, dbt_project.yml): the leftovers of
    every incremental Python model of the project, so that a build killed while one held its
    rows in `<model>__dbt_tmp<timestamp>` (tests/dbt/test_killed_build.py) leaves them only
    until the next `dbt build`, `run`, `test` or `seed` of any selection, not until that model
    runs again. -#}
{% macro drop_all_python_tmp_tables() -%}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- for node in graph.nodes.values()
          if node.resource_type == 'model' and node.language == 'python'
          and node.config.materialized == 'incremental' -%}
        {%- do kura.drop_python_tmp_tables(api.Relation.create(identifier=node.alias)) -%}
    {%- endfor -%}
    {{ return('') }}
{%- endmacro %}
