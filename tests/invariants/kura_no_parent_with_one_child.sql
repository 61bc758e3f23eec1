-- CLIO's rule: a parent with a single child is never emitted.
select parent_id, count(*) as children
from {{ ref('kura__cluster_hierarchy') }}
where parent_id is not null
group by parent_id
having count(*) = 1
