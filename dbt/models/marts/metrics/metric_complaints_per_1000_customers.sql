{#- Complaints opened in the period per 1,000 customers at its end; see the yml. -#}
with

period as (
    select * from {{ ref('metric_period') }}
),

complaints as (
    select count(*) as complaints
    from {{ ref('fct_service_cases') }} as s
    cross join period as p
    where s.is_complaint
        and cast(s.opened_at as date) > p.period_start
        and cast(s.opened_at as date) <= p.period_end
),

customers as (
    select value as customers from {{ ref('metric_customer_count') }}
)

select {{ metric_row('complaints_per_1000_customers', 'k.complaints', 'c.customers',
                     safe_ratio('k.complaints', 'c.customers', 1000), 'per_1000_customers') }}
from complaints as k
cross join customers as c
cross join period as p
