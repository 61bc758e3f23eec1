{#- The pinned categories (var kura__pinned_taxonomy) in the shape of kura__cluster_hierarchy, so that
    kura__clusters, kura__cluster_weekly and kura__conversations show them when pinned: every
    category (and `other`) with its parent, top-level ancestor, size and distinct users (from
    int_kura__category_members) and child count. -#}
with recursive categories as (
    select *
    from {{ ref('kura__categories') }}
),

{{ kura.tree_measures('categories', 'category_id', ref('int_kura__category_members')) }}

select
    categories.category_id as cluster_id,
    categories.level,
    categories.parent_id,
    tops.top_cluster_id,
    categories.name,
    categories.description,
    cast(null as {{ dbt.type_string() }}) as keywords,
    coalesce(sizes.size, 0) as size,
    coalesce(sizes.distinct_users, 0) as distinct_users,
    coalesce(children.child_count, 0) as child_count,
    'pinned' as labeller,
    categories.taxonomy_version as label_key,
    false as label_error,
    0 as llm_calls,
    0 as prompt_tokens,
    0 as completion_tokens,
    cast(null as {{ dbt.type_bigint() }}) as created_epoch,
    cast(null as {{ dbt.type_bigint() }}) as last_discovered_epoch
from categories
left join tops
    on categories.category_id = tops.cluster_id
left join sizes
    on categories.category_id = sizes.cluster_id
left join children
    on categories.category_id = children.cluster_id
