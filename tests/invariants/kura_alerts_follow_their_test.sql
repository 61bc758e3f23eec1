-- kura__alerts: every statistical alert passed its test (p-value at or below the week's
-- Holm-Bonferroni threshold, itself at most kura__alerts_false_alarm_rate; z in the
-- direction of its type), and every alert is about a base or top-level cluster (or all
-- clusters, for the unassigned share).
select alerts.alert_id, alerts.alert_type, alerts.statistic, alerts.p_value, alerts.p_threshold
from {{ ref('kura__alerts') }} as alerts
left join {{ ref('kura__clusters') }} as clusters
    on alerts.cluster_id = clusters.cluster_id
where (alerts.alert_type != 'new_cluster' and (
        alerts.statistic is null or alerts.p_value is null or alerts.p_threshold is null
        or alerts.p_value < 0 or alerts.p_value > alerts.p_threshold
        or alerts.p_threshold > {{ var('kura__alerts_false_alarm_rate') }}
        or (alerts.alert_type in ('cluster_surge', 'unassigned_share_rising') and alerts.statistic <= 0)
        or (alerts.alert_type = 'cluster_collapse' and alerts.statistic >= 0)))
    or (alerts.alert_type = 'unassigned_share_rising' and alerts.cluster_id is not null)
    or (alerts.alert_type != 'unassigned_share_rising'
        and (clusters.cluster_id is null or not (clusters.level = 0 or clusters.parent_id is null)))
