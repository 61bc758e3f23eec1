{#- The conversations classified `other` under the pinned taxonomy, counted against the category
    the classifier found nearest and that category's ancestors (the pinned counterpart of
    int_kura__novel_members). Empty in discovery mode. -#}
{{ kura.category_ancestors(
    "select conversation_id, nearest_category_id from " ~ ref('kura__conversation_categories')
        ~ " where category_id = 'other' and nearest_category_id is not null",
    'nearest_category_id'
) }}
