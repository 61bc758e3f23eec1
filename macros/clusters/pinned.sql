{#- The value of var kura__pinned_taxonomy, or, while it is null, of its deprecated name
    kura__taxonomy (kura.check_vars() warns once per run when that one is set). -#}
{% macro pinned_taxonomy_var() -%}
    {%- set value = var('kura__pinned_taxonomy', none) -%}
    {{ return(value if value is not none else var('kura__taxonomy', none)) }}
{%- endmacro %}

{#- True when a pinned taxonomy is set (var kura__pinned_taxonomy): the marts then show its
    categories (int_kura__category_hierarchy, kura__conversation_categories) instead of the
    discovered clusters. -#}
{% macro taxonomy_pinned() -%}
    {%- set value = kura.pinned_taxonomy_var() -%}
    {{ return(value is not none and (value | string | trim) not in ('', 'None', 'none', 'null')) }}
{%- endmacro %}

{#- The analyst's taxonomy that var kura__pinned_taxonomy names: a model or seed of your project by
    its name (`my_taxonomy`: the package refs it as ref(<your project>, 'my_taxonomy'), so dbt
    knows the dependency and has nothing to warn about), or any relation (`raw.my_taxonomy`,
    `"{{ source('app', 'taxonomy') }}"`). A ref() written into the var itself is rendered in
    every package model that reads the var, and dbt warns in each
    (require_ref_prefers_node_package_to_root): give the name instead. -#}
{% macro taxonomy_relation() -%}
    {%- set value = kura.pinned_taxonomy_var() -%}
    {%- if value is string and modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', value | trim) -%}
        {{ return(ref(project_name, value | trim)) }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{#- The hierarchy the marts read: the pinned categories or the discovered clusters (same
    columns). -#}
{% macro hierarchy_relation() -%}
    {%- if kura.taxonomy_pinned() -%}
        {{ return(ref('int_kura__category_hierarchy')) }}
    {%- else -%}
        {{ return(ref('kura__cluster_hierarchy')) }}
    {%- endif -%}
{%- endmacro %}

{#- Every (conversation, category) pair at every level of the current pinned taxonomy: its
    category (`other` included) and each of that category's ancestors. -#}
{% macro category_ancestors(conversations_sql, category_column) -%}
with recursive members as (
    select
        conversations.conversation_id,
        categories.category_id as cluster_id,
        categories.level,
        categories.parent_id
    from ({{ conversations_sql }}) as conversations
    inner join {{ ref('kura__categories') }} as categories
        on conversations.{{ category_column }} = categories.category_id

    union all

    select
        members.conversation_id,
        parents.category_id,
        parents.level,
        parents.parent_id
    from members
    inner join {{ ref('kura__categories') }} as parents
        on members.parent_id = parents.category_id
)

select conversation_id, cluster_id, level
from members
{%- endmacro %}

{#- The (conversation, cluster) pairs at every level that the marts count: the pinned
    categories' or the discovered clusters'. -#}
{% macro members_relation() -%}
    {%- if kura.taxonomy_pinned() -%}
        {{ return(ref('int_kura__category_members')) }}
    {%- else -%}
        {{ return(ref('int_kura__cluster_members')) }}
    {%- endif -%}
{%- endmacro %}

{#- The conversations that fit nowhere, against their nearest cluster or category and its
    ancestors. -#}
{% macro novel_members_relation() -%}
    {%- if kura.taxonomy_pinned() -%}
        {{ return(ref('int_kura__category_novel_members')) }}
    {%- else -%}
        {{ return(ref('int_kura__novel_members')) }}
    {%- endif -%}
{%- endmacro %}

{#- The CTEs `state` (int_kura__classification_state) and `current_version` (the taxonomy
    version of the latest classification run), shared by the pinned taxonomy's models; the
    caller writes `with` before it. -#}
{% macro classification_state_ctes() %}
state as (
    select *
    from {{ ref('int_kura__classification_state') }}
),

current_version as (
    select max(taxonomy_version) as taxonomy_version
    from state
    where record_type = 'run'
        and run_number = (select max(run_number) from state where record_type = 'run')
)
{% endmacro %}

{#- A pinned taxonomy holds example texts (example_1, ...: conversations' words). As a seed or
    model of the user's project it lands in the target schema, where BI users look, unless the
    project says otherwise: say so, with the line that moves it (docs/privacy.md). -#}
{% macro warn_pinned_taxonomy_in_target_schema(relation) -%}
    {%- if execute and relation is not string and relation.schema is not none
          and (relation.schema | lower) == (target.schema | lower) -%}
        {%- set examples = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if 'example' in (column.name | lower) -%}
                {%- do examples.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if examples -%}
            {%- do exceptions.warn(
                "kura: the pinned taxonomy " ~ relation ~ " holds conversations' words ("
                ~ examples | join(', ') ~ ") in the target schema " ~ target.schema
                ~ ", where BI users look; put it in the private schema with `seeds: {"
                ~ project_name ~ ": {" ~ relation.identifier ~ ": {+schema: "
                ~ var('kura__private_schema', 'kura_private') ~ "}}}` in dbt_project.yml") -%}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
