-- Every conversation has a row in kura__summaries (a failure is a row with its error).
select transcripts.conversation_id
from {{ ref('int_kura__transcripts') }} as transcripts
left join {{ ref('kura__summaries') }} as summaries
    on transcripts.conversation_id = summaries.conversation_id
where summaries.conversation_id is null
