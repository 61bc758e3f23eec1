{#- Every input conversation row with the reason it cannot be used (NULL when it can).
    A repeated conversation id keeps its earliest row; the others are rejected. -#}
select
    conversation_id,
    user_id,
    created_at,
    case
        when conversation_id is null then 'missing conversation_id'
        when row_number() over (
            partition by conversation_id order by created_at, user_id
        ) > 1 then 'duplicate conversation_id'
    end as reject_reason
from {{ ref('stg_kura__conversations') }}
