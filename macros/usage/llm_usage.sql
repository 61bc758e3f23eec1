{#- The shape of kura__llm_usage's stages (models/marts/kura__llm_usage.sql): every stage's CTE
    has the same columns, in the same order, so that they union. -#}


{#- The bounded-retry columns (kura_dbt.parking) of a group of rows that have `attempts`,
    `llm_calls` and `gave_up`: retried_items (rows sent again after an earlier failure for the
    same input, attempts > 1), retry_llm_calls (their calls) and parked (the rows the run
    parked). -#}
{% macro llm_usage_retries() -%}
sum(case when attempts > 1 then 1 else 0 end) as retried_items,
        sum(case when attempts > 1 then coalesce(llm_calls, 0) else 0 end) as retry_llm_calls,
        sum(case when gave_up then 1 else 0 end) as parked
{%- endmacro %}


{#- The cost of a group's prompt and completion tokens at vars kura__llm_input_cost_per_mtok
    and kura__llm_output_cost_per_mtok (NULL when either is unset); `retries`: of the rows that
    were retries (attempts > 1) only, NULL when there were none. -#}
{% macro llm_usage_token_cost(retries=false) -%}
{%- set input_price = var('kura__llm_input_cost_per_mtok', none) -%}
{%- set output_price = var('kura__llm_output_cost_per_mtok', none) -%}
{%- if input_price is none or output_price is none -%}
cast(null as {{ dbt.type_float() }})
{%- elif retries -%}
{#- NULL when the group retried nothing, as a sum over no rows' cost_usd is -#}
case when max(attempts) > 1 then
            (sum(case when attempts > 1 then coalesce(prompt_tokens, 0) else 0 end) * {{ input_price }}
            + sum(case when attempts > 1 then coalesce(completion_tokens, 0) else 0 end)
            * {{ output_price }}) / 1000000.0 end
{%- else -%}
(sum(coalesce(prompt_tokens, 0)) * {{ input_price }}
            + sum(coalesce(completion_tokens, 0)) * {{ output_price }}) / 1000000.0
{%- endif -%}
{%- endmacro %}


{#- One stage of kura__llm_usage from a state table with a row per item sent to the LLM (its
    llm_calls, prompt_tokens, completion_tokens, attempts, gave_up), grouped by run, backend,
    model and prompt version. Arguments are SQL on the table's columns: `run_at` (the run's
    time), `stage` (the stage's name), `backend`, `model`, `prompt_version`; `cost`: 'items'
    (the rows' own cost_usd, at the prices of the run that wrote them) or 'tokens' (the tokens
    at the configured prices); `errors`: the group's failed items (default: the rows with an
    error); `where`: the rows that count; `group_by`: the group (default: run_at, backend,
    model, prompt_version); `pending_after_cap`: the column that counts what the run's budget
    cap left pending (none: the stage has no cap of its own). -#}
{% macro llm_usage_stage(
    relation,
    run_at,
    stage,
    backend,
    model='model',
    prompt_version='prompt_version',
    cost='items',
    errors=none,
    where=none,
    group_by=none,
    pending_after_cap=none
) -%}
    select
        {{ run_at }} as run_at,
        {{ stage }} as stage,
        {{ backend }} as backend,
        {{ model }} as model,
        {{ prompt_version }} as prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        {% if cost == 'items' -%}
        sum(cost_usd)
        {%- else -%}
        {{ kura.llm_usage_token_cost() }}
        {%- endif %} as cost_usd,
        {{ errors or 'sum(case when error is not null then 1 else 0 end)' }} as errors,
        {%- if pending_after_cap is not none %}
        -- the run stopped at its budget cap (var kura__llm_max_calls / kura__llm_max_cost_usd)
        -- and left this many items pending for the next run
        max({{ pending_after_cap }}) is not null as budget_cap_reached,
        max({{ pending_after_cap }}) as pending_after_cap,
        {%- else %}
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {%- endif %}
        {{ kura.llm_usage_retries() }},
        {% if cost == 'items' -%}
        sum(case when attempts > 1 then cost_usd end)
        {%- else -%}
        {{ kura.llm_usage_token_cost(retries=true) }}
        {%- endif %} as retry_cost_usd
    from {{ relation }}
    {%- if where %}
    where {{ where }}
    {%- endif %}
    group by {{ group_by or (run_at ~ ', ' ~ backend ~ ', ' ~ model ~ ', ' ~ prompt_version) }}
{%- endmacro %}
