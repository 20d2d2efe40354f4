{#-
    Product holdings as SCD type 2: one row per period in which a holding's delivered state
    (holder, payer, product, dates, status, fee, ...) stayed the same. Business time is the
    version's updated_at; start_date and end_date are kept as the source states them. Parties
    resolve through today's identity (party ids are stable), so history and marts join.
-#}
{%- set tracked = ['account_number', 'payer_account_number', 'product_code', 'sponsor_org_id', 'scheme_code',
                   'acquisition_channel', 'campaign_code', 'start_date', 'end_date', 'status', 'monthly_fee'] -%}
with

periods as (
    select * from {{ scd2_periods(ref('stg_billing__holdings'), 'holding_id', 'updated_at', tracked) }} as p
),

identifiers as (
    select * from {{ source('integration', 'party_identifiers') }}
)

select
    p.holding_id,
    p.product_code,
    holders.party_id,
    p.account_number,
    payers.party_id as payer_party_id,
    p.payer_account_number,
    sponsors.party_id as sponsor_party_id,
    p.sponsor_org_id,
    p.scheme_code,
    p.acquisition_channel,
    p.campaign_code,
    p.start_date,
    p.end_date,
    p.status,
    case when p.status = 'active' and p.end_date is null then true else false end as is_active,
    p.monthly_fee,
    p.valid_from,
    p.valid_to,
    p.is_current,
    p.last_stated_at,
    p.version_count,
    p.loaded_at
from periods as p
left join identifiers as holders on holders.id_type = 'account_number' and holders.id_value = p.account_number
left join identifiers as payers on payers.id_type = 'account_number' and payers.id_value = p.payer_account_number
left join identifiers as sponsors on sponsors.id_type = 'org_id' and sponsors.id_value = p.sponsor_org_id
