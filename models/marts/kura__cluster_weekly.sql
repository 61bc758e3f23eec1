{#- Cluster x week (weeks start on Monday): conversations, users and growth on the week before,
    and how many novel conversations (beyond every cluster's radius, so in no cluster) had this
    cluster as their nearest. Every cluster has a row for every week in the data, zero when it
    had no conversations. Built on stable ids and on assignments that stay put, so a past
    week's numbers only change at a re-discovery (see kura__cluster_lineage). -#}
with members as (
    select
        members.cluster_id,
        facts.conversation_id,
        facts.user_id,
        {{ kura.week_start('facts.created_at') }} as week_start
    from {{ kura.members_relation() }} as members  -- the pinned categories' when var kura__pinned_taxonomy is set
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on members.conversation_id = facts.conversation_id
    where facts.created_at is not null
),

novel as (
    select
        novel_members.cluster_id,
        {{ kura.week_start('facts.created_at') }} as week_start,
        count(*) as novel_conversations
    from {{ kura.novel_members_relation() }} as novel_members  -- pinned: conversations in `other`
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on novel_members.conversation_id = facts.conversation_id
    where facts.created_at is not null
    group by novel_members.cluster_id, {{ kura.week_start('facts.created_at') }}
),

weeks as (
    select distinct week_start from members
),

grid as (
    select clusters.cluster_id, clusters.level, clusters.name, weeks.week_start
    from {{ ref('kura__clusters') }} as clusters
    cross join weeks
),

counts as (
    select
        cluster_id,
        week_start,
        count(*) as conversations,
        count(distinct user_id) as distinct_users
    from members
    group by cluster_id, week_start
),

weekly as (
    select
        grid.cluster_id,
        grid.level,
        grid.name,
        grid.week_start,
        coalesce(counts.conversations, 0) as conversations,
        coalesce(counts.distinct_users, 0) as distinct_users,
        coalesce(novel.novel_conversations, 0) as novel_conversations
    from grid
    left join counts
        on grid.cluster_id = counts.cluster_id
        and grid.week_start = counts.week_start
    left join novel
        on grid.cluster_id = novel.cluster_id
        and grid.week_start = novel.week_start
)

select
    cluster_id,
    level,
    name,
    week_start,
    conversations,
    distinct_users,
    novel_conversations,
    lag(conversations) over (partition by cluster_id order by week_start) as previous_week_conversations,
    conversations - lag(conversations) over (partition by cluster_id order by week_start) as change_in_conversations,
    cast(conversations - lag(conversations) over (partition by cluster_id order by week_start) as {{ dbt.type_float() }})
        / nullif(lag(conversations) over (partition by cluster_id order by week_start), 0) as growth_rate
from weekly
