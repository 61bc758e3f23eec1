{#- One row per message from the user's messages table (var kura__messages), roles normalised
    with the role map shared with the Python library (macros/input/message_rules.sql, plus the
    var kura__role_aliases). Nothing is filtered here: int_kura__messages keeps the usable rows
    and kura__rejected_messages the others, with their reason. -#}
{%- set source_relation = var('kura__messages') -%}
{{ kura.require_columns(source_relation, 'kura__messages', {
    'conversation_id': 'kura__message_conversation_id_column',
    'role': 'kura__message_role_column',
    'content': 'kura__message_content_column',
    'message_index': 'kura__message_order_column'}) }}

select
    cast({{ var('kura__message_conversation_id_column') }} as {{ dbt.type_string() }}) as conversation_id,
    {{ var('kura__message_order_column') }} as message_order,
    cast({{ var('kura__message_role_column') }} as {{ dbt.type_string() }}) as role_raw,
    {{ kura.normalise_role(var('kura__message_role_column')) }} as role,
    cast({{ var('kura__message_content_column') }} as {{ dbt.type_string() }}) as content
from {{ source_relation }}
