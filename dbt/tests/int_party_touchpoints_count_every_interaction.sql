{#- The per-party counts add up to the interactions that have a party: none counted twice or
    lost by the incremental run (a cheap whole-table check; one count per side). -#}
with counts as (
    select
        (select count(*) from {{ ref('fct_interactions') }} where party_id is not null) as interactions,
        (select coalesce(sum(interactions_total), 0) from {{ ref('int_party_touchpoints') }}) as counted
)
select * from counts
where interactions <> counted
