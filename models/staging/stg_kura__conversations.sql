{#- One row per conversation from the user's conversations table (var kura__conversations). -#}
{%- set source_relation = var('kura__conversations') -%}
{{ kura.require_columns(source_relation, 'kura__conversations', {'conversation_id': 'kura__conversation_id_column'}) }}

select
    cast({{ var('kura__conversation_id_column') }} as {{ dbt.type_string() }}) as conversation_id,
    {{ kura.optional_column(source_relation, 'kura__user_id_column', dbt.type_string()) }} as user_id,
    {{ kura.optional_column(source_relation, 'kura__conversation_created_at_column', dbt.type_timestamp()) }} as created_at
from {{ source_relation }}
