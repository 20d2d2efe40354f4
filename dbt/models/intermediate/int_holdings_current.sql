{#- The current version of every product holding, with the parties that use, pay for and sponsor it. -#}
with

versions as (
    select * from {{ latest_versions(ref('stg_billing__holdings'), 'holding_id') }} as current_versions
),

identifiers as (
    select * from {{ source('integration', 'party_identifiers') }}
)

select
    h.holding_id,
    h.product_code,
    users.party_id as party_id,
    h.account_number,
    payers.party_id as payer_party_id,
    sponsors.party_id as sponsor_party_id,
    h.scheme_code,
    h.acquisition_channel,
    h.campaign_code,
    h.start_date,
    h.end_date,
    case when h.status = 'active' and h.end_date is null then true else false end as is_active,
    h.monthly_fee,
    h.updated_at
from versions as h
left join identifiers as users on users.id_type = 'account_number' and users.id_value = h.account_number
left join identifiers as payers on payers.id_type = 'account_number' and payers.id_value = h.payer_account_number
left join identifiers as sponsors on sponsors.id_type = 'org_id' and sponsors.id_value = h.sponsor_org_id
