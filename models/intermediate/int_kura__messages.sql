select conversation_id, message_order, role, content
from {{ ref('int_kura__messages_classified') }}
where reject_reason is null
