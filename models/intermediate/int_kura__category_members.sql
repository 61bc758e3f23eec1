{#- Every (conversation, category) pair at every level of the pinned taxonomy (var
    kura__pinned_taxonomy): a conversation belongs to its category (`other` included) and to each of
    that category's ancestors. The marts read this instead of int_kura__cluster_members when a
    taxonomy is pinned (macro kura.members_relation). Empty in discovery mode. -#}
{{ kura.category_ancestors(
    "select conversation_id, category_id from " ~ ref('kura__conversation_categories'),
    'category_id'
) }}
