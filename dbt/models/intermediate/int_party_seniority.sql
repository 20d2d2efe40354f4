{#-
    How long each party has been known, as a run-independent order: a household's anchor is
    its longest-known member (int_household_members, hist_household_members), so that which
    member anchors it, and so the household id, does not depend on the party ids, which
    depend on the run history (stable_ids).

    known_since is the earliest business time of any version of any of the party's records.
    Not int_party_golden.first_seen_at: that is the earliest of the current versions, so it
    moves forward whenever a record changes, and an anchor would lose its place to a newer
    member on a phone-number update. Ties go to the party's smallest record_id (a source key,
    unique to one party).
-#}
select
    x.party_id,
    min(v.valid_from) as known_since,
    min(x.record_id) as first_record_id
from {{ source('integration', 'party_xref') }} as x
join {{ ref('int_party_record_versions') }} as v on v.record_id = x.record_id
group by x.party_id
