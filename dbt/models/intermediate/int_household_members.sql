{#-
    Households: individuals whose golden address is the same form one household.

    The address key is the golden address line and postcode, normalised so that typing
    differences do not split a household (macro household_address_key: lower case, punctuation
    dropped, runs of spaces collapsed, a trailing street-type abbreviation spelled out, the
    postcode without spaces, the city when there is no postcode). Every
    individual with an address is in exactly one household, a person living alone included.
    An address shared by more than var('household_max_members', 10) individuals is a care
    home, a hall of residence or a placeholder, not a household: it forms none.

    household_id is 'H' + 16 hex of a hash of the household's anchor, its smallest member
    party_id. It is anchored on a member rather than on the address so that a household that
    moves house keeps its id; it stays the same as long as the anchor member stays, and two
    households can never share an anchor. Party ids are stable across runs, so household ids are.
    History of the same rule over time: hist_household_members.
-#}
with

individuals as (
    select
        g.party_id, g.last_name, g.address_line, g.city, g.postcode, g.address_line_source,
        {{ crm_cif.household_address_key('g') }} as address_key
    from {{ ref('int_party_golden') }} as g
    where g.party_type = 'individual' and g.address_line is not null and trim(g.address_line) <> ''
),

addresses as (
    select address_key, min(party_id) as anchor_party_id, count(*) as member_count
    from individuals
    group by address_key
    having count(*) <= {{ var('household_max_members', 10) }}
)

select
    i.party_id,
    {{ crm_cif.household_id('a.anchor_party_id') }} as household_id,
    a.anchor_party_id,
    a.member_count,
    i.address_key,
    i.last_name,
    i.address_line,
    i.city,
    i.postcode,
    i.address_line_source
from individuals as i
join addresses as a on a.address_key = i.address_key
