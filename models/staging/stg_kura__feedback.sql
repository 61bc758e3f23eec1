{#- Feedback on conversations (optional input, var kura__feedback). Empty when the var is none. -#}
{%- if kura.input_enabled('kura__feedback') -%}
{%- set source_relation = var('kura__feedback') -%}
{{ kura.require_columns(source_relation, 'kura__feedback', {'conversation_id': 'kura__conversation_id_column'}) }}
select
    cast({{ var('kura__conversation_id_column') }} as {{ dbt.type_string() }}) as conversation_id,
    {{ kura.optional_column(source_relation, 'kura__feedback_thumbs_up_column', dbt.type_boolean()) }} as thumbs_up,
    {{ kura.optional_column(source_relation, 'kura__feedback_rating_column', dbt.type_float()) }} as rating
from {{ source_relation }}
{%- else -%}
select
    cast(null as {{ dbt.type_string() }}) as conversation_id,
    cast(null as {{ dbt.type_boolean() }}) as thumbs_up,
    cast(null as {{ dbt.type_float() }}) as rating
where 1 = 0
{%- endif %}
