{#- Whether the replacement of a withheld cluster text (int_kura__privacy_relabels, joined as
    `relabel_alias`) passed the privacy audit (var kura__privacy_min_score). -#}
{% macro privacy_relabel_shown(relabel_alias) -%}
    coalesce({{ relabel_alias }}.score >= {{ var('kura__privacy_min_score', 3) | int }}, false)
{%- endmacro %}
