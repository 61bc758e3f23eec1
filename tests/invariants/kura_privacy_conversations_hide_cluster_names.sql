-- Privacy: kura__conversations never names a cluster below the thresholds, and only flags a
-- conversation as showable (cluster_meets_privacy_threshold) when its base cluster and its
-- top-level cluster both meet them.
select
    conversations.conversation_id,
    conversations.base_cluster_name,
    conversations.top_cluster_name,
    conversations.cluster_meets_privacy_threshold
from {{ ref('kura__conversations') }} as conversations
left join {{ ref('kura__clusters') }} as base
    on conversations.base_cluster_id = base.cluster_id
left join {{ ref('kura__clusters') }} as top_level
    on conversations.top_cluster_id = top_level.cluster_id
where (not coalesce(base.meets_privacy_threshold, false) and conversations.base_cluster_name is not null)
   or (not coalesce(top_level.meets_privacy_threshold, false) and conversations.top_cluster_name is not null)
   or (conversations.cluster_meets_privacy_threshold
       and not (coalesce(base.meets_privacy_threshold, false) and coalesce(top_level.meets_privacy_threshold, false)))
