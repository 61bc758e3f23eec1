{{ config(materialized='table', schema=var('kura__private_schema')) }}
{#- Where the conversations that fit no pinned category land among the discovered clusters:
    candidates for new categories. Discovery keeps running beside the pinned taxonomy (on
    demand: var kura__rediscover: always) without changing it; a discovered cluster that holds
    many `other` conversations is worth a new row in the taxonomy file (`kura taxonomy export`
    writes its id, name, description and examples). Empty in discovery mode. -#}
with other as (
    select conversation_categories.conversation_id, conversation_clusters.cluster_id
    from {{ ref('kura__conversation_categories') }} as conversation_categories
    inner join {{ ref('kura__conversation_clusters') }} as conversation_clusters
        on conversation_categories.conversation_id = conversation_clusters.conversation_id
    where conversation_categories.category_id = 'other'
),

sizes as (
    select cluster_id, count(*) as conversations
    from {{ ref('kura__conversation_clusters') }}
    where cluster_id is not null
    group by cluster_id
)

select
    other.cluster_id,
    hierarchy.name,
    hierarchy.description,
    count(*) as other_conversations,
    max(sizes.conversations) as cluster_conversations,
    cast(count(*) as {{ dbt.type_float() }}) / nullif(max(sizes.conversations), 0) as other_share
from other
inner join {{ ref('kura__cluster_hierarchy') }} as hierarchy
    on other.cluster_id = hierarchy.cluster_id
left join sizes
    on other.cluster_id = sizes.cluster_id
group by other.cluster_id, hierarchy.name, hierarchy.description
