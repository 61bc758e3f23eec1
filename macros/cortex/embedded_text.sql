{#- The text the Cortex embeddings model embeds from a kura__summaries row `alias`: the same SQL
    as kura_dbt.sql.embedded_text renders for the Python embedder (the column that
    var kura__embedding_text chooses, the summary when the request is blank; redaction's markers
    left out, with the space before each, the whole text kept when it is only markers), so that
    both backends hash and embed one text. The markers are kura_dbt.redact.MARKERS;
    tests/python/test_embedded_text.py fails when this list or this SQL differs from the
    library's. -#}
{% macro embedded_text(column, alias) -%}
    {%- set markers = ['[EMAIL]', '[IP]', '[CARD]', '[PHONE]', '[NAME]', '[ADDRESS]', '[ACCOUNT]'] -%}
    {%- set text = 'cast(' ~ alias ~ '.summary as varchar)' -%}
    {%- if column != 'summary' -%}
        {%- set text = "coalesce(nullif(trim(cast(" ~ alias ~ "." ~ column ~ " as varchar)), ''), " ~ text ~ ")" -%}
    {%- endif -%}
    {%- set ns = namespace(sql=text) -%}
    {%- for marker in markers -%}
        {%- set ns.sql = "replace(replace(" ~ ns.sql ~ ", ' " ~ marker ~ "', ''), '" ~ marker ~ "', '')" -%}
    {%- endfor -%}
    coalesce(nullif(trim({{ ns.sql }}), ''), {{ text }})
{%- endmacro %}
