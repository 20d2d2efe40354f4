{#-
    Marketing consent per party and channel: the latest decision recorded for any of the
    party's contact points wins; an email unsubscribe is an opt-out for email. No decision
    means no consent (privacy by default).
-#}
with

decisions as (
    select subject_type as id_type, subject_value as id_value, channel, granted, recorded_at
    from {{ ref('stg_marketing__consents') }}
    where purpose = 'marketing'
    union all
    select 'email', email_address, 'email', false, event_ts
    from {{ ref('stg_email__events') }}
    where event_type = 'unsubscribe'
),

party_decisions as (
    select ids.party_id, d.channel, d.granted, d.recorded_at,
        row_number() over (partition by ids.party_id, d.channel order by d.recorded_at desc, d.granted) as recency
    from decisions as d
    join {{ source('integration', 'party_identifiers') }} as ids
        on ids.id_type = d.id_type and ids.id_value = d.id_value
)

select
    party_id,
    {%- for channel in ['email', 'sms', 'phone', 'post'] %}
    coalesce(max(case when channel = '{{ channel }}' and recency = 1 then granted end), false) as consent_{{ channel }},
    {%- endfor %}
    max(recorded_at) as consent_updated_at
from party_decisions
group by party_id
