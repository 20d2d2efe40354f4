{#- The per-party figures add up to the revenue transactions that have a party: none counted twice
    or lost by the incremental run (a cheap whole-table check; one sum per side). -#}
with sums as (
    select
        (select count(*) from {{ ref('fct_transactions') }} where counts_as_revenue and party_id is not null) as transactions,
        (select coalesce(sum(revenue_transactions), 0) from {{ ref('int_party_revenue') }}) as counted,
        (select coalesce(sum(amount), 0) from {{ ref('fct_transactions') }} where counts_as_revenue and party_id is not null) as revenue,
        (select coalesce(sum(revenue_to_date), 0) from {{ ref('int_party_revenue') }}) as summed
)
select * from sums
where transactions <> counted or revenue <> summed
