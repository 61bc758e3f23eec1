{#- Each conversation in its week, once in its base cluster and once in its top-level cluster
    (once in all when the base cluster is top-level): what the cluster share and facet tests
    count. -#}
{{ config(materialized='ephemeral') }}

select conversation_id, week_start, base_cluster_id as cluster_id
from {{ ref('int_kura__alert_conversations') }}
where base_cluster_id is not null
union
select conversation_id, week_start, top_cluster_id as cluster_id
from {{ ref('int_kura__alert_conversations') }}
where top_cluster_id is not null
