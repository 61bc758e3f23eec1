{#-
  `dbt run-operation kura_stage_library`: put the kura_dbt library that this package carries
  (snowflake/kura_dbt.zip) on the stage the Python models import it from, so that a dbt Cloud
  job needs dbt commands only: `dbt deps`, this, `dbt build`.

  The stage is fully qualified (@<database>.<schema>.kura_stage of the target, or var
  kura__snowflake_stage), so the procedures' IMPORTS resolve in a pull-request schema and a
  developer's schema alike. The statements are those of kura_dbt.snowflake_library
  .stage_statements, which `kura stage` runs (tests/snowflake/test_stage_library.py holds them
  equal). PUT reads the file on the machine dbt runs on, relative to the directory dbt runs in
  (dbt Cloud: the project's root, where dbt deps installs this package under dbt_packages/kura);
  var kura__snowflake_library_zip names another path. dry_run=true only logs the statements.
-#}
{% macro kura_stage_library(dry_run=false) -%}
  {{ return(adapter.dispatch('kura_stage_library', 'kura')(dry_run)) }}
{%- endmacro %}

{% macro default__kura_stage_library(dry_run=false) -%}
  {{ exceptions.raise_compiler_error(
      "kura_stage_library stages the library for Snowflake's Python procedures; target '"
      ~ target.name ~ "' is " ~ target.type ~ ", where the Python models import the installed "
      ~ "kura_dbt") }}
{%- endmacro %}

{% macro snowflake__kura_stage_library(dry_run=false) -%}
  {%- for sql in kura.kura_library_stage_statements() %}
    {{- log("kura_stage_library: " ~ sql, info=true) }}
    {%- if not dry_run %}{% do run_query(sql) %}{% endif %}
  {%- endfor %}
{%- endmacro %}

{#- The Snowflake stage (not a pipeline stage) the library is put on, as {database, schema,
    name}, checked: a Snowflake stage that is not fully qualified would resolve in whatever
    schema a session is in. -#}
{% macro kura_library_stage() -%}
  {%- set snowflake_stage = var('kura__snowflake_stage', none) -%}
  {%- if snowflake_stage is none or (snowflake_stage | string | trim) == '' -%}
    {{ return({'database': target.database, 'schema': target.schema, 'name': 'kura_stage'}) }}
  {%- endif -%}
  {%- set parts = (snowflake_stage | string | trim).lstrip('@').split('.') -%}
  {%- set identifier = '[A-Za-z_][A-Za-z0-9_$]*' -%}
  {%- set bad = [] -%}
  {%- for part in parts if not modules.re.fullmatch(identifier, part) -%}
    {%- do bad.append(part) -%}
  {%- endfor -%}
  {%- if parts | length != 3 or bad -%}
    {{ exceptions.raise_compiler_error(
        "var kura__snowflake_stage is '" ~ snowflake_stage ~ "': name a fully qualified stage, "
        ~ "@<database>.<schema>.<stage>, or leave it empty for @" ~ target.database ~ "."
        ~ target.schema ~ ".kura_stage") }}
  {%- endif -%}
  {{ return({'database': parts[0], 'schema': parts[1], 'name': parts[2]}) }}
{%- endmacro %}

{% macro kura_library_stage_statements() -%}
  {%- set s = kura.kura_library_stage() -%}
  {%- set zip = var('kura__snowflake_library_zip', none)
        or ('snowflake/kura_dbt.zip' if project_name == 'kura'
            else 'dbt_packages/kura/snowflake/kura_dbt.zip') -%}
  {%- set own_schema = (s.database | lower) == (target.database | lower)
        and (s.schema | lower) == (target.schema | lower) -%}
  {%- set statements = [] -%}
  {%- if own_schema -%}
    {%- do statements.append('create schema if not exists ' ~ s.database ~ '.' ~ s.schema) -%}
  {%- endif -%}
  {%- do statements.append(
      'create stage if not exists ' ~ s.database ~ '.' ~ s.schema ~ '.' ~ s.name) -%}
  {%- do statements.append(
      "put 'file://" ~ zip ~ "' @" ~ s.database ~ '.' ~ s.schema ~ '.' ~ s.name
      ~ ' auto_compress = false overwrite = true') -%}
  {{ return(statements) }}
{%- endmacro %}
