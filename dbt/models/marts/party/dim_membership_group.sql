{#- One row per membership group (association scheme): the scheme and its members now. -#}
with

members as (
    select r.to_party_id as membership_group_id,
        count(*) as member_count,
        count(case when c.is_customer then 1 end) as customer_member_count,
        count(case when c.customer_status in ('active', 'inactive') then 1 end) as current_customer_member_count
    from {{ ref('int_party_relationships') }} as r
    join {{ ref('dim_customer') }} as c on c.party_id = r.from_party_id
    where r.relationship_type = 'member_of' and r.is_current
    group by r.to_party_id
)

select
    g.group_party_id as membership_group_id,
    g.scheme_code,
    g.scheme_name,
    g.association_name,
    g.discount_rate,
    g.started_at,
    g.is_listed,
    coalesce(m.member_count, 0) as member_count,
    coalesce(m.customer_member_count, 0) as customer_member_count,
    coalesce(m.current_customer_member_count, 0) as current_customer_member_count
from {{ ref('int_membership_groups') }} as g
left join members as m on m.membership_group_id = g.group_party_id
