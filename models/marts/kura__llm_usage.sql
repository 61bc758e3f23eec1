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
    privacy_audit: the texts the privacy auditor scored (int_kura__privacy_audit), its retries
    and parked texts as for summaries.
    A new stage: a CTE of kura.llm_usage_stage (macros/usage/llm_usage.sql) over its state
    table, added to `usage` below. -#}
{%- set embedding_price = var('kura__llm_embedding_cost_per_mtok', none) -%}
{%- set cortex_names = kura.backend('labeller') == 'cortex' -%}
with summaries as (
    {{ kura.llm_usage_stage(
        ref('kura__summaries'), 'summarised_at', "'summaries'", 'summariser',
        pending_after_cap='pending_after_cap') }}
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
        {{ kura.llm_usage_retries() }},
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
    {{ kura.llm_usage_stage(
        ref('kura__taxonomy'),
        'updated_at',
        "case when level = 0 then 'cluster_names' else 'hierarchy' end",
        'labeller',
        model="case
            when labeller = 'openai' then '" ~ var("kura__llm_model") ~ "'
            when labeller = 'cortex' then '" ~ var("kura__cortex_model", "llama3.1-70b") ~ "'
        end",
        prompt_version='cast(null as ' ~ dbt.type_string() ~ ')',
        cost='tokens',
        errors='sum(case when label_error then 1 else 0 end)',
        group_by="updated_at, case when level = 0 then 'cluster_names' else 'hierarchy' end, labeller",
    ) }}
),

{# the Cortex classifier's calls are made in SQL and counted in ai_classify below -#}
classification as (
    {{ kura.llm_usage_stage(
        ref('int_kura__classification_state'),
        'updated_at',
        "case when record_type = 'eval' then 'classifier_eval' else 'classification' end",
        'classifier',
        model='classifier_model',
        prompt_version='taxonomy_version',
        cost='tokens',
        where="(record_type = 'conversation' and status != 'labelled' and classifier != 'cortex')
        or record_type = 'eval'",
        group_by='updated_at, record_type, classifier, classifier_model, taxonomy_version',
    ) }}
),

{#- the privacy auditor (var kura__auditor): one call per distinct text it scored -#}
privacy_audit as (
    {{ kura.llm_usage_stage(
        ref('int_kura__privacy_audit'), 'audited_at', "'privacy_audit'", 'auditor') }}
),

{#- the public labels of visible parents with hidden children (kura_dbt.taxonomy.privacy): the
    last label asked for per cluster, at the build that asked; a call the budget cap refused is
    not an error but leaves the label pending (budget_cap_reached) -#}
public_labels as (
    {{ kura.llm_usage_stage(
        "(select
            public_labelled_at,
            labeller,
            case when labeller = 'openai' then '" ~ var('kura__llm_model') ~ "' end as model,
            cast(null as " ~ dbt.type_string() ~ ") as prompt_version,
            public_llm_calls as llm_calls,
            public_prompt_tokens as prompt_tokens,
            public_completion_tokens as completion_tokens,
            case when public_label_error not like 'kura: not sent, %' then public_label_error
            end as error,
            sum(case when public_label_error like 'kura: not sent, %' then 1 end)
                over (partition by public_labelled_at, labeller) as not_sent,
            1 as attempts,
            false as gave_up
        from " ~ ref('int_kura__cluster_state') ~ "
        where record_type = 'cluster' and public_labelled_at is not null) as labels",
        'public_labelled_at', "'public_labels'", 'labeller',
        cost='tokens', pending_after_cap='not_sent') }}
),

{#- the auditor's scores of withheld cluster texts made again without their private details
    (int_kura__privacy_relabels, kura_dbt.privacy_relabel) -#}
privacy_relabel as (
    {{ kura.llm_usage_stage(
        "(select *, 1 as attempts, false as gave_up
        from " ~ ref('int_kura__privacy_relabels') ~ ") as relabels",
        'relabelled_at', "'privacy_relabel'", 'auditor') }}
),

{#- AI_CLASSIFY (kura__classifier: cortex): every embedded text sent, one call per taxonomy
    level; empty with any other classifier. Tokens are estimates (its answer reports no usage). -#}
ai_classify as (
    {{ kura.llm_usage_stage(
        ref('int_kura__cortex_classifications'),
        'classified_at',
        'stage',
        'backend',
        prompt_version='taxonomy_hash',
        cost='tokens',
        group_by='classified_at, stage, backend, model, taxonomy_hash',
    ) }}
){% if cortex_names %},

{#- names Cortex failed to give: kura__taxonomy shows the local name for them -#}
cortex_naming_failures as (
    {{ kura.llm_usage_stage(
        ref('int_kura__cortex_cluster_names'),
        'named_at',
        "case when level = 0 then 'cluster_names' else 'hierarchy' end",
        "'cortex'",
        cost='tokens',
        errors='count(*)',
        where='error is not null',
        group_by="named_at, case when level = 0 then 'cluster_names' else 'hierarchy' end, model,
        prompt_version",
    ) }}
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
