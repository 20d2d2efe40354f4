{#- The per-party figures add up to the revenue transactions that have a party: none counted twice
    or lost by the incremental run (a cheap whole-table check; one pass over each side). -#}
with fact as (
    select count(*) as transactions, coalesce(sum(amount), 0) as revenue
    from {{ ref('fct_transactions') }}
    where counts_as_revenue and party_id is not null
),

figures as (
    select coalesce(sum(revenue_transactions), 0) as counted, coalesce(sum(revenue_to_date), 0) as summed
    from {{ ref('int_party_revenue') }}
)

select fact.transactions, figures.counted, fact.revenue, figures.summed
from fact
cross join figures
where fact.transactions <> figures.counted or fact.revenue <> figures.summed
