{#- One row per conversation: its summary and facets, base and top-level cluster, map position,
    feedback and the user's plan and revenue.
    Privacy: cluster names come from kura__clusters and are therefore NULL for clusters below
    the privacy thresholds, and so are the summary, request and task of a conversation whose
    base or top-level cluster is below them (or that is in no cluster):
    cluster_meets_privacy_threshold says which. Every summary stays in kura__summaries, in the
    private schema.
    Privacy audit: a summary, request or task scoring below var kura__privacy_min_score on
    CLIO's 1-5 scale (int_kura__privacy_audit) is NULL here, and privacy_withheld is true.
    With a pinned taxonomy (var kura__pinned_taxonomy) the base cluster is the conversation's pinned
    category (`other` included; top level: its top-level ancestor), assignment_status is
    labelled / classified / other / error, nearest_cluster_id the classifier's best category,
    and distance_to_centroid and assignment_epoch are NULL. -#}
{%- set shown = 'coalesce(base.meets_privacy_threshold and top_level.meets_privacy_threshold, false)' %}
{% if kura.taxonomy_pinned() -%}
with pinned_assignments as (
    select
        conversation_id,
        category_id as cluster_id,
        cast(null as {{ dbt.type_float() }}) as distance,
        category_id is null as is_unclustered,
        status,
        nearest_category_id as nearest_cluster_id,
        cast(null as {{ dbt.type_bigint() }}) as epoch
    from {{ ref('kura__conversation_categories') }}
)

{% endif -%}
select
    facts.conversation_id,
    facts.user_id,
    facts.created_at,
    facts.turn_count,
    facts.summary is not null as is_summarised,
    case when {{ shown }} and {{ kura.privacy_shown('summary_audit') }} then facts.summary end as summary,
    case when {{ shown }} and {{ kura.privacy_shown('request_audit') }} then facts.request end as request,
    case when {{ shown }} and {{ kura.privacy_shown('task_audit') }} then facts.task end as task,
    not (
        ({{ kura.privacy_shown('summary_audit') }} or facts.summary is null)
        and ({{ kura.privacy_shown('request_audit') }} or facts.request is null)
        and ({{ kura.privacy_shown('task_audit') }} or facts.task is null)
    ) as privacy_withheld,
    facts.languages,
    facts.flags,
    facts.concerning_score,
    facts.user_frustration,
    facts.summary_error,
    conversation_clusters.cluster_id as base_cluster_id,
    base.name as base_cluster_name,
    base.top_cluster_id,
    top_level.name as top_cluster_name,
    {{ shown }} as cluster_meets_privacy_threshold,
    cast(conversation_clusters.distance as double) as distance_to_centroid,  -- FLOAT when pinned: one type for the contract
    coalesce(conversation_clusters.is_unclustered, conversation_clusters.conversation_id is null) as is_unclustered,
    conversation_clusters.status as assignment_status,
    conversation_clusters.nearest_cluster_id,
    conversation_clusters.epoch as assignment_epoch,
    projections.x,
    projections.y,
    facts.feedback_count,
    cast(facts.thumbs_up_count as {{ dbt.type_float() }}) / nullif(facts.thumbs_count, 0) as thumbs_up_rate,
    cast(facts.avg_rating as double) as avg_rating,
    facts.plan,
    facts.revenue
from {{ ref('int_kura__conversation_facts') }} as facts
left join {% if kura.taxonomy_pinned() %}pinned_assignments{% else %}{{ ref('kura__conversation_clusters') }}{% endif %} as conversation_clusters
    on facts.conversation_id = conversation_clusters.conversation_id
left join {{ ref('kura__clusters') }} as base
    on conversation_clusters.cluster_id = base.cluster_id
left join {{ ref('kura__clusters') }} as top_level
    on base.top_cluster_id = top_level.cluster_id
left join {{ kura.privacy_audit_join('summary_audit', 'facts.summary') }}
left join {{ kura.privacy_audit_join('request_audit', 'facts.request') }}
left join {{ kura.privacy_audit_join('task_audit', 'facts.task') }}
left join {{ ref('kura__projections') }} as projections
    on projections.point_type = 'conversation'
    and facts.conversation_id = projections.point_id
