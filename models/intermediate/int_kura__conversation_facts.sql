{#- One row per conversation with everything the marts aggregate: facets, feedback, revenue.
    users_have_revenue (the same on every row) says whether revenue is known at all: false
    without a users table (var kura__users: ~) or without a revenue in it, so that the marts
    write NULL (unknown) rather than 0. -#}
with feedback as (
    select
        conversation_id,
        count(*) as feedback_count,
        sum(case when thumbs_up then 1 else 0 end) as thumbs_up_count,
        sum(case when thumbs_up is not null then 1 else 0 end) as thumbs_count,
        avg(rating) as avg_rating
    from {{ ref('stg_kura__feedback') }}
    group by conversation_id
),

users as (
    select user_id, max(plan) as plan, max(revenue) as revenue
    from {{ ref('stg_kura__users') }}
    group by user_id
),

users_input as (
    select count(revenue) > 0 as users_have_revenue
    from {{ ref('stg_kura__users') }}
)

select
    transcripts.conversation_id,
    transcripts.user_id,
    transcripts.created_at,
    transcripts.turn_count,
    transcripts.transcript_chars,
    summaries.summary,
    summaries.request,
    summaries.task,
    summaries.languages,
    summaries.flags,
    summaries.concerning_score,
    summaries.user_frustration,
    summaries.error as summary_error,
    coalesce(feedback.feedback_count, 0) as feedback_count,
    coalesce(feedback.thumbs_up_count, 0) as thumbs_up_count,
    coalesce(feedback.thumbs_count, 0) as thumbs_count,
    feedback.avg_rating,
    users.plan,
    users.revenue,
    users_input.users_have_revenue
from {{ ref('int_kura__transcripts') }} as transcripts
cross join users_input
left join {{ ref('kura__summaries') }} as summaries
    on transcripts.conversation_id = summaries.conversation_id
left join feedback
    on transcripts.conversation_id = feedback.conversation_id
left join users
    on transcripts.user_id = users.user_id
