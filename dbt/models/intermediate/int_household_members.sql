{#-
    Households: individuals whose golden address is the same form one household.

    The address key is the golden address line and postcode, normalised so that typing
    differences do not split a household (macro household_address_key: lower case, punctuation
    dropped, runs of spaces collapsed, a trailing street-type abbreviation spelled out, the
    postcode without spaces, the city when there is no postcode). Every
    individual with an address is in exactly one household, a person living alone included.
    An address shared by more than var('household_max_members', 10) individuals is a care
    home, a hall of residence or a placeholder, not a household: it forms none.

    household_id is 'H' + 16 hex of a hash of the household's anchor's party_id. The anchor is
    the longest-known member (int_party_seniority: earliest known_since, then smallest
    first_record_id, both run-independent; not the smallest party_id, since which member has
    that depends on the run history). It is anchored on a member rather than on the address so
    that a household that moves house keeps its id; the id stays as long as the anchor stays
    (the anchor is the longest-known member, so a newer member joining does not change it), and
    two households can never share an anchor.
    History of the same rule over time: hist_household_members.
-#}
with

individuals as (
    select
        g.party_id, g.last_name, g.address_line, g.city, g.postcode, g.address_line_source,
        {{ crm_cif.household_address_key('g') }} as address_key,
        s.known_since, s.first_record_id
    from {{ ref('int_party_golden') }} as g
    join {{ ref('int_party_seniority') }} as s on s.party_id = g.party_id
    where g.party_type = 'individual' and g.address_line is not null and trim(g.address_line) <> ''
),

-- 1 for the longest-known individual at the address: the anchor
ranked as (
    select party_id, address_key,
        row_number() over (partition by address_key order by known_since, first_record_id, party_id) as seniority
    from individuals
),

addresses as (
    select address_key, max(case when seniority = 1 then party_id end) as anchor_party_id, count(*) as member_count
    from ranked
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
