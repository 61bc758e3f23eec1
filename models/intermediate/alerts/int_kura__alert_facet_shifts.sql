{#- Facet shift: each week, a facet's mean (user_frustration, concerning_score, thumbs_up_rate,
    avg_rating) in a base or top-level cluster against its mean over the
    kura__alerts_baseline_weeks weeks before (z-test of the two means, variance pooled,
    macros/alerts/alert_statistics.sql), when the facet is present in at least
    kura__alerts_min_conversations of the cluster's conversations in both. Tested up and
    down. -#}
{{ config(materialized='ephemeral') }}
{%- set baseline_weeks = var('kura__alerts_baseline_weeks') | int -%}
{%- set min_conversations = var('kura__alerts_min_conversations') | int -%}
{%- set float_type = "double" %}

with facet_values as (
    {%- for facet in ['user_frustration', 'concerning_score', 'thumbs_up_rate', 'avg_rating'] %}
    select conversation_id, '{{ facet }}' as facet, cast({{ facet }} as {{ float_type }}) as value
    from {{ ref('int_kura__alert_conversations') }}
    where {{ facet }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

facet_weeks as (
    select
        memberships.cluster_id,
        memberships.week_start,
        facet_values.facet,
        count(*) as n,
        sum(facet_values.value) as s,
        sum(facet_values.value * facet_values.value) as ss
    from {{ ref('int_kura__alert_memberships') }} as memberships
    inner join facet_values
        on memberships.conversation_id = facet_values.conversation_id
    group by memberships.cluster_id, memberships.week_start, facet_values.facet
),

facet_tests as (
    select
        this_week.cluster_id,
        this_week.week_start,
        this_week.facet,
        this_week.n as week_conversations,
        sum(earlier.n) as baseline_conversations,
        this_week.s / this_week.n as observed,
        sum(earlier.s) / sum(earlier.n) as expected,
        {{ kura.mean_shift_z(
            'this_week.n', 'this_week.s', 'this_week.ss', 'sum(earlier.n)', 'sum(earlier.s)', 'sum(earlier.ss)'
        ) }} as z
    from facet_weeks as this_week
    inner join facet_weeks as earlier
        on this_week.cluster_id = earlier.cluster_id
        and this_week.facet = earlier.facet
        and earlier.week_start < this_week.week_start
        and earlier.week_start >= {{ dbt.dateadd('week', -baseline_weeks, 'this_week.week_start') }}
    where this_week.n >= {{ min_conversations }}
    group by this_week.cluster_id, this_week.week_start, this_week.facet, this_week.n, this_week.s, this_week.ss
    having sum(earlier.n) >= {{ min_conversations }}
)

select
    'facet_shift' as alert_type,
    cluster_id,
    week_start,
    facet,
    observed,
    expected,
    cast(null as {{ float_type }}) as observed_share,
    cast(null as {{ float_type }}) as expected_share,
    week_conversations,
    baseline_conversations,
    z,
    true as can_rise,
    true as can_fall,
    cast(null as {{ dbt.type_boolean() }}) as from_baseline
from facet_tests
