{#- One row per day, 2015-01-01 to 2039-12-31: the time spine MetricFlow joins to for cumulative
    metrics and offsets (week-over-week growth), declared with `time_spine:` in
    _semantic_models.yml (dbt's documented time-spine model, day grain). -#}
with days as (
    {{ dbt.date_spine('day', "cast('2015-01-01' as date)", "cast('2040-01-01' as date)") }}
)

select cast(date_day as date) as date_day
from days
