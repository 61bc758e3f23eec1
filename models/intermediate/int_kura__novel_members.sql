{#- Every (novel conversation, cluster) pair at every level: a conversation that was beyond every
    cluster's radius belongs to no cluster, but is counted against its nearest base cluster and
    that cluster's ancestors, so the marts can show where new kinds of conversations land. -#}
{{ kura.cluster_ancestors(
    "select conversation_id, nearest_cluster_id from " ~ ref('kura__conversation_clusters')
        ~ " where status = 'novel'",
    'nearest_cluster_id'
) }}
