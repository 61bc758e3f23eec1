{#- The pinned taxonomy's classification by Snowflake Cortex AI_CLASSIFY (var kura__classifier:
    cortex; macros/cortex/classify.sql): one row per distinct embedded text (its MD5, as in
    kura__embeddings), its leaf category or `other`, and the path of categories chosen level by
    level (one call per level: the top level, then the children of the category chosen).
    int_kura__classification_state reads the answers (kura_dbt.classify.cortex), so that the
    conversations it classifies and the held-out members it evaluates get exactly these.

    Incremental: a text is sent when it is new, the taxonomy's calls changed (taxonomy_hash), or
    its last attempt failed; after var kura__llm_max_attempts (3) failed attempts for the same
    input it is parked (gave_up) and not sent again until its text or the taxonomy changes, or
    var kura__llm_retry_gave_up is true. Empty unless the classifier is cortex and a taxonomy is
    pinned. -#}
{{ config(
    materialized='incremental',
    unique_key='text_hash',
    on_schema_change='append_new_columns',
    schema=var('kura__private_schema'),
) }}
-- depends_on: {{ ref('stg_kura__taxonomy') }}
-- depends_on: {{ ref('kura__embeddings') }}
-- depends_on: {{ ref('kura__summaries') }}
{%- set enabled = kura.taxonomy_pinned() and kura.cortex_enabled('classifier') -%}
{%- if not enabled or not execute %}
select
    cast(null as {{ dbt.type_string() }}) as text_hash,
    cast(null as {{ dbt.type_string() }}) as category_id,
    cast(null as {{ dbt.type_string() }}) as path,
    cast(null as {{ dbt.type_string() }}) as note,
    cast(null as {{ dbt.type_string() }}) as last_answer,
    cast(null as {{ dbt.type_string() }}) as taxonomy_hash,
    cast(null as {{ dbt.type_string() }}) as stage,
    cast(null as {{ dbt.type_string() }}) as backend,
    cast(null as {{ dbt.type_string() }}) as model,
    cast(null as integer) as llm_calls,
    cast(null as integer) as prompt_tokens,
    cast(null as integer) as completion_tokens,
    cast(null as integer) as attempts,
    cast(null as boolean) as gave_up,
    cast(null as {{ dbt.type_string() }}) as error,
    cast(null as {{ dbt.type_timestamp() }}) as classified_at
where 1 = 0
{%- else -%}
{%- set taxonomy = kura.cortex_classify_taxonomy() -%}
{%- set max_attempts = var('kura__llm_max_attempts', 3) | int -%}
{%- set retry = var('kura__llm_retry_gave_up', false) | string | trim | lower in ['true', '1', 'yes'] -%}
{%- set choice = var('kura__embedding_text', 'auto') | string | trim | lower -%}
{%- if choice == 'auto' -%}
    {%- set choice = 'request' if kura.backend('summariser') == 'local' else 'summary' -%}
{%- endif -%}
{%- set text_sql = 'summaries.summary' if choice == 'summary' else "coalesce(nullif(trim(summaries.request), ''), summaries.summary)" %}

with texts as (
    select distinct embeddings.text_hash, {{ text_sql }} as text
    from {{ ref('kura__embeddings') }} as embeddings
    inner join {{ ref('kura__summaries') }} as summaries
        on summaries.conversation_id = embeddings.conversation_id
        and summaries.error is null
        and embeddings.text_hash = md5({{ text_sql }})
    where embeddings.error is null
),

parsed_0 as (
    select
        texts.text_hash,
        texts.text,
        {% if is_incremental() -%}
        case when done.taxonomy_hash = '{{ taxonomy.hash }}' then coalesce(done.attempts, 0) else 0 end
        {%- else -%}0{%- endif %} as prior_attempts,
        '' as chosen,
        cast('' as {{ dbt.type_string() }}) as path,
        cast(null as {{ dbt.type_string() }}) as note,
        cast(null as {{ dbt.type_string() }}) as last_answer,
        cast(null as {{ dbt.type_string() }}) as error,
        0 as llm_calls,
        0 as prompt_chars,
        0 as answer_chars
    from texts
    {% if is_incremental() -%}
    left join {{ this }} as done
        on done.text_hash = texts.text_hash
    where done.text_hash is null
        or done.taxonomy_hash != '{{ taxonomy.hash }}'
        or (done.error is not null and {{ 'true' if retry else 'not coalesce(done.gave_up, false)' }})
    {%- endif %}
)
{%- for level in range(taxonomy.depth) %}
{%- set groups = taxonomy.parents[level] %},

parsed_{{ level + 1 }} as (
    {%- for group in groups %}
    {%- set call = taxonomy.calls[group] %}
    {%- set sent_chars = (tojson(call['categories']) ~ tojson(call['config'])) | length %}
    select
        text_hash,
        text,
        prior_attempts,
        case
            when error is not null then null
            else case {{ kura.cortex_classify_label('response') }}
            {%- for label, cid in call['labels'].items() %}
                when {{ kura.cortex_string(label) }} then {{ kura.cortex_string(cid) }}
            {%- endfor %}
                else 'other'
            end
        end as chosen,
        case
            when error is not null then path
            else path || case when path = '' then '' else ' > ' end || case {{ kura.cortex_classify_label('response') }}
            {%- for label, cid in call['labels'].items() %}
                when {{ kura.cortex_string(label) }} then {{ kura.cortex_string(cid) }}
            {%- endfor %}
                else 'other'
            end
        end as path,
        case
            when error is not null then null
            when {{ kura.cortex_classify_label('response') }} = 'other' then 'answered other at level {{ level + 1 }}'
            when {{ kura.cortex_classify_label('response') }} not in ({% for label in call['labels'] %}{{ kura.cortex_string(label) }}{{ ", " if not loop.last }}{% endfor %})
                then 'invalid answer at level {{ level + 1 }}: ' || {{ kura.cortex_classify_label('response') }}
        end as note,
        to_varchar(response) as last_answer,
        error,
        llm_calls,
        prompt_chars,
        answer_chars + coalesce(length(to_varchar(response)), 0) as answer_chars
    from (
        select
            asked.*,
            {{ kura.cortex_classify_error('asked.response', level + 1) }} as error
        from (
            select
                text_hash,
                text,
                prior_attempts,
                path,
                llm_calls + 1 as llm_calls,
                prompt_chars + length(text) + {{ sent_chars }} as prompt_chars,
                answer_chars,
                {{ kura.cortex_classify('text', call) }} as response
            from parsed_{{ level }}
            where chosen = {{ kura.cortex_string(group) }}
                and error is null
        ) as asked
    )

    union all
    {%- endfor %}

    select
        text_hash, text, prior_attempts, chosen, path, note, last_answer, error, llm_calls,
        prompt_chars, answer_chars
    from parsed_{{ level }}
    where error is not null
        or chosen not in ({% for group in groups %}{{ kura.cortex_string(group) }}{{ ", " if not loop.last }}{% endfor %})
)
{%- endfor %}

select
    text_hash,
    case when error is null then chosen end as category_id,
    path,
    note,
    last_answer,
    '{{ taxonomy.hash }}' as taxonomy_hash,
    'classification' as stage,
    'cortex' as backend,
    'ai_classify' as model,
    llm_calls,
    cast(ceil(prompt_chars / 4) as integer) as prompt_tokens,
    cast(ceil(answer_chars / 4) as integer) as completion_tokens,
    prior_attempts + 1 as attempts,
    error is not null and prior_attempts + 1 >= {{ max_attempts }} as gave_up,
    error,
    {{ kura.utc_now() }} as classified_at
from parsed_{{ taxonomy.depth }}
{%- endif %}
