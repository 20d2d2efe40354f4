{#- Customers holding a product at the as-of date; see the yml for the definition. -#}
with

period as (
    select snapshot_label as period_label, period_end as period_start, period_end from {{ ref('metric_period') }}
),

base as (
    select count(*) as customers
    from {{ ref('dim_customer') }}
    where party_type = 'individual' and customer_status in ('active', 'inactive')
)

select {{ metric_row('customer_count', 'b.customers', 'null', 'b.customers', 'customers') }}
from base as b
cross join period as p
