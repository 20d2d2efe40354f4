{#- Active customers at the as-of date (customer_status active); see the yml for the definition. -#}
with

period as (
    select snapshot_label as period_label, period_end as period_start, period_end from {{ ref('metric_period') }}
),

base as (
    select count(*) as active_customers
    from {{ ref('dim_customer') }}
    where party_type = 'individual' and customer_status = 'active'
)

select {{ metric_row('active_customers', 'b.active_customers', 'null', 'b.active_customers', 'customers') }}
from base as b
cross join period as p
