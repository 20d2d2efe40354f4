{#- The current consent history gives the same per-party decisions as int_party_consent: per
    party and channel the latest current marketing decision over its contact points (a refusal
    first on a tie). Returns the parties where they disagree. -#}
with

latest as (
    select party_id, channel, granted,
        row_number() over (
            partition by party_id, channel
            order by last_stated_at desc, case when granted then 1 else 0 end
        ) as recency
    from {{ ref('hist_consent') }}
    where is_current and purpose = 'marketing' and party_id is not null
),

from_history as (
    select
        party_id,
        {%- for channel in ['email', 'sms', 'phone', 'post'] %}
        coalesce(max(case when channel = '{{ channel }}' and recency = 1 then granted end), false) as consent_{{ channel }}{{ ',' if not loop.last }}
        {%- endfor %}
    from latest
    group by party_id
)

select
    coalesce(h.party_id, c.party_id) as party_id,
    {%- for channel in ['email', 'sms', 'phone', 'post'] %}
    h.consent_{{ channel }} as history_{{ channel }},
    c.consent_{{ channel }} as current_{{ channel }}{{ ',' if not loop.last }}
    {%- endfor %}
from from_history as h
full outer join {{ ref('int_party_consent') }} as c on c.party_id = h.party_id
where h.party_id is null or c.party_id is null
    {%- for channel in ['email', 'sms', 'phone', 'post'] %}
    or h.consent_{{ channel }} <> c.consent_{{ channel }}
    {%- endfor %}
