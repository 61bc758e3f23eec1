{#- What each re-discovery did to the clusters before it: one row per (old, new) pair that
    shares conversations (same, split, merge), plus new clusters (no old id) and retired ones
    (no new id). Epoch 1 lists every first cluster as new. -#}
select
    epoch,
    updated_at as discovered_at,
    level,
    old_cluster_id,
    new_cluster_id,
    relation,
    overlap,
    shared_conversations
from {{ ref('int_kura__cluster_state') }}
where record_type = 'lineage'
