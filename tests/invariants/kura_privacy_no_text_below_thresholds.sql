-- Privacy: a cluster below the thresholds (vars kura__min_cluster_users,
-- kura__min_cluster_conversations) shows no name, description or keywords anywhere in the
-- marts, is flagged as such, and is shown only as its "other" bucket. (The hierarchy is the
-- pinned categories' when var kura__pinned_taxonomy is set.)
with thresholded as (
    select
        cluster_id,
        {{ kura.meets_privacy_threshold('size', 'distinct_users') }} as visible
    from {{ kura.hierarchy_relation() }}
)

select clusters.cluster_id, 'kura__clusters' as relation, clusters.name, clusters.display_name
from {{ ref('kura__clusters') }} as clusters
inner join thresholded
    on clusters.cluster_id = thresholded.cluster_id
inner join {{ kura.hierarchy_relation() }} as hierarchy
    on clusters.cluster_id = hierarchy.cluster_id
where clusters.meets_privacy_threshold != thresholded.visible
   or (not thresholded.visible and (
        clusters.name is not null
        or clusters.description is not null
        or clusters.keywords is not null
        or clusters.display_name = hierarchy.name
        or clusters.display_name not like 'Other (%'
        or clusters.privacy_bucket_id = clusters.cluster_id))

union all

select weekly.cluster_id, 'kura__cluster_weekly', weekly.name, null
from {{ ref('kura__cluster_weekly') }} as weekly
inner join thresholded
    on weekly.cluster_id = thresholded.cluster_id
where not thresholded.visible and weekly.name is not null
