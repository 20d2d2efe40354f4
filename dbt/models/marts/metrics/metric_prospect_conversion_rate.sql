{#- Share of the prospects at the period start who became customers within it (metric_prospect_cohort). -#}
with

period as (
    select * from {{ ref('metric_period') }}
),

cohort as (
    select count(*) as prospects_at_start,
        count(case when outcome = 'converted' then 1 end) as converted
    from {{ ref('metric_prospect_cohort') }}
)

select {{ metric_row('prospect_conversion_rate', 'c.converted', 'c.prospects_at_start',
                     safe_ratio('c.converted', 'c.prospects_at_start'), 'ratio') }}
from cohort as c
cross join period as p
