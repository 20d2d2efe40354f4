{#- Every relationship between two parties (rules in int_party_relationships), with both parties' kinds and names. -#}
select
    r.from_party_id,
    f.party_type as from_party_type,
    f.party_name as from_party_name,
    r.relationship_type,
    r.to_party_id,
    t.party_type as to_party_type,
    t.party_name as to_party_name,
    r.source_system,
    r.source_entity,
    r.source_key,
    r.valid_from,
    r.valid_to,
    r.is_current,
    r.evidence_count
from {{ ref('int_party_relationships') }} as r
left join {{ ref('int_parties') }} as f on f.party_id = r.from_party_id
left join {{ ref('int_parties') }} as t on t.party_id = r.to_party_id
