-- Privacy: kura__cluster_facets never names a cluster below the thresholds, and shows a facet
-- value only for a cell (cluster, facet, value) of a shown cluster that itself has at least
-- kura__min_cluster_conversations conversations from kura__min_cluster_users users; a folded
-- row carries no value and no figure that compares it with the rest.
select facets.cluster_id, facets.facet, facets.facet_value, facets.cluster_name,
       facets.conversations, facets.distinct_users, facets.meets_privacy_threshold
from {{ ref('kura__cluster_facets') }} as facets
left join {{ ref('kura__clusters') }} as clusters
    on facets.cluster_id = clusters.cluster_id
where (facets.cluster_name is not null and not coalesce(clusters.meets_privacy_threshold, false))
   or (facets.cluster_name is distinct from clusters.name)
   or (facets.facet_value is not null and not (
        coalesce(clusters.meets_privacy_threshold, false)
        and facets.conversations >= {{ var('kura__min_cluster_conversations') }}
        and facets.distinct_users >= {{ var('kura__min_cluster_users') }}))
   or (facets.meets_privacy_threshold != (facets.facet_value is not null))
   or (facets.facet_value is null and (facets.lift is not null or facets.share_overall is not null
        or facets.overall_conversations is not null or facets.z_score is not null))
