{#-
    The prospects a period starts with, and what became of each: the base of
    prospect_conversion_rate and loss_vs_attrition. A prospect at the period start is an
    individual known by then (first_seen_at on or before it) who had not held a product yet
    (customer_since after it, or never). Outcome at the period end: converted (first holding
    started within the period; dim_customer.customer_since), lost (not converted and no
    touchpoint in the last customer_active_days days, the same window as customer_status
    active), open (not converted, still in touch).
-#}
{%- set window = var("customer_active_days", 180) -%}
with

period as (
    select * from {{ ref('metric_period') }}
),

last_touch as (
    select party_id, cast(last_interaction_at as date) as last_touch_on
    from {{ ref('int_party_touchpoints') }}
)

select
    c.party_id,
    c.customer_status as status_at_end,
    c.customer_since,
    t.last_touch_on,
    case
        when c.customer_since <= p.period_end then 'converted'
        when t.last_touch_on >= {{ dbt.dateadd("day", -window, "p.period_end") }} then 'open'
        else 'lost'
    end as outcome,
    p.period_start,
    p.period_end
from {{ ref('dim_customer') }} as c
cross join period as p
left join last_touch as t on t.party_id = c.party_id
where c.party_type = 'individual'
    and cast(c.first_seen_at as date) <= p.period_start
    and (c.customer_since is null or c.customer_since > p.period_start)
