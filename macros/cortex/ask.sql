{#- What the Cortex models that ask AI_COMPLETE one question per row share (kura__summaries,
    int_kura__cortex_cluster_names, int_kura__privacy_audit): the call and its parsing
    (kura.cortex_ask), the row's error (kura.cortex_call_error), the usage and its cost
    (kura.cortex_usage_columns). Counting the attempts is macros/cortex/state.sql's. -#}


{#- The CTEs `answered`, `detailed` and `answers` after the CTE `source`, whose rows have a
    column `prompt`: one AI_COMPLETE call per row with `request`'s response format (only for the
    rows where `send_when`, SQL, is true, when it is given; the others get a NULL response),
    `response` (the raw answer), `details` (its show_details object) and `answer` (the model's
    answer object). `stand_in_answer`: the SQL of the answer object the stand-in returns
    (var kura__cortex_stand_in). -#}
{% macro cortex_ask(model_name, request, stand_in_answer, send_when=none, source='prompts') -%}
{%- set call = kura.cortex_complete(
    model_name,
    'prompt',
    request['response_format_sql'],
    var('kura__cortex_max_output_tokens', 1024),
    stand_in_answer,
) -%}
answered as (
    select
        *,
        {% if send_when is not none -%}
        case
            when {{ send_when }} then {{ call }}
        end
        {%- else -%}
        {{ call }}
        {%- endif %} as response
    from {{ source }}
),

detailed as (
    select *, {{ kura.cortex_details('response') }} as details
    from answered
),

answers as (
    select *, {{ kura.cortex_answer('details') }} as answer
    from detailed
)
{%- endmacro %}


{#- The row's error, NULL when the call succeeded: the error AI_COMPLETE reported for it, no
    answer at all, or an answer without what the model asked for (`missing`: SQL on `answer`,
    true when it lacks it; `wanted`: what it lacks, for the message). `subject` names the row
    ('conversation', 'cluster', 'text'); `before`: WHEN clauses that decide first. -#}
{% macro cortex_call_error(subject, missing, wanted, before='') -%}
case
            {%- if before %}
            {{ before }}
            {%- endif %}
            when {{ kura.cortex_error('response') }} is not null then {{ kura.cortex_error('response') }}
            when response is null then 'Cortex AI_COMPLETE returned no answer (NULL) for this {{ subject }}'
            when {{ missing }}
                then 'Cortex AI_COMPLETE answered without {{ wanted }} (answer: '
                    || left(to_varchar(details), 200) || ')'
        end
{%- endmacro %}


{#- prompt_tokens and completion_tokens from AI_COMPLETE's usage answer, and with `cost` the
    cost_usd of the call at vars kura__llm_input_cost_per_mtok and kura__llm_output_cost_per_mtok
    (NULL when either is unset). -#}
{% macro cortex_usage_columns(cost=true) -%}
    {%- set input_price = var('kura__llm_input_cost_per_mtok', none) -%}
    {%- set output_price = var('kura__llm_output_cost_per_mtok', none) -%}
    details:usage:prompt_tokens::int as prompt_tokens,
    details:usage:completion_tokens::int as completion_tokens
    {%- if cost %},
    {% if input_price is not none and output_price is not none -%}
    (coalesce(details:usage:prompt_tokens::int, 0) * {{ input_price }}
        + coalesce(details:usage:completion_tokens::int, 0) * {{ output_price }}) / 1000000.0
    {%- else -%}
    cast(null as float)
    {%- endif %} as cost_usd
    {%- endif %}
{%- endmacro %}
