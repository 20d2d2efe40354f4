{#- Average net CLV of the customers the CLV model scored, at its latest as-of date; see the yml.
    Lives under marts/segments so it builds after the analytics assets (dbt_analytics_marts). -#}
with

scored as (
    select * from {{ source('analytics', 'customer_clv') }}
    where as_of_date = (select max(as_of_date) from {{ source('analytics', 'customer_clv') }})
),

period as (
    select cast('as_of' as {{ dbt.type_string() }}) as period_label,
        cast(max(as_of_date) as date) as period_start, cast(max(as_of_date) as date) as period_end
    from scored
),

totals as (
    select sum(cast(net_clv as double)) as net_clv_total, count(*) as customers
    from scored
)

select {{ metric_row('average_clv', 't.net_clv_total', 't.customers',
                     safe_ratio('t.net_clv_total', 't.customers'), 'currency') }}
from totals as t
cross join period as p
