{#- The analyst's pinned taxonomy (var kura__pinned_taxonomy: an edited `kura taxonomy export`, loaded
    as a seed; kura.taxonomy_relation() says how the var names it), as it is:
    int_kura__classification_state validates it and names the row and field of every problem.
    Empty in discovery mode (the var is null). -#}
{%- if kura.taxonomy_pinned() -%}
{{ kura.warn_pinned_taxonomy_in_target_schema(kura.taxonomy_relation()) }}
select * from {{ kura.taxonomy_relation() }}
{%- else -%}
select
    cast(null as {{ dbt.type_string() }}) as category_id,
    cast(null as {{ dbt.type_string() }}) as name,
    cast(null as {{ dbt.type_string() }}) as description,
    cast(null as {{ dbt.type_string() }}) as parent_id,
    cast(null as {{ dbt.type_string() }}) as cluster_id
where 1 = 0
{%- endif %}
