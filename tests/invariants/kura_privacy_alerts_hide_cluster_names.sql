-- Privacy: kura__alerts never names a cluster below the thresholds, in cluster_name or in its
-- message (it is called by its display_name, 'Other (n small clusters)', and its id).
select alerts.alert_id, alerts.cluster_id, alerts.cluster_name, alerts.message
from {{ ref('kura__alerts') }} as alerts
inner join {{ ref('kura__clusters') }} as clusters
    on alerts.cluster_id = clusters.cluster_id
where not clusters.meets_privacy_threshold
    and (alerts.cluster_name is not null
        or alerts.cluster_display_name != clusters.display_name
        or alerts.message not like '%"' || clusters.display_name || '"%')
