-- kura__cluster_facets adds up: every cluster with conversations has every facet, the rows of
-- a cluster and facet (shown values and the folded row) sum to the cluster's size (language,
-- where a conversation counts once per language it uses: at least its size, no row above it),
-- and a shown value's overall count is the number of clustered conversations with that value.
{%- set facets = ['language', 'user_frustration', 'concerning_score', 'feedback', 'plan', 'paying', 'week', 'assignment_status'] %}
with sums as (
    select cluster_id, facet, sum(conversations) as conversations,
           max(conversations) as largest_row,
           max(cluster_conversations) as cluster_conversations
    from {{ ref('kura__cluster_facets') }}
    group by cluster_id, facet
),

expected as (
    select clusters.cluster_id, clusters.size, facet_names.facet
    from {{ ref('kura__clusters') }} as clusters
    cross join (
        {%- for facet in facets %}
        select '{{ facet }}' as facet{% if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as facet_names
    where clusters.size > 0
),

clustered as (
    select distinct conversation_id from {{ kura.members_relation() }}
),

overall as (
    select facet_values.facet, facet_values.facet_value, count(*) as conversations
    from {{ ref('int_kura__conversation_facet_values') }} as facet_values
    inner join clustered
        on facet_values.conversation_id = clustered.conversation_id
    group by facet_values.facet, facet_values.facet_value
)

select expected.cluster_id, expected.facet, expected.size, sums.conversations,
       sums.cluster_conversations, cast(null as {{ dbt.type_string() }}) as facet_value
from expected
left join sums
    on expected.cluster_id = sums.cluster_id
    and expected.facet = sums.facet
where sums.conversations is null
   or (expected.facet != 'language' and sums.conversations != expected.size)
   or (expected.facet = 'language' and (sums.conversations < expected.size or sums.largest_row > expected.size))
   or sums.cluster_conversations != expected.size

union all

select facets.cluster_id, facets.facet, facets.overall_conversations, overall.conversations,
       facets.population_conversations, facets.facet_value
from {{ ref('kura__cluster_facets') }} as facets
left join overall
    on facets.facet = overall.facet
    and facets.facet_value = overall.facet_value
where facets.facet_value is not null
  and (overall.conversations is null
       or facets.overall_conversations != overall.conversations
       or facets.population_conversations != (select count(*) from clustered))
