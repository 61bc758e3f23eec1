{#- LLM spending per run, stage and model: calls, tokens, estimated cost and errors.
    A run is one `dbt build` (summarised_at); rows a later run replaced count in that later
    run. The local backends make no calls and show up with zero calls. -#}
select
    summarised_at as run_at,
    'summaries' as stage,
    summariser as backend,
    model,
    prompt_version,
    count(*) as conversations,
    sum(coalesce(llm_calls, 0)) as llm_calls,
    sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
    sum(coalesce(completion_tokens, 0)) as completion_tokens,
    sum(cost_usd) as cost_usd,
    sum(case when error is not null then 1 else 0 end) as errors
from {{ ref('kura__summaries') }}
group by summarised_at, summariser, model, prompt_version
