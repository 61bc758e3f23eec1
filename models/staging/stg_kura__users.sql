{#- Users or accounts with plan and revenue (optional input, var kura__users). Empty when none. -#}
{%- if kura.input_enabled('kura__users') -%}
{%- set source_relation = var('kura__users') -%}
{{ kura.require_columns(source_relation, 'kura__users', {'user_id': 'kura__user_id_column'}) }}
select
    cast({{ var('kura__user_id_column') }} as {{ dbt.type_string() }}) as user_id,
    {{ kura.optional_column(source_relation, 'kura__user_plan_column', dbt.type_string()) }} as plan,
    {{ kura.optional_column(source_relation, 'kura__user_revenue_column', dbt.type_float()) }} as revenue
from {{ source_relation }}
{%- else -%}
select
    cast(null as {{ dbt.type_string() }}) as user_id,
    cast(null as {{ dbt.type_string() }}) as plan,
    cast(null as {{ dbt.type_float() }}) as revenue
where 1 = 0
{%- endif %}
