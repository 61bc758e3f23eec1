{#- Generic test: the combination of columns is unique (so the package needs no dependency). -#}
{% test kura_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
