{#- Every (conversation, cluster) pair at every level of the current taxonomy, for the
    conversations of `conversations_sql` and the base cluster in its column `cluster_column`:
    the base cluster and each of its ancestors. Used by int_kura__cluster_members (members) and
    int_kura__novel_members (novel conversations and their nearest cluster). -#}
{% macro cluster_ancestors(conversations_sql, cluster_column) -%}
with recursive members as (
    select
        conversations.conversation_id,
        taxonomy.cluster_id,
        taxonomy.level,
        taxonomy.parent_id
    from ({{ conversations_sql }}) as conversations
    inner join {{ ref('kura__taxonomy') }} as taxonomy
        on conversations.{{ cluster_column }} = taxonomy.cluster_id
        and taxonomy.is_current

    union all

    select
        members.conversation_id,
        parents.cluster_id,
        parents.level,
        parents.parent_id
    from members
    inner join {{ ref('kura__taxonomy') }} as parents
        on members.parent_id = parents.cluster_id
        and parents.is_current
)

select conversation_id, cluster_id, level
from members
{%- endmacro %}
