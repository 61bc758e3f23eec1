{#- Every input message with the reason it cannot be used (null when it can). Nothing is dropped:
    int_kura__messages keeps the usable rows, kura__rejected_messages the rest. -#}
with messages as (
    select
        *,
        row_number() over (
            partition by conversation_id, message_order
            order by role_raw, content
        ) as copy_number
    from {{ ref('stg_kura__messages') }}
),

conversations as (
    select conversation_id from {{ ref('int_kura__conversations_classified') }}
    where reject_reason is null
)

select
    messages.conversation_id,
    messages.message_order,
    messages.role_raw,
    messages.role,
    messages.content,
    case
        when messages.conversation_id is null then 'missing conversation_id'
        when conversations.conversation_id is null then 'conversation_id not in conversations input'
        when messages.message_order is null then 'missing message order'
        when messages.role is null then 'unknown role: ' || coalesce(messages.role_raw, 'NULL')
        when messages.content is null then 'missing content'
        {#- blank: whitespace, or invisible characters such as zero-width spaces and the BOM
            (kura.blank_characters(), shared with the Python library) #}
        when {{ kura.is_blank('messages.content', ['whitespace']) }} then 'empty content'
        when {{ kura.is_blank('messages.content') }}
            then 'empty content (invisible characters only)'
        when messages.copy_number > 1 then 'duplicate message order within conversation'
    end as reject_reason
from messages
left join conversations
    on messages.conversation_id = conversations.conversation_id
