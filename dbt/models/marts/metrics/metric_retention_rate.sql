{#- Share of the customers at the period start who are retained at its end (metric_customer_cohort). -#}
with

period as (
    select * from {{ ref('metric_period') }}
),

cohort as (
    select count(*) as customers_at_start,
        count(case when outcome = 'retained' then 1 end) as retained
    from {{ ref('metric_customer_cohort') }}
)

select {{ metric_row('retention_rate', 'c.retained', 'c.customers_at_start', safe_ratio('c.retained', 'c.customers_at_start'), 'ratio') }}
from cohort as c
cross join period as p
