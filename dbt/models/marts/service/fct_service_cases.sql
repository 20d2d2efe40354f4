{#- One row per service case in its latest state, with how long it took and how it ended. -#}
with

versions as (
    select * from {{ latest_versions(ref('stg_service__cases'), 'case_id') }} as current_versions
)

select
    c.case_id,
    ids.party_id,
    c.channel,
    c.category,
    c.is_complaint,
    c.priority,
    c.opened_at,
    c.closed_at,
    case when c.closed_at is null then true else false end as is_open,
    case when c.closed_at is not null
        then cast({{ dbt.datediff("c.opened_at", "c.closed_at", "minute") }} as double) / 60 end as resolution_hours,
    coalesce(c.escalated, false) as escalated,
    c.satisfaction_score,
    c.status,
    c.customer_ref_type,
    c.updated_at as last_updated_at
from versions as c
left join {{ source('integration', 'party_identifiers') }} as ids
    on ids.id_type = c.customer_ref_type and ids.id_value = c.customer_ref
