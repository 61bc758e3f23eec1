{#- Every (conversation, cluster) pair at every level: a conversation belongs to its base cluster
    and to each of that cluster's ancestors. -#}
{{ kura.cluster_ancestors(
    "select conversation_id, cluster_id from " ~ ref('kura__conversation_clusters'),
    'cluster_id'
) }}
