{#- One row per usable conversation: its turns as JSON (for the Python models), the rendered text,
    turn counts and a content hash. The hash changes exactly when the conversation's usable
    messages change, and keys the incremental summaries. -#}
with conversations as (
    select conversation_id, user_id, created_at
    from {{ ref('int_kura__conversations_classified') }}
    where reject_reason is null
),

turns as (
    select
        conversation_id,
        count(*) as turn_count,
        sum(case when role = 'user' then 1 else 0 end) as user_turns,
        sum(case when role = 'assistant' then 1 else 0 end) as assistant_turns,
        sum(length(content)) as transcript_chars,
        {{ kura.messages_json('role', 'content', 'message_order') }} as messages_json,
        {{ dbt.listagg("role || ': ' || content", "'\n\n'", "order by message_order") }} as transcript
    from {{ ref('int_kura__messages') }}
    group by conversation_id
)

select
    conversations.conversation_id,
    conversations.user_id,
    conversations.created_at,
    coalesce(turns.turn_count, 0) as turn_count,
    coalesce(turns.user_turns, 0) as user_turns,
    coalesce(turns.assistant_turns, 0) as assistant_turns,
    coalesce(turns.transcript_chars, 0) as transcript_chars,
    coalesce(turns.messages_json, '[]') as messages_json,
    coalesce(turns.transcript, '') as transcript,
    md5(coalesce(turns.messages_json, '[]')) as content_hash
from conversations
left join turns
    on conversations.conversation_id = turns.conversation_id
