{#- Surge and collapse: each week, a base or top-level cluster's share of the week's clustered
    conversations against its share over the kura__alerts_baseline_weeks weeks before (pooled
    two-proportion z-test, macros/alerts/alert_statistics.sql). Shares, not counts: a partial
    latest week or more traffic overall is not a surge, and conversations that fit no cluster
    or are not clustered yet do not move them. One candidate per cluster and week whose
    baseline holds at least kura__alerts_min_conversations conversations; a surge is tested when
    at least that many are observed, a collapse when at least that many are expected.
    int_kura__alert_holm_bonferroni decides which are alerts. -#}
{{ config(materialized='ephemeral') }}
{%- set baseline_weeks = var('kura__alerts_baseline_weeks') | int -%}
{%- set min_conversations = var('kura__alerts_min_conversations') | int -%}
{%- set float_type = "double" %}

with clustered_weeks as (
    select week_start, count(*) as conversations
    from {{ ref('int_kura__alert_conversations') }}
    where base_cluster_id is not null
    group by week_start
),

cluster_counts as (
    select cluster_id, week_start, count(*) as conversations
    from {{ ref('int_kura__alert_memberships') }}
    group by cluster_id, week_start
),

share_baselines as (
    select this_week.week_start, sum(earlier.conversations) as baseline_conversations
    from clustered_weeks as this_week
    inner join clustered_weeks as earlier
        on earlier.week_start < this_week.week_start
        and earlier.week_start >= {{ dbt.dateadd('week', -baseline_weeks, 'this_week.week_start') }}
    group by this_week.week_start
),

cluster_baselines as (
    select this_week.week_start, counts.cluster_id, sum(counts.conversations) as baseline_count
    from clustered_weeks as this_week
    inner join cluster_counts as counts
        on counts.week_start < this_week.week_start
        and counts.week_start >= {{ dbt.dateadd('week', -baseline_weeks, 'this_week.week_start') }}
    group by this_week.week_start, counts.cluster_id
),

share_tests as (
    select
        clusters.cluster_id,
        weeks.week_start,
        coalesce(counts.conversations, 0) as observed_count,
        weeks.conversations as week_conversations,
        coalesce(baseline.baseline_count, 0) as baseline_count,
        share_baselines.baseline_conversations,
        cast(coalesce(counts.conversations, 0) as {{ float_type }}) / weeks.conversations as observed_share,
        cast(coalesce(baseline.baseline_count, 0) as {{ float_type }})
            / share_baselines.baseline_conversations as expected_share,
        {{ kura.two_proportion_z(
            'coalesce(counts.conversations, 0)', 'weeks.conversations',
            'coalesce(baseline.baseline_count, 0)', 'share_baselines.baseline_conversations'
        ) }} as z
    from clustered_weeks as weeks
    inner join share_baselines
        on weeks.week_start = share_baselines.week_start
    cross join {{ ref('int_kura__alert_clusters') }} as clusters
    left join cluster_counts as counts
        on clusters.cluster_id = counts.cluster_id
        and weeks.week_start = counts.week_start
    left join cluster_baselines as baseline
        on clusters.cluster_id = baseline.cluster_id
        and weeks.week_start = baseline.week_start
    where share_baselines.baseline_conversations >= {{ min_conversations }}
)

select
    case when z > 0 then 'cluster_surge' else 'cluster_collapse' end as alert_type,
    cluster_id,
    week_start,
    cast(null as {{ dbt.type_string() }}) as facet,
    cast(observed_count as {{ float_type }}) as observed,
    week_conversations * expected_share as expected,
    observed_share,
    expected_share,
    week_conversations,
    baseline_conversations,
    z,
    observed_count >= {{ min_conversations }} as can_rise,
    week_conversations * expected_share >= {{ min_conversations }} as can_fall,
    cast(null as {{ dbt.type_boolean() }}) as from_baseline
from share_tests
