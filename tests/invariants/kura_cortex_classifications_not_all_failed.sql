{#- A build in which every text AI_CLASSIFY was asked about failed, fails, showing the first
    error (a missing privilege, a function unavailable in the region): a night that stores only
    errors is not a success. Retries of texts that failed before do not count (a text the service
    always refuses would fail every night), as in kura_dbt.failures. Empty unless var
    kura__classifier is cortex. -#}
with last_build as (
    select *
    from {{ ref('int_kura__cortex_classifications') }}
    where classified_at = (select max(classified_at) from {{ ref('int_kura__cortex_classifications') }})
)

select
    min(error) as first_error,
    count(*) as attempted
from last_build
having count(*) > 0
    and count(*) = count(error)
    and min(attempts) = 1
