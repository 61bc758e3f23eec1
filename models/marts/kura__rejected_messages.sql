{#- Input messages that could not be used, with the reason. Counts add up:
    rows in the messages input = rows in int_kura__messages + rows here. -#}
select conversation_id, message_order, role_raw, content, reject_reason
from {{ ref('int_kura__messages_classified') }}
where reject_reason is not null
