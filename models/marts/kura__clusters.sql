{#- One row per cluster at every level: what it is, how big, how users feel about it and how
    much revenue it touches.
    Privacy: a cluster below the thresholds (vars kura__min_cluster_users,
    kura__min_cluster_conversations; kura.meets_privacy_threshold, where a pinned category with
    no member yet shows by name with 0) keeps its row, so that sizes still add up and every id
    still joins, but loses its name, description and keywords. Its siblings below the
    thresholds (same parent and level) share one "other" bucket: privacy_bucket_id and
    display_name ('Other (n small clusters)') are the same for all of them, so grouping by
    privacy_bucket_id gives the folded view with counts only. Sizes and distinct users only
    shrink going down, so every descendant of a hidden cluster is hidden too.
    Privacy audit: a visible cluster's name, description or keywords scoring below var
    kura__privacy_min_score on CLIO's 1-5 scale (int_kura__privacy_audit) is NULL, and
    privacy_withheld is true; its display_name is then 'Name withheld (privacy audit)'.
    Revenue and paying users are NULL (unknown) when there is no users table (kura__users: ~)
    or no revenue in it; with one, a user missing from it counts as 0. -#}
with members as (
    select
        members.cluster_id,
        facts.*
    from {{ kura.members_relation() }} as members  -- the pinned categories' when var kura__pinned_taxonomy is set
    inner join {{ ref('int_kura__conversation_facts') }} as facts
        on members.conversation_id = facts.conversation_id
),

user_revenue as (
    select distinct cluster_id, user_id, plan, revenue
    from members
    where user_id is not null
),

revenue as (
    select
        cluster_id,
        sum(coalesce(revenue, 0)) as revenue,
        sum(case when coalesce(revenue, 0) > 0 then 1 else 0 end) as paying_users
    from user_revenue
    group by cluster_id
),

-- revenue is unknown (NULL), not 0, without a users table or without any revenue in it
revenue_known as (
    select coalesce(max(case when users_have_revenue then 1 else 0 end), 0) = 1 as known
    from {{ ref('int_kura__conversation_facts') }}
),

stats as (
    select
        cluster_id,
        avg(concerning_score) as avg_concerning_score,
        avg(user_frustration) as avg_user_frustration,
        avg(turn_count) as avg_turns,
        sum(feedback_count) as feedback_count,
        sum(thumbs_up_count) as thumbs_up_count,
        sum(thumbs_count) as thumbs_count,
        avg(avg_rating) as avg_rating,
        min(created_at) as first_seen_at,
        max(created_at) as last_seen_at
    from members
    group by cluster_id
),

totals as (
    select count(*) as clustered_conversations
    {%- if kura.taxonomy_pinned() %}
    from {{ ref('kura__conversation_categories') }}
    where category_id is not null
    {%- else %}
    from {{ ref('kura__conversation_clusters') }}
    where cluster_id is not null
    {%- endif %}
)

select
    hierarchy.cluster_id,
    cast(hierarchy.level as {{ dbt.type_bigint() }}) as level,
    hierarchy.parent_id,
    hierarchy.top_cluster_id,
    {#- a text the auditor withheld shows as made again without what the detector found, when
        that passes the audit (int_kura__privacy_relabels, kura_dbt.privacy_relabel) #}
    {%- for column in ['name', 'description', 'keywords'] %}
    case
        when visible and {{ kura.privacy_shown(column ~ '_audit') }} then hierarchy.{{ column }}
        when visible and {{ kura.privacy_relabel_shown(column ~ '_relabel') }} then {{ column }}_relabel.replacement
    end as {{ column }},
    {%- endfor %}
    case
        when visible and {{ kura.privacy_shown('name_audit') }} then hierarchy.name
        when visible and {{ kura.privacy_relabel_shown('name_relabel') }} then name_relabel.replacement
        when visible then 'Name withheld (privacy audit)'
        else 'Other (' || cast(hidden_siblings as {{ dbt.type_string() }})
            || case when hidden_siblings = 1 then ' small cluster)' else ' small clusters)' end
    end as display_name,
    case
        when visible then hierarchy.cluster_id
        else 'L' || cast(hierarchy.level as {{ dbt.type_string() }}) || '-other-'
            || coalesce(hierarchy.parent_id, 'top')
    end as privacy_bucket_id,
    -- bigint in both modes (the discovered hierarchy's and the pinned categories'), as the
    -- contract says; no value changes
    cast(hierarchy.size as {{ dbt.type_bigint() }}) as size,
    cast(hierarchy.distinct_users as {{ dbt.type_bigint() }}) as distinct_users,
    cast(hierarchy.child_count as {{ dbt.type_bigint() }}) as child_count,
    cast(hierarchy.size as {{ dbt.type_float() }}) / nullif(totals.clustered_conversations, 0) as share_of_conversations,
    -- the casts hold the contract's types on every warehouse (Snowflake's avg of integers is a
    -- NUMBER, DuckDB's sum of integers a HUGEINT); they change no value
    cast(stats.avg_concerning_score as double) as avg_concerning_score,
    cast(stats.avg_user_frustration as double) as avg_user_frustration,
    cast(stats.avg_turns as double) as avg_turns,
    cast(stats.feedback_count as {{ dbt.type_bigint() }}) as feedback_count,
    cast(stats.thumbs_up_count as {{ dbt.type_float() }}) / nullif(stats.thumbs_count, 0) as thumbs_up_rate,
    cast(stats.avg_rating as double) as avg_rating,
    cast(case when revenue_known.known then coalesce(revenue.revenue, 0) end as double) as revenue,
    cast(case when revenue_known.known then coalesce(revenue.paying_users, 0) end as {{ dbt.type_bigint() }}) as paying_users,
    stats.first_seen_at,
    stats.last_seen_at,
    visible as meets_privacy_threshold,
    -- the privacy auditor withheld this visible cluster's name, description or keywords
    visible and not (
        ({{ kura.privacy_shown('name_audit') }} or {{ kura.privacy_relabel_shown('name_relabel') }} or hierarchy.name is null)
        and ({{ kura.privacy_shown('description_audit') }} or {{ kura.privacy_relabel_shown('description_relabel') }} or hierarchy.description is null)
        and ({{ kura.privacy_shown('keywords_audit') }} or {{ kura.privacy_relabel_shown('keywords_relabel') }} or hierarchy.keywords is null)
    ) as privacy_withheld
from (
    select
        *,
        sum(case when visible then 0 else 1 end) over (partition by level, parent_id) as hidden_siblings
    from (
        select
            *,
            {{ kura.meets_privacy_threshold('size', 'distinct_users') }} as visible
        from {{ kura.hierarchy_relation() }}  -- the pinned categories when var kura__pinned_taxonomy is set
    ) as thresholded
) as hierarchy
cross join totals
cross join revenue_known
left join stats
    on hierarchy.cluster_id = stats.cluster_id
left join revenue
    on hierarchy.cluster_id = revenue.cluster_id
left join {{ kura.privacy_audit_join('name_audit', 'hierarchy.name') }}
left join {{ kura.privacy_audit_join('description_audit', 'hierarchy.description') }}
left join {{ kura.privacy_audit_join('keywords_audit', 'hierarchy.keywords') }}
{%- for column in ['name', 'description', 'keywords'] %}
left join {{ ref('int_kura__privacy_relabels') }} as {{ column }}_relabel
    on {{ column }}_relabel.text_hash = md5(hierarchy.{{ column }})
{%- endfor %}
