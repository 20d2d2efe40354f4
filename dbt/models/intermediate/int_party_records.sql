{#-
    Every record that describes a party, from every source, in one shape: the current version
    of each party-bearing record (branch customers, web and app users, leads, sales contacts,
    organisations), plus contact points (a phone, an email) seen only on touchpoints, so that a
    caller or recipient nobody has registered still becomes a party of its own. Identity
    resolution and the golden record read this; history reads every version
    (int_party_record_versions).
-#}
select
    record_id, source_system, source_entity, source_key, party_type,
    first_name, last_name, full_name, date_of_birth, email, phone,
    address_line, city, postcode, account_number, org_id, record_updated_at, trust_rank
from {{ ref('int_party_record_versions') }}
where valid_to is null
