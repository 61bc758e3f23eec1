{#- The state the Cortex models keep per row, so that no night bills for nothing (the contract
    shared with the Python models, kura_dbt.failures):

    - `attempts`: the calls made for the row's current input key (content or text hash, model,
      prompt version), the successful one included; a changed key starts again at 1.
    - `error`: the last error; `gave_up`: true once a row has failed var kura__llm_max_attempts
      (3) times for its key. A parked row is not sent again until its key changes or the user
      sets var kura__llm_retry_gave_up: true (one more call per build while it is set).
    - A build in which every row it sent failed fails the model with the first error, unless
      every one of them was a retry of an earlier failure (a row the endpoint always refuses
      must not fail every night); the rows are written first, so their attempts count. -#}


{% macro llm_max_attempts() -%}
    {{ return(var('kura__llm_max_attempts', 3) | int) }}
{%- endmacro %}

{% macro llm_retry_gave_up() -%}
    {{ return(var('kura__llm_retry_gave_up', false) | string | trim | lower in ['true', '1', 'yes']) }}
{%- endmacro %}


{#- `done.<column>` when the model's own table has that column, else `default` (SQL): a table
    built before the column existed gets it on this build (on_schema_change). -#}
{% macro cortex_state_column(column, default) -%}
    {%- set existing = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return('done.' ~ column if column | lower in existing else default) }}
{%- endmacro %}


{#- The WHERE clause that picks the rows to send: new, changed (`same_key` false), or failed
    and not parked. `same_key` is SQL that is true when `done` holds the current input key. -#}
{% macro cortex_to_send(same_key) -%}
    {%- set attempts = kura.cortex_state_column('attempts', '1') -%}
    done.{{ kura.cortex_done_key() }} is null
        or not ({{ same_key }})
        or (done.error is not null
            {%- if not kura.llm_retry_gave_up() %}
            and coalesce({{ attempts }}, 1) < {{ kura.llm_max_attempts() }}
            {%- endif %})
{%- endmacro %}

{#- The calls already made for the current key: what the new attempt adds to. -#}
{% macro cortex_previous_attempts(same_key) -%}
    {%- if is_incremental() -%}
    case when done.{{ kura.cortex_done_key() }} is not null and ({{ same_key }})
        then coalesce({{ kura.cortex_state_column('attempts', '1') }}, 1) else 0 end
    {%- else -%}
    0
    {%- endif -%}
{%- endmacro %}

{% macro cortex_done_key() -%}
    {{ return(config.get('unique_key')) }}
{%- endmacro %}


{#- The columns of the contract, from `attempts` (SQL: calls made for the key, this one
    included) and `error` (SQL: this call's error, NULL on success). -#}
{% macro cortex_state_columns(attempts, error) -%}
    {{ attempts }} as attempts,
    coalesce({{ error }} is not null and {{ attempts }} >= {{ kura.llm_max_attempts() }}, false) as gave_up
{%- endmacro %}


{#- One time for every row this build writes (the build's start, UTC), so that the post-hook
    finds them. -#}
{% macro cortex_run_time() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp_ntz)
{%- endmacro %}


{#- Post-hook of the Cortex models: fails the model when every row this build sent failed and
    at least one was not a retry, with the first error (kura_dbt.failures' wording). `stage`
    names the rows, `time_column` the column set to kura.cortex_run_time(), `where` who was
    asked. -#}
{% macro cortex_check_failures(stage, time_column, where) -%}
    {%- if execute and model.resource_type == 'model' and flags.WHICH in ['run', 'build'] -%}
    {%- set rows = run_query(
        "select count(*), sum(case when error is null then 1 else 0 end), "
        ~ "sum(case when attempts = 1 then 1 else 0 end) from " ~ this
        ~ " where attempts > 0 and " ~ time_column ~ " = " ~ kura.cortex_run_time()).rows -%}
    {%- set sent, succeeded, first_tries = rows[0][0] | int, rows[0][1] | int, rows[0][2] | int -%}
    {%- if sent > 0 and succeeded == 0 and first_tries > 0 -%}
        {%- set first = run_query(
            "select error from " ~ this ~ " where attempts > 0 and error is not null and "
            ~ time_column ~ " = " ~ kura.cortex_run_time() ~ " order by "
            ~ config.get('unique_key') ~ " limit 1").rows[0][0] -%}
        {{ exceptions.raise_compiler_error(
            "kura: " ~ sent ~ " of " ~ sent ~ " " ~ stage ~ " attempted in this run failed ("
            ~ where ~ "); the first error: " ~ first) }}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
