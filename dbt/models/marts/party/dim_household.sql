{#-
    One row per household (individuals sharing a normalised golden address; the rule and the
    id are in int_household_members): where it lives, who is in it and how many of them are
    customers, using dim_customer's customer_status.
-#}
with

members as (
    select hm.household_id, hm.anchor_party_id, hm.address_line, hm.city, hm.postcode,
        c.party_id, c.is_customer, c.customer_status, c.customer_since
    from {{ ref('int_household_members') }} as hm
    join {{ ref('dim_customer') }} as c on c.party_id = hm.party_id
),

households as (
    select
        household_id,
        max(anchor_party_id) as anchor_party_id,
        count(*) as member_count,
        count(case when is_customer then 1 end) as customer_member_count,
        count(case when customer_status in ('active', 'inactive') then 1 end) as current_customer_member_count,
        count(case when customer_status = 'active' then 1 end) as active_customer_member_count,
        count(case when customer_status = 'prospect' then 1 end) as prospect_member_count,
        min(customer_since) as customer_since
    from members
    group by household_id
)

select
    h.household_id,
    p.party_name as household_name,
    h.anchor_party_id,
    anchor.address_line,
    anchor.city,
    anchor.postcode,
    h.member_count,
    h.customer_member_count,
    h.current_customer_member_count,
    h.active_customer_member_count,
    h.prospect_member_count,
    case
        when h.active_customer_member_count > 0 then 'active'
        when h.current_customer_member_count > 0 then 'inactive'
        when h.customer_member_count > 0 then 'closed'
        else 'prospect'
    end as household_status,
    h.customer_since
from households as h
join {{ ref('int_parties') }} as p on p.party_id = h.household_id
join {{ ref('int_household_members') }} as anchor on anchor.party_id = h.anchor_party_id
