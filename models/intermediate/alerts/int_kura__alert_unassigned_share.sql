{#- Unassigned share rising: each week, the share of the conversations checked against an
    existing taxonomy (assigned by a later build, not discovered; with a pinned taxonomy,
    classified) that fit no cluster (novel; pinned: the `other` category), against the
    baseline share, or against the nominal share 1 - kura__assign_radius_quantile when that is
    higher or the baseline has fewer than kura__alerts_min_conversations: new kinds of
    conversations, time to re-discover. Left out: conversations clustered at a discovery
    (discovered, noise), and with a pinned taxonomy the labelled ones and errors. One candidate
    per week, tested upwards only (fewer conversations fitting no cluster is no news). -#}
{{ config(materialized='ephemeral') }}
{%- set baseline_weeks = var('kura__alerts_baseline_weeks') | int -%}
{%- set min_conversations = var('kura__alerts_min_conversations') | int -%}
{%- set nominal_unassigned = 1 - (var('kura__assign_radius_quantile') | float) -%}
{%- set float_type = "double" -%}
{%- set string_type = dbt.type_string() %}

with assessed_weeks as (
    select
        week_start,
        count(*) as conversations,
        sum(case when is_unclustered or assignment_status = 'other' then 1 else 0 end) as unassigned
    from {{ ref('int_kura__alert_conversations') }}
    where assignment_status is not null
        and assignment_status not in ('discovered', 'noise', 'labelled', 'error')
    group by week_start
),

unassigned_baselines as (
    select
        this_week.week_start,
        this_week.conversations as week_conversations,
        this_week.unassigned as observed_count,
        coalesce(sum(earlier.conversations), 0) as baseline_conversations,
        coalesce(sum(earlier.unassigned), 0) as baseline_count
    from assessed_weeks as this_week
    left join assessed_weeks as earlier
        on earlier.week_start < this_week.week_start
        and earlier.week_start >= {{ dbt.dateadd('week', -baseline_weeks, 'this_week.week_start') }}
    group by this_week.week_start, this_week.conversations, this_week.unassigned
),

unassigned_tests as (
    select
        *,
        cast(observed_count as {{ float_type }}) / week_conversations as observed_share,
        case
            when baseline_conversations >= {{ min_conversations }}
                and cast(baseline_count as {{ float_type }}) / baseline_conversations > {{ nominal_unassigned }}
            then cast(baseline_count as {{ float_type }}) / baseline_conversations
            else {{ nominal_unassigned }}
        end as expected_share,
        baseline_conversations >= {{ min_conversations }}
            and cast(baseline_count as {{ float_type }}) / nullif(baseline_conversations, 0) > {{ nominal_unassigned }}
            as from_baseline
    from unassigned_baselines
)

select
    'unassigned_share_rising' as alert_type,
    cast(null as {{ string_type }}) as cluster_id,
    week_start,
    cast(null as {{ string_type }}) as facet,
    cast(observed_count as {{ float_type }}) as observed,
    week_conversations * expected_share as expected,
    observed_share,
    expected_share,
    week_conversations,
    baseline_conversations,
    case
        when from_baseline then {{ kura.two_proportion_z(
            'observed_count', 'week_conversations', 'baseline_count', 'baseline_conversations'
        ) }}
        else {{ kura.one_proportion_z('observed_count', 'week_conversations', 'expected_share') }}
    end as z,
    observed_count >= {{ min_conversations }} as can_rise,
    false as can_fall,
    from_baseline
from unassigned_tests
