{#-
    The customers a period starts with, and where each stands at its end: the base of
    attrition_rate and retention_rate. A customer at the period start is an individual holding a
    product that day (a holding started on or before it and not ended by it). Their standing at
    the end is dim_customer.customer_status, never a rule of its own: retained = active or
    inactive (still holds a product), attrited = closed (holds none now).
-#}
with

period as (
    select * from {{ ref('metric_period') }}
),

held_at_start as (
    select distinct h.party_id
    from {{ ref('int_holdings_current') }} as h
    cross join period as p
    where h.party_id is not null
        and h.start_date <= p.period_start
        and (h.end_date is null or h.end_date > p.period_start)
)

select
    c.party_id,
    c.customer_status as status_at_end,
    case when c.customer_status = 'closed' then 'attrited' else 'retained' end as outcome,
    p.period_start,
    p.period_end
from {{ ref('dim_customer') }} as c
inner join held_at_start as s on s.party_id = c.party_id
cross join period as p
where c.party_type = 'individual'
