{#- Generic test on kura__alerts: its "failures" are the current alerts (the latest week's, and
    the new clusters of the latest re-discovery), optionally of some alert types only.
    Configured with severity warn (models/marts/_marts.yml), so that `dbt build` stays green
    and reports them as warnings ("WARN 2 kura_alerts_cluster_surge ..."), which dbt Cloud
    notifications and any log scraper pick up. The rows say what to look at: query
    kura__alerts (docs/monitoring.md, "Alerts") for the messages, or set store_failures on the test. -#}
{% test kura_current_alerts(model, alert_types=none) %}
select alert_id, alert_type, severity, week_start, cluster_id, statistic, message
from {{ model }}
where is_current
{%- if alert_types %}
    and alert_type in ({% for t in alert_types %}'{{ t }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endif %}
{% endtest %}
