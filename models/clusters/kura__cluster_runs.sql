{#- One row per build of the clustering state: whether it re-discovered the taxonomy or assigned
    new conversations to it, why, and the figures behind the decision (var kura__rediscover). -#}
select
    run_number,
    epoch,
    updated_at as run_at,
    decision,
    reason,
    clusterer,
    embedding_model,
    conversations,
    new_conversations,
    novel_conversations,
    conversations_at_discovery,
    new_since_discovery,
    novel_since_discovery,
    novel_share,
    growth
from {{ ref('int_kura__cluster_state') }}
where record_type = 'run'
