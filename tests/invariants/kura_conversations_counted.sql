-- Nothing is lost: every input conversation row is either used or rejected with a reason.
with input_rows as (
    select count(*) as n from {{ ref('stg_kura__conversations') }}
),

used as (
    select count(*) as n from {{ ref('int_kura__transcripts') }}
),

rejected as (
    select count(*) as n from {{ ref('kura__rejected_conversations') }}
)

select input_rows.n as input_rows, used.n as used, rejected.n as rejected
from input_rows
cross join used
cross join rejected
where input_rows.n != used.n + rejected.n
