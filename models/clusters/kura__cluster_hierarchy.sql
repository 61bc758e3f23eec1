{#- The current clusters at every level with their parent, top-level ancestor, name and, from
    today's assignments, size, distinct users and child count. Unfiltered by the privacy
    thresholds: grant kura__clusters to BI users, not this table. -#}
with recursive current_clusters as (
    select *
    from {{ ref('kura__taxonomy') }}
    where is_current
),

tops (cluster_id, top_cluster_id) as (
    select cluster_id, cluster_id
    from current_clusters
    where parent_id is null

    union all

    select children.cluster_id, tops.top_cluster_id
    from current_clusters as children
    inner join tops
        on children.parent_id = tops.cluster_id
),

sizes as (
    select
        members.cluster_id,
        count(*) as size,
        count(distinct facts.user_id) as distinct_users
    from {{ ref('int_kura__cluster_members') }} as members
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on members.conversation_id = facts.conversation_id
    group by members.cluster_id
),

children as (
    select parent_id as cluster_id, count(*) as child_count
    from current_clusters
    where parent_id is not null
    group by parent_id
)

select
    current_clusters.cluster_id,
    current_clusters.level,
    current_clusters.parent_id,
    tops.top_cluster_id,
    current_clusters.name,
    current_clusters.description,
    current_clusters.keywords,
    coalesce(sizes.size, 0) as size,
    coalesce(sizes.distinct_users, 0) as distinct_users,
    coalesce(children.child_count, 0) as child_count,
    current_clusters.labeller,
    current_clusters.label_key,
    current_clusters.label_error,
    current_clusters.llm_calls,
    current_clusters.prompt_tokens,
    current_clusters.completion_tokens,
    current_clusters.created_epoch,
    current_clusters.last_discovered_epoch
from current_clusters
left join tops
    on current_clusters.cluster_id = tops.cluster_id
left join sizes
    on current_clusters.cluster_id = sizes.cluster_id
left join children
    on current_clusters.cluster_id = children.cluster_id
