{#- The multiple-testing correction. Every week runs many tests (each cluster, side and facet),
    so a fixed z threshold would alert on noise somewhere every week. The tests of one week are
    one family: the one-sided p-values of the sides whose minimum count is met (can_rise,
    can_fall) go through the Holm-Bonferroni procedure at kura__alerts_false_alarm_rate, so
    that the chance that a week raises even one false alert is at most that rate, however many
    clusters there are and whatever else moved. One row per candidate that passes. -#}
{{ config(materialized='ephemeral') }}
{%- set false_alarm_rate = var('kura__alerts_false_alarm_rate') | float %}

with candidates as (
    select * from {{ ref('int_kura__alert_cluster_shares') }}
    union all
    select * from {{ ref('int_kura__alert_unassigned_share') }}
    union all
    select * from {{ ref('int_kura__alert_facet_shifts') }}
),

tested as (
    select
        *,
        {{ kura.normal_upper_tail('z') }} as p_value,
        -- the one-sided tests run this week: a side counts when its minimum count is met
        sum((case when can_rise then 1 else 0 end) + (case when can_fall then 1 else 0 end))
            over (partition by week_start) as tests_in_week
    from candidates
    where z is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by week_start
            order by p_value, alert_type, cluster_id, facet
        ) as p_rank
    from tested
    where (z > 0 and can_rise) or (z < 0 and can_fall)
),

-- Holm: the k-th smallest p-value must be at most rate / (tests - k + 1); the first that is
-- not stops the week's alerts
stepped as (
    select
        *,
        {{ false_alarm_rate }} / (tests_in_week - p_rank + 1) as p_threshold,
        min(case when p_value > {{ false_alarm_rate }} / (tests_in_week - p_rank + 1) then p_rank end)
            over (partition by week_start) as first_rejected_rank
    from ranked
)

select
    alert_type,
    cluster_id,
    week_start,
    facet,
    observed,
    expected,
    observed_share,
    expected_share,
    week_conversations,
    baseline_conversations,
    z,
    from_baseline,
    p_value,
    tests_in_week,
    p_rank,
    p_threshold
from stepped
where first_rejected_rank is null or p_rank < first_rejected_rank
