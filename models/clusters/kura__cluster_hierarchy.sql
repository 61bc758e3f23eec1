{#- The current clusters at every level with their parent, top-level ancestor, name and, from
    today's assignments, size, distinct users and child count. Unfiltered by the privacy
    thresholds: grant kura__clusters to BI users, not this table. -#}
with recursive current_clusters as (
    select *
    from {{ ref('kura__taxonomy') }}
    where is_current
),

{{ kura.tree_measures('current_clusters', 'cluster_id', ref('int_kura__cluster_members')) }}

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
