{#- What the privacy auditor withheld, by kind of text: counts only, no text (the texts and
    their scores are in the private schema: int_kura__privacy_texts, int_kura__privacy_audit).
    One row per kind (summary, request, task, cluster_name, cluster_description,
    cluster_keywords): the shown texts of that kind, how many were scored, how many are withheld
    (below var kura__privacy_min_score, or not scored yet / failed), and how many got each score
    on CLIO's 1-5 scale. Counted over the texts (one per conversation or cluster), not distinct
    texts. -#}
select
    texts.kind,
    max(audit.auditor) as auditor,
    cast({{ var('kura__privacy_min_score', 3) | int }} as {{ dbt.type_bigint() }}) as min_score,
    cast(count(*) as {{ dbt.type_bigint() }}) as texts,
    cast(sum(case when audit.score is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as scored,
    cast(sum(case when {{ kura.privacy_shown('audit') }} then 0 else 1 end) as {{ dbt.type_bigint() }}) as withheld,
    cast(sum(case when audit.score is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as not_scored,
    {%- for score in range(1, 6) %}
    cast(sum(case when audit.score = {{ score }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as score_{{ score }}{{ "," if not loop.last }}
    {%- endfor %}
from {{ ref('int_kura__privacy_texts') }} as texts
left join {{ ref('int_kura__privacy_audit') }} as audit
    on texts.text_hash = audit.text_hash
group by texts.kind
