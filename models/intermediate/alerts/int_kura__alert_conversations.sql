{#- The conversations that kura__alerts tests, each with the week it falls in (Monday). The
    alert models are ephemeral: they compile into kura__alerts as CTEs, so that
    `dbt build --select kura__alerts` builds the alerts from the marts alone. -#}
{{ config(materialized='ephemeral') }}

select
    conversation_id,
    {{ kura.week_start('created_at') }} as week_start,
    base_cluster_id,
    top_cluster_id,
    is_unclustered,
    assignment_status,
    user_frustration,
    concerning_score,
    thumbs_up_rate,
    avg_rating
from {{ ref('kura__conversations') }}
where created_at is not null
