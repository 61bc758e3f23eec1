{#- What changed this week that an analyst should look at: one row per alert, every week of the
    data (the history), is_current for the latest week. Five kinds:

    - cluster_surge / cluster_collapse: a base or top-level cluster's share of the week's
      clustered conversations above / below its share over the kura__alerts_baseline_weeks
      weeks before (pooled two-proportion z-test), with at least kura__alerts_min_conversations
      conversations observed (surge) or expected (collapse). Shares, not counts: a partial
      latest week or more traffic overall is not a surge, and conversations that fit no
      cluster or are not clustered yet do not move them.
    - unassigned_share_rising: the share of the week's conversations checked against an
      existing taxonomy (assigned by a later build, not discovered; with a pinned taxonomy,
      classified) that fit no cluster (novel; pinned: the `other` category), above
      the baseline share, or above the nominal share 1 - kura__assign_radius_quantile when that
      is higher or the baseline has fewer than kura__alerts_min_conversations: new kinds of
      conversations, time to re-discover.
    - facet_shift: a facet's mean (user_frustration, concerning_score, thumbs_up_rate,
      avg_rating) in a base or top-level cluster up or down against the baseline weeks (z-test
      of the two means, variance pooled), when the facet is present in at least
      kura__alerts_min_conversations of the cluster's conversations in both.
    - new_cluster: a base or top-level cluster that a re-discovery (epoch 2 onwards) created
      with no old cluster as its source (kura__cluster_lineage relation 'new').

    Every week runs many tests (each cluster, side and facet), so a fixed z threshold would
    alert on noise somewhere every week. The tests of one week are one family: the one-sided
    p-values of the sides whose minimum count is met go through the Holm-Bonferroni procedure
    at kura__alerts_false_alarm_rate, so that the chance that a week raises even one false
    alert is at most that rate, however many clusters there are and whatever else moved. The
    statistics are in macros/alerts/alert_statistics.sql.

    Names come from kura__clusters, so a cluster below the privacy thresholds has cluster_name
    NULL and is called by its display_name ('Other (n small clusters)') and its id. -#}
{%- set baseline_weeks = var('kura__alerts_baseline_weeks') | int -%}
{%- set false_alarm_rate = var('kura__alerts_false_alarm_rate') | float -%}
{%- set critical_z = var('kura__alerts_critical_z') | float -%}
{%- set min_conversations = var('kura__alerts_min_conversations') | int -%}
{%- set nominal_unassigned = 1 - (var('kura__assign_radius_quantile') | float) -%}
{%- set float_type = dbt.type_float() -%}
{%- set string_type = dbt.type_string() -%}

with conversations as (
    select
        conversation_id,
        {{ kura.week_start('created_at') }} as week_start,
        base_cluster_id,
        top_cluster_id,
        is_unclustered,
        assignment_status,
        user_frustration,
        concerning_score,
        thumbs_up_rate,
        avg_rating
    from {{ ref('kura__conversations') }}
    where created_at is not null
),

latest as (
    select max(week_start) as latest_week
    from conversations
),

-- the clusters alerted on: base and top-level (a base cluster without a parent is both, once)
clusters as (
    select
        cluster_id,
        level,
        parent_id is null as is_top_level,
        name,
        display_name,
        size,
        case
            when level = 0 and parent_id is null then 'base (top-level)'
            when level = 0 then 'base'
            else 'top-level'
        end as scope
    from {{ ref('kura__clusters') }}
    where level = 0 or parent_id is null
),

memberships as (
    select conversation_id, week_start, base_cluster_id as cluster_id
    from conversations
    where base_cluster_id is not null
    union
    select conversation_id, week_start, top_cluster_id as cluster_id
    from conversations
    where top_cluster_id is not null
),

-- ---- cluster shares: a cluster's conversations among the week's clustered conversations
clustered_weeks as (
    select week_start, count(*) as conversations
    from conversations
    where base_cluster_id is not null
    group by week_start
),

cluster_counts as (
    select cluster_id, week_start, count(*) as conversations
    from memberships
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
    cross join clusters
    left join cluster_counts as counts
        on clusters.cluster_id = counts.cluster_id
        and weeks.week_start = counts.week_start
    left join cluster_baselines as baseline
        on clusters.cluster_id = baseline.cluster_id
        and weeks.week_start = baseline.week_start
    where share_baselines.baseline_conversations >= {{ min_conversations }}
),

share_candidates as (
    select
        case when z > 0 then 'cluster_surge' else 'cluster_collapse' end as alert_type,
        cluster_id,
        week_start,
        cast(null as {{ string_type }}) as facet,
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
),

-- ---- unassigned share: conversations checked against an existing taxonomy that fit no cluster
-- (novel; with a pinned taxonomy, classified as `other`). Left out: those clustered at a
-- discovery (discovered, noise), and with a pinned taxonomy the labelled ones and errors.
assessed_weeks as (
    select
        week_start,
        count(*) as conversations,
        sum(case when is_unclustered or assignment_status = 'other' then 1 else 0 end) as unassigned
    from conversations
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
),

unassigned_candidates as (
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
        false as can_fall,  -- fewer conversations fitting no cluster is no news
        from_baseline
    from unassigned_tests
),

-- ---- facets: a facet's mean in a cluster against the baseline weeks, when it is present
facet_values as (
    select conversation_id, 'user_frustration' as facet, cast(user_frustration as {{ float_type }}) as value
    from conversations where user_frustration is not null
    union all
    select conversation_id, 'concerning_score', cast(concerning_score as {{ float_type }})
    from conversations where concerning_score is not null
    union all
    select conversation_id, 'thumbs_up_rate', cast(thumbs_up_rate as {{ float_type }})
    from conversations where thumbs_up_rate is not null
    union all
    select conversation_id, 'avg_rating', cast(avg_rating as {{ float_type }})
    from conversations where avg_rating is not null
),

facet_weeks as (
    select
        memberships.cluster_id,
        memberships.week_start,
        facet_values.facet,
        count(*) as n,
        sum(facet_values.value) as s,
        sum(facet_values.value * facet_values.value) as ss
    from memberships
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
),

facet_candidates as (
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
),

-- ---- one family of tests per week: Holm-Bonferroni over its one-sided p-values
candidates as (
    select * from share_candidates
    union all
    select * from unassigned_candidates
    union all
    select * from facet_candidates
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
),

test_alerts as (
    select *
    from stepped
    where first_rejected_rank is null or p_rank < first_rejected_rank
),

-- ---- new clusters at a re-discovery (the first discovery's clusters are all new: not alerted)
discoveries as (
    select epoch, max(reason) as reason
    from {{ ref('kura__cluster_runs') }}
    where decision = 'discover'
    group by epoch
),

new_clusters as (
    select
        lineage.epoch,
        lineage.new_cluster_id as cluster_id,
        min(lineage.discovered_at) as discovered_at
    from {{ ref('kura__cluster_lineage') }} as lineage
    where lineage.relation = 'new'
        and lineage.epoch > 1
        and lineage.new_cluster_id is not null
    group by lineage.epoch, lineage.new_cluster_id
),

latest_epoch as (
    select max(epoch) as latest_epoch
    from {{ ref('kura__cluster_lineage') }}
),

-- ---- every alert, one shape
alerts as (
    select
        alert_type,
        cluster_id,
        week_start,
        facet,
        case when z > 0 then 'up' else 'down' end as direction,
        observed,
        expected,
        observed_share,
        expected_share,
        week_conversations,
        baseline_conversations,
        z,
        p_value,
        tests_in_week,
        p_threshold,
        cast(null as {{ dbt.type_bigint() }}) as epoch,
        cast(null as {{ string_type }}) as discovery_reason,
        from_baseline
    from test_alerts

    union all

    select
        'new_cluster',
        new_clusters.cluster_id,
        {{ kura.week_start('new_clusters.discovered_at') }},
        cast(null as {{ string_type }}),
        'up',
        cast(clusters.size as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as {{ float_type }}),
        cast(null as {{ float_type }}),
        cast(null as {{ dbt.type_bigint() }}),
        cast(null as {{ float_type }}),
        new_clusters.epoch,
        discoveries.reason,
        cast(null as {{ dbt.type_boolean() }})
    from new_clusters
    inner join clusters
        on new_clusters.cluster_id = clusters.cluster_id
    left join discoveries
        on new_clusters.epoch = discoveries.epoch
),

described as (
    select
        alerts.*,
        clusters.level as cluster_level,
        clusters.is_top_level,
        clusters.name as cluster_name,
        clusters.display_name as cluster_display_name,
        clusters.scope,
        case alerts.facet
            when 'user_frustration' then 'user frustration (1-5)'
            when 'concerning_score' then 'concerning score (1-5)'
            when 'thumbs_up_rate' then 'thumbs-up rate'
            when 'avg_rating' then 'rating'
        end as facet_label,
        cast(alerts.week_start as {{ string_type }}) as week_text,
        clusters.scope || ' cluster "' || clusters.display_name || '" (' || alerts.cluster_id || ')' as who
    from alerts
    left join clusters
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
    coalesce(
        week_start >= latest.latest_week
            and (alert_type != 'new_cluster' or epoch = latest_epoch.latest_epoch),
        false
    ) as is_current,
    cluster_id,
    cluster_level,
    is_top_level,
    cluster_name,
    cluster_display_name,
    facet,
    direction,
    observed,
    expected,
    observed_share,
    expected_share,
    week_conversations,
    baseline_conversations,
    z as statistic,
    p_value,
    tests_in_week,
    p_threshold,
    epoch,
    case
        when alert_type in ('cluster_surge', 'cluster_collapse') then
            case when alert_type = 'cluster_surge' then 'Surge in ' else 'Collapse of ' end
            || who || ': ' || {{ kura.alert_text('observed', 0) }} || ' of '
            || cast(week_conversations as {{ string_type }}) || ' clustered conversations ('
            || {{ kura.alert_percent('observed_share') }} || ') in the week of ' || week_text
            || ', expected ' || {{ kura.alert_text('expected') }} || ' ('
            || {{ kura.alert_percent('expected_share') }} || ') from the '
            || '{{ baseline_weeks }} weeks before; z = ' || {{ kura.alert_text('z') }} || ', '
            || {{ kura.alert_p_text('p_value') }}
        when alert_type = 'unassigned_share_rising' then
            'Unassigned share rising: ' || {{ kura.alert_text('observed', 0) }} || ' of the '
            || cast(week_conversations as {{ string_type }})
            || ' conversations of the week of ' || week_text
            || ' checked against the taxonomy fit no cluster (' || {{ kura.alert_percent('observed_share') }} || '), expected '
            || {{ kura.alert_text('expected') }} || ' (' || {{ kura.alert_percent('expected_share') }}
            || case
                when from_baseline then ', the {{ baseline_weeks }} weeks before'
                else ', the nominal 1 - kura__assign_radius_quantile'
            end
            || '); z = ' || {{ kura.alert_text('z') }} || ', ' || {{ kura.alert_p_text('p_value') }}
            || ': new kinds of conversations, consider a re-discovery (kura__rediscover: always)'
        when alert_type = 'facet_shift' then
            'Facet shift in ' || who || ': average ' || facet_label
            || case when z > 0 then ' rose to ' else ' fell to ' end
            || {{ kura.alert_text('observed', 2) }} || ' in the week of ' || week_text || ' ('
            || cast(week_conversations as {{ string_type }}) || ' conversations), from '
            || {{ kura.alert_text('expected', 2) }} || ' over the {{ baseline_weeks }} weeks before ('
            || cast(baseline_conversations as {{ string_type }}) || '); z = '
            || {{ kura.alert_text('z') }} || ', ' || {{ kura.alert_p_text('p_value') }}
        else
            'New ' || who || ' found at re-discovery ' || cast(epoch as {{ string_type }})
            || ' in the week of ' || week_text
            || coalesce(' (' || discovery_reason || ')', '') || ': '
            || {{ kura.alert_text('observed', 0) }} || ' conversations now'
    end as message
from described
cross join latest
cross join latest_epoch
