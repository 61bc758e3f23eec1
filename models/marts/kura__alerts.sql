{#- What changed this week that an analyst should look at: one row per alert, every week of the
    data (the history), is_current for the latest week. Each kind of alert is an intermediate
    model (models/intermediate/alerts/, ephemeral: they compile into this model):

    - cluster_surge / cluster_collapse: int_kura__alert_cluster_shares
    - unassigned_share_rising: int_kura__alert_unassigned_share
    - facet_shift: int_kura__alert_facet_shifts
    - new_cluster: int_kura__alert_new_clusters

    The first three are statistical tests; int_kura__alert_holm_bonferroni corrects each week's
    tests together and keeps those that pass. This model unions them with the new clusters,
    names the cluster and words the message (macros/alerts/alert_messages.sql).

    Names come from kura__clusters, so a cluster below the privacy thresholds has cluster_name
    NULL and is called by its display_name ('Other (n small clusters)') and its id. -#}
{%- set baseline_weeks = var('kura__alerts_baseline_weeks') | int -%}
{%- set critical_z = var('kura__alerts_critical_z') | float -%}
{%- set float_type = "double" -%}
{%- set string_type = dbt.type_string() -%}
{%- set bigint_type = dbt.type_bigint() %}

with latest as (
    select max(week_start) as latest_week
    from {{ ref('int_kura__alert_conversations') }}
),

alerts as (
    select
        tested.alert_type,
        tested.cluster_id,
        tested.week_start,
        tested.facet,
        case when tested.z > 0 then 'up' else 'down' end as direction,
        tested.observed,
        tested.expected,
        tested.observed_share,
        tested.expected_share,
        tested.week_conversations,
        tested.baseline_conversations,
        tested.z,
        tested.p_value,
        tested.tests_in_week,
        tested.p_threshold,
        cast(null as {{ bigint_type }}) as epoch,
        cast(null as {{ string_type }}) as discovery_reason,
        tested.from_baseline,
        tested.week_start >= latest.latest_week as is_current
    from {{ ref('int_kura__alert_holm_bonferroni') }} as tested
    cross join latest

    union all

    select
        'new_cluster',
        new_clusters.cluster_id,
        new_clusters.week_start,
        cast(null as {{ string_type }}),
        'up',
        cast(new_clusters.size as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ bigint_type }}),
        cast(null as {{ bigint_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ bigint_type }}),
        cast(null as {{ float_type }}),
        new_clusters.epoch,
        new_clusters.discovery_reason,
        cast(null as {{ dbt.type_boolean() }}),
        new_clusters.week_start >= latest.latest_week and new_clusters.is_latest_epoch
    from {{ ref('int_kura__alert_new_clusters') }} as new_clusters
    cross join latest
),

described as (
    select
        alerts.*,
        clusters.level as cluster_level,
        clusters.is_top_level,
        clusters.name as cluster_name,
        clusters.display_name as cluster_display_name,
        {{ kura.alert_facet_label('alerts.facet') }} as facet_label,
        cast(alerts.week_start as {{ string_type }}) as week_text,
        clusters.scope || ' cluster "' || clusters.display_name || '" (' || alerts.cluster_id || ')' as who
    from alerts
    left join {{ ref('int_kura__alert_clusters') }} as clusters
        on alerts.cluster_id = clusters.cluster_id
)

select
    alert_type
        || ':' || coalesce(cluster_id, 'all')
        || ':' || coalesce(facet, '-')
        || ':' || week_text
        || coalesce(':e' || cast(epoch as {{ string_type }}), '') as alert_id,
    alert_type,
    case
        when alert_type = 'new_cluster' then 'info'
        when abs(z) >= {{ critical_z }} then 'critical'
        else 'warning'
    end as severity,
    week_start,
    coalesce(is_current, false) as is_current,
    cluster_id,
    cast(cluster_level as {{ dbt.type_bigint() }}) as cluster_level,
    is_top_level,
    cluster_name,
    cluster_display_name,
    facet,
    direction,
    -- the casts hold the contract's types on every warehouse (DuckDB's sums of integers are
    -- HUGEINT, Snowflake's arithmetic on literals NUMBER); they change no value
    cast(observed as double) as observed,
    cast(expected as double) as expected,
    cast(observed_share as {{ dbt.type_float() }}) as observed_share,
    cast(expected_share as {{ dbt.type_float() }}) as expected_share,
    cast(week_conversations as {{ dbt.type_bigint() }}) as week_conversations,
    cast(baseline_conversations as {{ dbt.type_bigint() }}) as baseline_conversations,
    cast(z as double) as statistic,
    cast(p_value as double) as p_value,
    cast(tests_in_week as {{ dbt.type_bigint() }}) as tests_in_week,
    cast(p_threshold as double) as p_threshold,
    cast(epoch as {{ dbt.type_bigint() }}) as epoch,
    {{ kura.alert_message(baseline_weeks) }} as message
from described
