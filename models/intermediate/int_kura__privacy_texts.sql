{#- Every text the marts, the tree or the report may show, one row per (kind, subject): the
    summary, request and task of each conversation, the name, description and keywords of each cluster at
    every level (the pinned categories' with var kura__pinned_taxonomy). text_hash (MD5 of the
    text) is the key of its privacy score in int_kura__privacy_audit, so a text that did not
    change is never audited again. A view: the text stays in the tables it comes from. -#}
{{ config(materialized='view') }}
with texts as (
    select 'summary' as kind, conversation_id as subject_id, summary as text
    from {{ ref('kura__summaries') }}
    where summary is not null
    union all
    select 'request' as kind, conversation_id as subject_id, request as text
    from {{ ref('kura__summaries') }}
    where request is not null
    union all
    select 'task' as kind, conversation_id as subject_id, task as text
    from {{ ref('kura__summaries') }}
    where task is not null
    union all
    select 'cluster_name' as kind, cluster_id as subject_id, name as text
    from {{ kura.hierarchy_relation() }}
    where name is not null
    union all
    select 'cluster_description' as kind, cluster_id as subject_id, description as text
    from {{ kura.hierarchy_relation() }}
    where description is not null
    union all
    select 'cluster_keywords' as kind, cluster_id as subject_id, keywords as text
    from {{ kura.hierarchy_relation() }}
    where keywords is not null
)

select
    kind,
    subject_id,
    text,
    md5(text) as text_hash
from texts
