{#- Net CLV earned per unit of acquisition cost, over the customers acquired at a cost; see the yml.
    Lives under marts/segments so it builds after the analytics assets (dbt_analytics_marts). -#}
with

acquisition as (
    select * from {{ source('analytics', 'clv_by_acquisition') }}
    where cac > 0
),

period as (
    select cast('as_of' as {{ dbt.type_string() }}) as period_label,
        cast(max(as_of_date) as date) as period_start, cast(max(as_of_date) as date) as period_end
    from {{ source('analytics', 'customer_clv') }}
),

totals as (
    select sum(cast(avg_net_clv as double) * customers_acquired) as net_clv_total,
        sum(cast(acquisition_spend as double)) as acquisition_spend
    from acquisition
)

select {{ metric_row('clv_to_cac', 't.net_clv_total', 't.acquisition_spend',
                     safe_ratio('t.net_clv_total', 't.acquisition_spend'), 'ratio') }}
from totals as t
cross join period as p
