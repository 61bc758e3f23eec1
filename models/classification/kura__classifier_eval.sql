{{ config(materialized='table') }}
{#- How good is the classifier: part of each category's labelled members (var
    kura__classifier_holdout) was held out, the classifier learnt from the rest and the file's
    examples, and classified them. Per category of the current taxonomy version and classifier:
    precision, recall, F1, support (held-out members), how many it sent to `other`, and the
    category it most often took them for. Computed once per taxonomy version and classifier. -#}
with state as (
    select *
    from {{ ref('int_kura__classification_state') }}
),

current_run as (
    select taxonomy_version, classifier, classifier_model
    from state
    where record_type = 'run'
        and run_number = (select max(run_number) from state where record_type = 'run')
)

select
    state.category_id,
    categories.name,
    state.support,
    state.train_size,
    state.predicted,
    state.true_positives,
    state.precision,
    state.recall,
    state.f1,
    state.abstained,
    state.most_confused_with,
    confused.name as most_confused_with_name,
    state.confused_count,
    state.accuracy,
    state.classifier,
    state.classifier_model,
    state.taxonomy_version,
    state.updated_at as evaluated_at
from state
inner join current_run
    on state.taxonomy_version = current_run.taxonomy_version
    and state.classifier = current_run.classifier
    and state.classifier_model = current_run.classifier_model
left join {{ ref('kura__categories') }} as categories
    on state.category_id = categories.category_id
left join {{ ref('kura__categories') }} as confused
    on state.most_confused_with = confused.category_id
where state.record_type = 'eval'
