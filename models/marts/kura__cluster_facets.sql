{#- Which facet values a cluster over-represents (CLIO's Fig. 7: the languages, scores, plans,
    weeks ... a cluster holds more of than all the clustered conversations do). One row per
    cluster at every level (the pinned categories when var kura__pinned_taxonomy is set), facet
    and value present in the cluster (int_kura__conversation_facet_values), with:
    - share_in_cluster = x / n: x conversations with the value among the cluster's n;
    - share_overall = K / N: K with the value among all N clustered conversations;
    - lift = share_in_cluster / share_overall (above 1: over-represented);
    - z_score: the pooled two-proportion z of the cluster (x of n) against the rest of the
      clustered conversations (K - x of N - n), macro kura.two_proportion_z: how many standard
      errors the cluster's share is above (or below) the rest's, for ranking in both directions;
    - p_value: the one-sided hypergeometric P(X >= x), the chance that n conversations drawn at
      random from the N hold at least x with the value (macro kura.hypergeometric_upper_tail:
      exact at x = min(n, K), else a tight upper bound; ln and exp only, so the same on DuckDB
      and Snowflake). Not the z's normal approximation, which overstates the significance of
      small counts (a value seen once overall, found once in a cluster: z says p = 0.001, the
      exact answer is n / N). p_value_bonferroni multiplies it by the facet's number of values
      (the tests run for one cluster and facet), capped at 1.
    Privacy: the cluster's name comes from kura__clusters (NULL below the thresholds). A cell
    (cluster, facet, value) is shown only when the cluster meets the thresholds and the cell
    itself has at least kura__min_cluster_conversations conversations from at least
    kura__min_cluster_users users (kura.meets_privacy_threshold), so that a small cell cannot
    tell a reader which value a few people in a named cluster have. The cells below fold into
    one row per cluster and facet (facet_value NULL, display_value 'Other (n small values)',
    counts only), so a cluster's rows of one facet still add up to its size (language: at
    least its size, a conversation counting once for each language it uses). -#}
{%- set float_type = 'double precision' %}  {#- dbt.type_float() is single precision on DuckDB #}

with members as (
    select
        members.cluster_id,
        facet_values.conversation_id,
        facet_values.user_id,
        facet_values.facet,
        facet_values.facet_value
    from {{ kura.members_relation() }} as members  -- the pinned categories' when var kura__pinned_taxonomy is set
    inner join {{ ref('int_kura__conversation_facet_values') }} as facet_values
        on members.conversation_id = facet_values.conversation_id
),

-- every clustered conversation once (the top-level clusters partition them), with its values
population as (
    select facet_values.*
    from {{ ref('int_kura__conversation_facet_values') }} as facet_values
    where facet_values.conversation_id in (
        select conversation_id from {{ kura.members_relation() }}
    )
),

population_size as (
    select count(distinct conversation_id) as population_conversations
    from population
),

overall as (
    select
        facet,
        facet_value,
        count(*) as overall_conversations,
        count(*) over (partition by facet) as facet_values
    from population
    group by facet, facet_value
),

cells as (
    select
        cluster_id,
        facet,
        facet_value,
        count(*) as conversations,
        count(distinct user_id) as distinct_users
    from members
    group by cluster_id, facet, facet_value
),

judged as (
    select
        cells.*,
        clusters.level,
        clusters.parent_id,
        clusters.top_cluster_id,
        clusters.name as cluster_name,
        clusters.size as cluster_conversations,
        clusters.meets_privacy_threshold as cluster_meets_privacy_threshold,
        coalesce(clusters.meets_privacy_threshold, false)
            and {{ kura.meets_privacy_threshold('cells.conversations', 'cells.distinct_users') }} as cell_visible
    from cells
    inner join {{ ref('kura__clusters') }} as clusters
        on cells.cluster_id = clusters.cluster_id
),

shown as (
    select
        judged.*,
        overall.overall_conversations,
        overall.facet_values,
        population_size.population_conversations,
        {{ kura.two_proportion_z(
            'judged.conversations',
            'judged.cluster_conversations',
            'overall.overall_conversations - judged.conversations',
            'population_size.population_conversations - judged.cluster_conversations',
            float_type
        ) }} as z_score
    from judged
    inner join overall
        on judged.facet = overall.facet
        and judged.facet_value = overall.facet_value
    cross join population_size
    where judged.cell_visible
),

tested as (
    select
        *,
        {{ kura.hypergeometric_upper_tail(
            'conversations', 'cluster_conversations', 'overall_conversations', 'population_conversations'
        ) }} as p_value
    from shown
),

-- the cells below the thresholds, per cluster and facet: their conversations and users
folded as (
    select
        members.cluster_id,
        members.facet,
        count(distinct members.conversation_id) as conversations,  -- languages: one may use several
        count(distinct members.user_id) as distinct_users,
        count(distinct members.facet_value) as folded_values
    from members
    inner join judged
        on members.cluster_id = judged.cluster_id
        and members.facet = judged.facet
        and members.facet_value = judged.facet_value
    where not judged.cell_visible
    group by members.cluster_id, members.facet
),

shown_and_folded as (
select
    cluster_id,
    level,
    parent_id,
    top_cluster_id,
    cluster_name,
    facet,
    facet_value,
    facet_value as display_value,
    conversations,
    distinct_users,
    cluster_conversations,
    cast(conversations as {{ float_type }}) / nullif(cluster_conversations, 0) as share_in_cluster,
    overall_conversations,
    population_conversations,
    cast(overall_conversations as {{ float_type }}) / nullif(population_conversations, 0) as share_overall,
    (cast(conversations as {{ float_type }}) / nullif(cluster_conversations, 0))
        / nullif(cast(overall_conversations as {{ float_type }}) / nullif(population_conversations, 0), 0) as lift,
    z_score,
    -- (no least(): Snowflake's is NULL when an argument is, DuckDB's skips NULLs)
    case when p_value > 1 then 1.0 else p_value end as p_value,
    case when p_value * facet_values > 1 then 1.0 else p_value * facet_values end as p_value_bonferroni,
    true as meets_privacy_threshold,
    cluster_meets_privacy_threshold
from tested

union all

select
    clusters.cluster_id,
    clusters.level,
    clusters.parent_id,
    clusters.top_cluster_id,
    clusters.name as cluster_name,
    folded.facet,
    cast(null as {{ dbt.type_string() }}) as facet_value,
    'Other (' || cast(folded.folded_values as {{ dbt.type_string() }})
        || case when folded.folded_values = 1 then ' small value)' else ' small values)' end as display_value,
    folded.conversations,
    folded.distinct_users,
    clusters.size as cluster_conversations,
    cast(folded.conversations as {{ float_type }}) / nullif(clusters.size, 0) as share_in_cluster,
    cast(null as {{ dbt.type_bigint() }}) as overall_conversations,
    cast(null as {{ dbt.type_bigint() }}) as population_conversations,
    cast(null as {{ float_type }}) as share_overall,
    cast(null as {{ float_type }}) as lift,
    cast(null as {{ float_type }}) as z_score,
    cast(null as {{ float_type }}) as p_value,
    cast(null as {{ float_type }}) as p_value_bonferroni,
    false as meets_privacy_threshold,
    clusters.meets_privacy_threshold as cluster_meets_privacy_threshold
from folded
inner join {{ ref('kura__clusters') }} as clusters
    on folded.cluster_id = clusters.cluster_id
)

-- the casts hold the contract's types on every warehouse (counts are NUMBER on Snowflake, sums
-- HUGEINT on DuckDB); they change no value
select
    cast(cluster_id as {{ dbt.type_string() }}) as cluster_id,
    cast(level as {{ dbt.type_bigint() }}) as level,
    cast(parent_id as {{ dbt.type_string() }}) as parent_id,
    cast(top_cluster_id as {{ dbt.type_string() }}) as top_cluster_id,
    cast(cluster_name as {{ dbt.type_string() }}) as cluster_name,
    cast(facet as {{ dbt.type_string() }}) as facet,
    cast(facet_value as {{ dbt.type_string() }}) as facet_value,
    cast(display_value as {{ dbt.type_string() }}) as display_value,
    cast(conversations as {{ dbt.type_bigint() }}) as conversations,
    cast(distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    cast(cluster_conversations as {{ dbt.type_bigint() }}) as cluster_conversations,
    cast(share_in_cluster as {{ float_type }}) as share_in_cluster,
    cast(overall_conversations as {{ dbt.type_bigint() }}) as overall_conversations,
    cast(population_conversations as {{ dbt.type_bigint() }}) as population_conversations,
    cast(share_overall as {{ float_type }}) as share_overall,
    cast(lift as {{ float_type }}) as lift,
    cast(z_score as {{ float_type }}) as z_score,
    cast(p_value as {{ float_type }}) as p_value,
    cast(p_value_bonferroni as {{ float_type }}) as p_value_bonferroni,
    meets_privacy_threshold,
    cluster_meets_privacy_threshold
from shown_and_folded
