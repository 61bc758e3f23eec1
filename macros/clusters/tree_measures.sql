{#- The CTEs `tops` (each node's top-level ancestor), `sizes` (conversations and distinct users
    under each node, from `members`: every (conversation, node) pair at every level) and
    `children` (child count) of a tree held in the CTE `nodes` with columns `id_column` and
    parent_id. Used by kura__cluster_hierarchy (the discovered clusters) and
    int_kura__category_hierarchy (the pinned categories); the caller opens `with recursive`. -#}
{% macro tree_measures(nodes, id_column, members) %}
tops (cluster_id, top_cluster_id) as (
    select {{ id_column }}, {{ id_column }}
    from {{ nodes }}
    where parent_id is null

    union all

    select children.{{ id_column }}, tops.top_cluster_id
    from {{ nodes }} as children
    inner join tops
        on children.parent_id = tops.cluster_id
),

sizes as (
    select
        members.cluster_id,
        count(*) as size,
        count(distinct facts.user_id) as distinct_users
    from {{ members }} as members
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on members.conversation_id = facts.conversation_id
    group by members.cluster_id
),

children as (
    select parent_id as cluster_id, count(*) as child_count
    from {{ nodes }}
    where parent_id is not null
    group by parent_id
)
{% endmacro %}
