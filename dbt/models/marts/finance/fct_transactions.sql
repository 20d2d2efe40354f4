{#-
    Every monetary movement: billing purchases, fees, interest and refunds (the revenue
    ledger), teller cash movements and web orders. Only billing rows count as revenue, so a web
    order that billing also charges is not counted twice.

    Incremental (macros/incremental_facts.sql): a daily run re-derives only the movements
    loaded since the last run and those whose identifier changed party, by transaction_id.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='transaction_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ stage_fact_identifiers(source('integration', 'party_identifiers')) }}",
    post_hook="{{ save_fact_identifiers(source('integration', 'party_identifiers')) }}",
) }}
{%- set watermark = fact_watermark() %}
with

movements as (
    select 'billing' as source_system, 'transactions' as source_entity, txn_id as source_key,
        account_number as id_value, 'account_number' as id_type,
        product_code, holding_id, txn_ts as occurred_at, amount, currency, txn_type as transaction_type,
        channel, true as counts_as_revenue, _loaded_at as loaded_at
    from {{ ref('stg_billing__transactions') }}

    union all
    select 'branch', 'teller_transactions', txn_id, account_number, 'account_number',
        null, null, txn_ts, amount, currency, txn_type, 'branch', false, _loaded_at
    from {{ ref('stg_branch__teller_transactions') }}

    union all
    select 'web', 'orders', order_id, user_id, 'web_user_id',
        product_code, null, ordered_at, amount, currency, {{ dbt.concat(["'order_'", "status"]) }}, 'web', false,
        _loaded_at
    from {{ ref('stg_web__orders') }}
),

{{ fact_refresh_ctes('movements', 'm', 'm.loaded_at', ['m.id_value'], watermark) }}

select
    {{ dbt.concat(["m.source_system", "':'", "m.source_entity", "':'", "m.source_key"]) }} as transaction_id,
    ids.party_id,
    m.product_code,
    m.holding_id,
    m.occurred_at,
    cast(m.occurred_at as date) as occurred_on,
    m.amount,
    m.currency,
    m.transaction_type,
    m.channel,
    m.counts_as_revenue,
    m.source_system,
    m.source_entity,
    m.source_key,
    m.loaded_at,
    {{ row_refreshed_at() }} as refreshed_at
from refreshed as m
left join identifiers as ids
    on ids.id_type = m.id_type and ids.id_value = m.id_value
