{#- Prospects lost against customers attrited in the same period (both cohorts). -#}
with

period as (
    select * from {{ ref('metric_period') }}
),

lost as (
    select count(case when outcome = 'lost' then 1 end) as lost_prospects
    from {{ ref('metric_prospect_cohort') }}
),

attrited as (
    select count(case when outcome = 'attrited' then 1 end) as attrited_customers
    from {{ ref('metric_customer_cohort') }}
)

select {{ metric_row('loss_vs_attrition', 'l.lost_prospects', 'a.attrited_customers',
                     safe_ratio('l.lost_prospects', 'a.attrited_customers'), 'ratio') }}
from lost as l
cross join attrited as a
cross join period as p
