{#-
    Every party once, whatever its kind:
      individual        a person resolved by identity (integration.party_xref)
      organisation      a business account (sales organisations)
      unidentified      a contact point (a phone, an email) nobody has registered yet
      household         individuals sharing a golden address (int_household_members)
      membership_group  an association scheme members enrol through (int_membership_groups)
      staff             an account manager (int_account_managers); not a customer
    Ids carry their kind in the first letter: P (resolved parties), H, G, S.
-#}
with

golden as (
    select * from {{ ref('int_party_golden') }}
),

households as (
    select household_id, max(anchor_party_id) as anchor_party_id,
        max(address_line) as address_line, max(city) as city, max(postcode) as postcode
    from {{ ref('int_household_members') }}
    group by household_id
)

select party_id, party_type, display_name as party_name, city, postcode
from golden

union all
select h.household_id, 'household',
    {{ dbt.concat(["coalesce(anchor.last_name, h.address_line)", "' household'"]) }},
    h.city, h.postcode
from households as h
left join golden as anchor on anchor.party_id = h.anchor_party_id

union all
select g.group_party_id, 'membership_group', coalesce(g.scheme_name, g.scheme_code), null, null
from {{ ref('int_membership_groups') }} as g

union all
select staff_party_id, 'staff', account_manager_name, null, null
from {{ ref('int_account_managers') }}
