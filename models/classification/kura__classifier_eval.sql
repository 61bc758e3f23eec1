{{ config(materialized='table') }}
{#- How good is the classifier: part of each category's labelled members (var
    kura__classifier_holdout) was held out, the classifier learnt from the rest and the file's
    examples, and classified them. Per category of the current taxonomy version and classifier:
    precision, recall, F1, support (held-out members), how many it sent to `other`, and the
    category it most often took them for. Computed once per taxonomy version and classifier.
    Privacy (docs/privacy.md): the evaluation of a category is made from its labelled members
    (the conversations of the discovered clusters the file maps); a category whose labelled
    members are fewer than var kura__min_cluster_conversations or come from fewer than
    kura__min_cluster_users distinct users (kura.meets_privacy_threshold) keeps its row and id
    with no name and no figure (meets_privacy_threshold false), so that how one person's
    conversation was classified cannot be read off it; nor is it named as another category's
    most_confused_with_name. -#}
{%- set visible = 'coalesce(shown.visible, false)' %}
with state as (
    select *
    from {{ ref('int_kura__classification_state') }}
),

current_run as (
    select taxonomy_version, classifier, classifier_model
    from state
    where record_type = 'run'
        and run_number = (select max(run_number) from state where record_type = 'run')
),

labelled as (
    select
        categories.category_id,
        count(*) as conversations,
        count(distinct facts.user_id) as distinct_users
    from {{ ref('kura__conversation_categories') }} as categories
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on categories.conversation_id = facts.conversation_id
    where categories.status = 'labelled'
    group by categories.category_id
),

shown as (
    select
        categories.category_id,
        {{ kura.meets_privacy_threshold(
            'coalesce(labelled.conversations, 0)', 'coalesce(labelled.distinct_users, 0)'
        ) }} as visible
    from {{ ref('kura__categories') }} as categories
    left join labelled
        on categories.category_id = labelled.category_id
)

select
    state.category_id,
    case when {{ visible }} then categories.name end as name,
    {%- for column in ['support', 'train_size', 'predicted', 'true_positives', 'precision',
                       'recall', 'f1', 'abstained', 'most_confused_with'] %}
    case when {{ visible }} then state.{{ column }} end as {{ column }},
    {%- endfor %}
    case when {{ visible }} and coalesce(confused_shown.visible, false) then confused.name end
        as most_confused_with_name,
    case when {{ visible }} then state.confused_count end as confused_count,
    state.accuracy,
    state.classifier,
    state.classifier_model,
    state.taxonomy_version,
    state.updated_at as evaluated_at,
    {{ visible }} as meets_privacy_threshold
from state
inner join current_run
    on state.taxonomy_version = current_run.taxonomy_version
    and state.classifier = current_run.classifier
    and state.classifier_model = current_run.classifier_model
left join {{ ref('kura__categories') }} as categories
    on state.category_id = categories.category_id
left join {{ ref('kura__categories') }} as confused
    on state.most_confused_with = confused.category_id
left join shown
    on state.category_id = shown.category_id
left join shown as confused_shown
    on state.most_confused_with = confused_shown.category_id
where state.record_type = 'eval'
