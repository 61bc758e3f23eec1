{#- One row per (conversation, facet, value): the values of each facet that kura__cluster_facets
    compares across clusters, as strings, so that every facet is counted the same way. Every
    facet but language has exactly one value per conversation ('unknown' when the input does
    not say), so a cluster's counts of such a facet's values add up to its size:
    - language: each language the conversation uses (kura__summaries.languages: human
      languages by their English name, programming languages in lower case), so a
      conversation in English with Python code counts for both; 'unknown' when none was seen;
    - user_frustration, concerning_score: the score 1-5, 'unknown' when not judged (the local
      summariser judges neither);
    - feedback: 'thumbs up' or 'thumbs down' when all the conversation's thumbs agree, 'mixed',
      or 'none' when it has no thumbs;
    - plan: the user's plan, 'unknown' without a users table or a plan in it;
    - paying: 'paying' (revenue above 0) or 'not paying' (a user missing from the users table
      counts as 0, as in kura__clusters), 'unknown' when the users table gives no revenue;
    - week: Monday of the week the conversation started (YYYY-MM-DD), 'unknown' without a time;
    - assignment_status: how it got its cluster (kura__conversation_clusters.status:
      discovered, assigned, novel, noise; with a pinned taxonomy kura__conversation_categories'
      labelled, classified, other, error), 'unknown' when it has none yet. -#}
{%- set string_type = dbt.type_string() %}

with facts as (
    select
        facts.conversation_id,
        facts.user_id,
        facts.created_at,
        facts.languages,
        facts.user_frustration,
        facts.concerning_score,
        facts.thumbs_up_count,
        facts.thumbs_count,
        facts.plan,
        facts.revenue,
        facts.users_have_revenue,
        assignments.status
    from {{ ref('int_kura__conversation_facts') }} as facts
    left join {% if kura.taxonomy_pinned() %}{{ ref('kura__conversation_categories') }}{% else %}{{ ref('kura__conversation_clusters') }}{% endif %} as assignments
        on facts.conversation_id = assignments.conversation_id
),

languages as (
    select distinct conversation_id, user_id, language
    from (
        {{ kura.json_array_elements('facts', ['conversation_id', 'user_id'], 'languages', 'language') }}
    ) as elements
    where language is not null and language != ''
)

select
    conversation_id,
    user_id,
    'language' as facet,
    language as facet_value
from languages

union all

select
    conversation_id,
    user_id,
    'language' as facet,
    'unknown' as facet_value
from facts
where conversation_id not in (select conversation_id from languages)

union all

select
    conversation_id,
    user_id,
    'user_frustration' as facet,
    coalesce(cast(cast(user_frustration as {{ dbt.type_bigint() }}) as {{ string_type }}), 'unknown') as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'concerning_score' as facet,
    coalesce(cast(cast(concerning_score as {{ dbt.type_bigint() }}) as {{ string_type }}), 'unknown') as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'feedback' as facet,
    case
        when coalesce(thumbs_count, 0) = 0 then 'none'
        when thumbs_up_count = thumbs_count then 'thumbs up'
        when thumbs_up_count = 0 then 'thumbs down'
        else 'mixed'
    end as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'plan' as facet,
    coalesce(cast(plan as {{ string_type }}), 'unknown') as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'paying' as facet,
    case
        when not coalesce(users_have_revenue, false) then 'unknown'
        when coalesce(revenue, 0) > 0 then 'paying'
        else 'not paying'
    end as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'week' as facet,
    coalesce({{ kura.date_string(kura.week_start('created_at')) }}, 'unknown') as facet_value
from facts

union all

select
    conversation_id,
    user_id,
    'assignment_status' as facet,
    coalesce(cast(status as {{ string_type }}), 'unknown') as facet_value
from facts
