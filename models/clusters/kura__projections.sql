{#- 2D map coordinates: one row per conversation (from int_kura__map_points: points never move
    once placed) and one per cluster at every level (the mean position of its conversations). -#}
with points as (
    select
        map_points.conversation_id,
        conversation_clusters.cluster_id,
        map_points.x,
        map_points.y,
        map_points.projector
    from {{ ref('int_kura__map_points') }} as map_points
    inner join {{ ref('kura__conversation_clusters') }} as conversation_clusters
        on map_points.conversation_id = conversation_clusters.conversation_id
)

select
    'conversation' as point_type,
    conversation_id as point_id,
    cluster_id,
    cast(null as {{ dbt.type_bigint() }}) as level,
    x,
    y,
    projector
from points

union all

select
    'cluster' as point_type,
    members.cluster_id as point_id,
    members.cluster_id,
    members.level,
    avg(points.x) as x,
    avg(points.y) as y,
    max(points.projector) as projector
from {{ ref('int_kura__cluster_members') }} as members
inner join points
    on members.conversation_id = points.conversation_id
group by members.cluster_id, members.level
