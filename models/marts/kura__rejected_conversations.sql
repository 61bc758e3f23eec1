{#- Input conversation rows that could not be used, with the reason. Counts add up:
    rows in the conversations input = rows in int_kura__transcripts + rows here. -#}
select conversation_id, user_id, created_at, reject_reason
from {{ ref('int_kura__conversations_classified') }}
where reject_reason is not null
