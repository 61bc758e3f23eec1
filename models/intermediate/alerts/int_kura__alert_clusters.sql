{#- The clusters alerted on: base and top-level (a base cluster without a parent is both, once),
    with the names of kura__clusters (NULL below the privacy thresholds). -#}
{{ config(materialized='ephemeral') }}

select
    cluster_id,
    level,
    parent_id is null as is_top_level,
    name,
    display_name,
    size,
    case
        when level = 0 and parent_id is null then 'base (top-level)'
        when level = 0 then 'base'
        else 'top-level'
    end as scope
from {{ ref('kura__clusters') }}
where level = 0 or parent_id is null
