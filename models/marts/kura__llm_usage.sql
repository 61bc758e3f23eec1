{#- LLM spending per run, stage and model: calls, tokens, estimated cost, errors, and whether
    the run stopped at its budget cap (budget_cap_reached, pending_after_cap).
    A run is one `dbt build` (summarised_at, embedded_at, and for cluster names and the
    hierarchy the discovery that wrote the cluster's row in kura__taxonomy); rows a later run
    replaced count in that later run. Names are only asked for at a discovery, and not for a
    cluster that kept its name. Classification into a pinned taxonomy (var kura__pinned_taxonomy):
    stage classification (the conversations the classifier was asked about; a batch's calls
    are counted on its first conversation) and classifier_eval (the held-out members, once per
    taxonomy version). Local backends make no calls.
    Bounded retries (vars kura__llm_max_attempts, kura__llm_retry_gave_up): retried_items are the
    rows a run sent again after an earlier failure for the same input (attempts > 1),
    retry_llm_calls and retry_cost_usd what those cost, parked the rows the run parked (gave_up:
    not sent again until their input, model or prompt changes); a parked row stays in the run
    that parked it, so the sum of parked over all runs is what is parked now. With the Cortex
    labeller the names Cortex failed to give are counted from int_kura__cortex_cluster_names;
    with the Cortex classifier its calls from int_kura__cortex_classifications. Stage
    privacy_audit: the texts the privacy auditor scored (int_kura__privacy_audit). -#}
{%- set input_price = var('kura__llm_input_cost_per_mtok', none) -%}
{%- set output_price = var('kura__llm_output_cost_per_mtok', none) -%}
{%- set embedding_price = var('kura__llm_embedding_cost_per_mtok', none) -%}
{#- the cost of a group's prompt and completion tokens at the configured prices -#}
{%- set token_cost -%}
{%- if input_price is not none and output_price is not none -%}
(sum(coalesce(prompt_tokens, 0)) * {{ input_price }}
            + sum(coalesce(completion_tokens, 0)) * {{ output_price }}) / 1000000.0
{%- else -%}
cast(null as {{ dbt.type_float() }})
{%- endif -%}
{%- endset -%}
{#- the same for the rows that were retries (attempts > 1) -#}
{%- set retry_token_cost -%}
{%- if input_price is not none and output_price is not none -%}
(sum(case when attempts > 1 then coalesce(prompt_tokens, 0) else 0 end) * {{ input_price }}
            + sum(case when attempts > 1 then coalesce(completion_tokens, 0) else 0 end)
            * {{ output_price }}) / 1000000.0
{%- else -%}
cast(null as {{ dbt.type_float() }})
{%- endif -%}
{%- endset -%}
{%- set retries -%}
sum(case when attempts > 1 then 1 else 0 end) as retried_items,
        sum(case when attempts > 1 then coalesce(llm_calls, 0) else 0 end) as retry_llm_calls,
        sum(case when gave_up then 1 else 0 end) as parked
{%- endset -%}
{%- set cortex_names = kura.backend('labeller') == 'cortex' -%}
with summaries as (
    select
        summarised_at as run_at,
        'summaries' as stage,
        summariser as backend,
        model,
        prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        sum(cost_usd) as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        -- the run stopped at its budget cap (var kura__llm_max_calls / kura__llm_max_cost_usd)
        -- and left this many conversations pending for the next run
        max(pending_after_cap) is not null as budget_cap_reached,
        max(pending_after_cap) as pending_after_cap,
        {{ retries }},
        sum(case when attempts > 1 then cost_usd end) as retry_cost_usd
    from {{ ref('kura__summaries') }}
    group by summarised_at, summariser, model, prompt_version
),

embeddings as (
    select
        embedded_at as run_at,
        'embeddings' as stage,
        embedder as backend,
        model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        0 as completion_tokens,
        {% if embedding_price is not none -%}
        sum(coalesce(prompt_tokens, 0)) * {{ embedding_price }} / 1000000.0
        {%- else -%}
        cast(null as {{ dbt.type_float() }})
        {%- endif %} as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {{ retries }},
        {% if embedding_price is not none -%}
        sum(case when attempts > 1 then coalesce(prompt_tokens, 0) else 0 end)
            * {{ embedding_price }} / 1000000.0
        {%- else -%}
        cast(null as {{ dbt.type_float() }})
        {%- endif %} as retry_cost_usd
    from {{ ref('kura__embeddings') }}
    group by embedded_at, embedder, model
),

naming as (
    select
        updated_at as run_at,
        case when level = 0 then 'cluster_names' else 'hierarchy' end as stage,
        labeller as backend,
        case
            when labeller = 'openai' then '{{ var("kura__llm_model") }}'
            when labeller = 'cortex' then '{{ var("kura__cortex_model", "llama3.1-70b") }}'
        end as model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        {{ token_cost }} as cost_usd,
        sum(case when label_error then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {{ retries }},
        {{ retry_token_cost }} as retry_cost_usd
    from {{ ref('kura__taxonomy') }}
    group by updated_at, case when level = 0 then 'cluster_names' else 'hierarchy' end, labeller
),

classification as (
    select
        updated_at as run_at,
        case when record_type = 'eval' then 'classifier_eval' else 'classification' end as stage,
        classifier as backend,
        classifier_model as model,
        taxonomy_version as prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        {{ token_cost }} as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {{ retries }},
        {{ retry_token_cost }} as retry_cost_usd
    from {{ ref('int_kura__classification_state') }}
    -- the Cortex classifier's calls are made in SQL and counted in ai_classify below
    where (record_type = 'conversation' and status != 'labelled' and classifier != 'cortex')
        or record_type = 'eval'
    group by updated_at, record_type, classifier, classifier_model, taxonomy_version
),

{#- the privacy auditor (var kura__auditor): one call per distinct text it scored -#}
privacy_audit as (
    select
        audited_at as run_at,
        'privacy_audit' as stage,
        auditor as backend,
        model,
        prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        sum(cost_usd) as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        0 as retried_items,
        0 as retry_llm_calls,
        0 as parked,
        cast(null as {{ dbt.type_float() }}) as retry_cost_usd
    from {{ ref('int_kura__privacy_audit') }}
    group by audited_at, auditor, model, prompt_version
),

{#- the public labels of visible parents with hidden children (kura_dbt.taxonomy.privacy): the
    last label asked for per cluster, at the build that asked; a call the budget cap refused is
    not an error but leaves the label pending (budget_cap_reached) -#}
public_labels as (
    select
        public_labelled_at as run_at,
        'public_labels' as stage,
        labeller as backend,
        case when labeller = 'openai' then '{{ var("kura__llm_model") }}' end as model,
        cast(null as {{ dbt.type_string() }}) as prompt_version,
        count(*) as items,
        sum(coalesce(public_llm_calls, 0)) as llm_calls,
        sum(coalesce(public_prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(public_completion_tokens, 0)) as completion_tokens,
        {{ token_cost | replace('prompt_tokens', 'public_prompt_tokens') | replace('completion_tokens', 'public_completion_tokens') }} as cost_usd,
        sum(case when public_label_error is not null and public_label_error not like 'kura: not sent, %' then 1 else 0 end) as errors,
        max(case when public_label_error like 'kura: not sent, %' then 1 else 0 end) = 1 as budget_cap_reached,
        sum(case when public_label_error like 'kura: not sent, %' then 1 else 0 end) as pending_after_cap,
        0 as retried_items,
        0 as retry_llm_calls,
        0 as parked,
        cast(null as {{ dbt.type_float() }}) as retry_cost_usd
    from {{ ref('int_kura__cluster_state') }}
    where record_type = 'cluster' and public_labelled_at is not null
    group by public_labelled_at, labeller
),

{#- the auditor's scores of withheld cluster texts made again without their private details
    (int_kura__privacy_relabels, kura_dbt.privacy_relabel) -#}
privacy_relabel as (
    select
        relabelled_at as run_at,
        'privacy_relabel' as stage,
        auditor as backend,
        model,
        prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        sum(cost_usd) as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        0 as retried_items,
        0 as retry_llm_calls,
        0 as parked,
        cast(null as {{ dbt.type_float() }}) as retry_cost_usd
    from {{ ref('int_kura__privacy_relabels') }}
    group by relabelled_at, auditor, model, prompt_version
),

{#- AI_CLASSIFY (kura__classifier: cortex): every embedded text sent, one call per taxonomy
    level; empty with any other classifier. Tokens are estimates (its answer reports no usage). -#}
ai_classify as (
    select
        classified_at as run_at,
        stage,
        backend,
        model,
        taxonomy_hash as prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        {{ token_cost }} as cost_usd,
        sum(case when error is not null then 1 else 0 end) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {{ retries }},
        {{ retry_token_cost }} as retry_cost_usd
    from {{ ref('int_kura__cortex_classifications') }}
    group by classified_at, stage, backend, model, taxonomy_hash
){% if cortex_names %},

{#- names Cortex failed to give: kura__taxonomy shows the local name for them -#}
cortex_naming_failures as (
    select
        named_at as run_at,
        case when level = 0 then 'cluster_names' else 'hierarchy' end as stage,
        'cortex' as backend,
        model,
        prompt_version,
        count(*) as items,
        sum(coalesce(llm_calls, 0)) as llm_calls,
        sum(coalesce(prompt_tokens, 0)) as prompt_tokens,
        sum(coalesce(completion_tokens, 0)) as completion_tokens,
        {{ token_cost }} as cost_usd,
        count(*) as errors,
        false as budget_cap_reached,
        cast(null as {{ dbt.type_bigint() }}) as pending_after_cap,
        {{ retries }},
        {{ retry_token_cost }} as retry_cost_usd
    from {{ ref('int_kura__cortex_cluster_names') }}
    where error is not null
    group by named_at, case when level = 0 then 'cluster_names' else 'hierarchy' end, model,
        prompt_version
){% endif %},

usage as (
    select * from summaries
    union all
    select * from embeddings
    union all
    select * from naming
    union all
    select * from classification
    union all
    select * from ai_classify
    union all
    select * from privacy_audit
    union all
    select * from public_labels
    union all
    select * from privacy_relabel
{%- if cortex_names %}
    union all
    select * from cortex_naming_failures
{%- endif %}
)

-- the casts hold the contract's types on every warehouse (DuckDB's sums of integers are HUGEINT,
-- Snowflake's arithmetic on the price vars NUMBER); they change no value
select
    cast(run_at as {{ dbt.type_timestamp() }}) as run_at,
    stage,
    backend,
    model,
    prompt_version,
    cast(items as {{ dbt.type_bigint() }}) as items,
    cast(llm_calls as {{ dbt.type_bigint() }}) as llm_calls,
    cast(prompt_tokens as {{ dbt.type_bigint() }}) as prompt_tokens,
    cast(completion_tokens as {{ dbt.type_bigint() }}) as completion_tokens,
    cast(cost_usd as double) as cost_usd,
    cast(errors as {{ dbt.type_bigint() }}) as errors,
    budget_cap_reached,
    cast(pending_after_cap as {{ dbt.type_bigint() }}) as pending_after_cap,
    cast(retried_items as {{ dbt.type_bigint() }}) as retried_items,
    cast(retry_llm_calls as {{ dbt.type_bigint() }}) as retry_llm_calls,
    cast(parked as {{ dbt.type_bigint() }}) as parked,
    cast(retry_cost_usd as double) as retry_cost_usd
from usage
