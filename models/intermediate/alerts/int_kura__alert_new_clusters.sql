{#- New cluster: a base or top-level cluster that a re-discovery (epoch 2 onwards) created with
    no old cluster as its source (kura__cluster_lineage relation 'new'), with the reason of
    that discovery (kura__cluster_runs). The first discovery's clusters are all new: not
    alerted. Not a statistical test: no correction. -#}
{{ config(materialized='ephemeral') }}

with discoveries as (
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
)

select
    new_clusters.cluster_id,
    new_clusters.epoch,
    {{ kura.week_start('new_clusters.discovered_at') }} as week_start,
    clusters.size,
    discoveries.reason as discovery_reason,
    new_clusters.epoch = latest_epoch.latest_epoch as is_latest_epoch
from new_clusters
inner join {{ ref('int_kura__alert_clusters') }} as clusters
    on new_clusters.cluster_id = clusters.cluster_id
left join discoveries
    on new_clusters.epoch = discoveries.epoch
cross join latest_epoch
