{#- The privacy auditor's gate (kura_dbt.audit, int_kura__privacy_audit): a text is shown in the
    target schema only when its score on CLIO's 1-5 scale is at least var kura__privacy_min_score.
    A text with no score yet (pending after a budget cap) or whose audit failed is withheld.
    1 turns the gate off: every score is at least 1. -#}
{% macro privacy_shown(audit_alias) -%}
    {%- set min_score = var('kura__privacy_min_score', 3) | int -%}
    {%- if min_score <= 1 -%}
    true
    {%- else -%}
    coalesce({{ audit_alias }}.score >= {{ min_score }}, false)
    {%- endif -%}
{%- endmacro %}

{#- The score of the text in `text_sql` (joined on its MD5, the key of int_kura__privacy_audit):
    `left join {{ kura.privacy_audit_join('name_audit', 'hierarchy.name') }}`. -#}
{% macro privacy_audit_join(audit_alias, text_sql) -%}
    {{ ref('int_kura__privacy_audit') }} as {{ audit_alias }}
        on {{ audit_alias }}.text_hash = md5({{ text_sql }})
{%- endmacro %}
