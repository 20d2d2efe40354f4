{#-
    Consent status as SCD type 2 per subject (an email address or phone number) x purpose x
    channel, at the time the decision was recorded (recorded_at). The decisions are those of
    int_party_consent: the marketing consent records, plus every email unsubscribe as an opt-out
    of marketing by email, so the current rows agree with it (dbt test
    hist_consent_current_matches_int_party_consent). A refusal and a grant recorded at the same
    moment: the refusal wins (privacy by default, as int_party_consent), then the later delivery.
    party_id is the party holding the contact point today.
-#}
with

decisions as (
    select subject_type, subject_value, purpose, channel, granted, recorded_at,
        'marketing' as decision_source, consent_id as decision_id,
        _loaded_at, _source_file, _row_number
    from {{ ref('stg_marketing__consents') }}
    where subject_value is not null

    union all
    select 'email', email_address, 'marketing', 'email', false, event_ts,
        'email', event_id,
        _loaded_at, _source_file, _row_number
    from {{ ref('stg_email__events') }}
    where event_type = 'unsubscribe' and email_address is not null
),

periods as (
    select * from {{ scd2_periods(
        'decisions', ['subject_type', 'subject_value', 'purpose', 'channel'], 'recorded_at', ['granted'],
        carried_columns=['decision_source', 'decision_id'],
        tie_breakers=['case when granted then 1 else 0 end', '_loaded_at desc', '_source_file desc', '_row_number desc'],
    ) }} as p
)

select
    p.subject_type,
    p.subject_value,
    subjects.party_id,
    p.purpose,
    p.channel,
    p.granted,
    p.decision_source,
    p.decision_id,
    p.valid_from,
    p.valid_to,
    p.is_current,
    p.last_stated_at,
    p.version_count,
    p.loaded_at
from periods as p
left join {{ source('integration', 'party_identifiers') }} as subjects
    on subjects.id_type = p.subject_type and subjects.id_value = p.subject_value
