{#-
    One row per customer and prospect (individuals and organisations; bare contact points
    are left out): who they are, how to reach them and whether we may, their household and
    organisation, what they hold, what they are worth to date, and when each channel last
    saw them. What a service representative needs on one screen.

    Incremental by comparison (macros/incremental_by_comparison.sql): every row is computed, only
    the new and changed ones are written, with refreshed_at (revenue, touchpoints and status move
    for a few percent of the customers a day). The post-hook deletes the parties it no longer gives
    (merged away, or now a bare contact point).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where party_id not in
               (select party_id from {{ ref('dim_customer') }} where customer_status <> 'contact')",
) }}
{%- set channels = touchpoint_channels() -%}

with

customers as (
    select * from {{ ref('dim_customer') }}
    where customer_status <> 'contact'
),

products as (
    select party_id,
        {{ dbt.listagg("distinct product_code", "','", "order by product_code") }} as active_products
    from {{ ref('int_holdings_current') }}
    where is_active and party_id is not null
    group by party_id
),

-- per party, kept up to date incrementally (int_party_revenue)
revenue as (
    select * from {{ ref('int_party_revenue') }}
),

-- per party, kept up to date incrementally (int_party_touchpoints)
touchpoints as (
    select * from {{ ref('int_party_touchpoints') }}
),

cases as (
    select party_id,
        count(case when is_open then 1 end) as open_cases,
        count(case when is_open and is_complaint then 1 end) as open_complaints,
        count(case when is_complaint then 1 end) as complaints_total
    from {{ ref('fct_service_cases') }}
    where party_id is not null
    group by party_id
),

household_sizes as (
    select household_id, count(*) as household_size
    from {{ ref('dim_customer') }}
    where household_id is not null
    group by household_id
),

customer_rows as (
    select
        c.party_id,
        c.party_type,
        c.full_name,
        c.first_name,
        c.last_name,
        c.date_of_birth,
        c.email,
        c.phone,
        c.address_line,
        c.city,
        c.postcode,
        c.household_id,
        hs.household_size,
        c.organisation_party_id,
        org.full_name as organisation_name,
        c.customer_status,
        c.is_customer,
        c.customer_since,
        c.acquisition_channel,
        c.acquisition_campaign,
        c.active_holdings,
        p.active_products,
        coalesce(r.revenue_to_date, cast(0 as decimal(18, 2))) as revenue_to_date,
        coalesce(r.revenue_transactions, 0) as revenue_transactions,
        r.last_transaction_at,
        coalesce(t.interactions_total, 0) as interactions_total,
        t.first_interaction_at,
        t.last_interaction_at,
        {%- for channel in channels %}
        t.first_{{ channel }}_at,
        t.last_{{ channel }}_at,
        {%- endfor %}
        coalesce(cs.open_cases, 0) as open_cases,
        coalesce(cs.open_complaints, 0) as open_complaints,
        coalesce(cs.complaints_total, 0) as complaints_total,
        coalesce(con.consent_email, false) as consent_email,
        coalesce(con.consent_sms, false) as consent_sms,
        coalesce(con.consent_phone, false) as consent_phone,
        coalesce(con.consent_post, false) as consent_post
    from customers as c
    left join household_sizes as hs on hs.household_id = c.household_id
    left join {{ ref('dim_customer') }} as org on org.party_id = c.organisation_party_id
    left join products as p on p.party_id = c.party_id
    left join revenue as r on r.party_id = c.party_id
    left join touchpoints as t on t.party_id = c.party_id
    left join cases as cs on cs.party_id = c.party_id
    left join {{ ref('int_party_consent') }} as con on con.party_id = c.party_id
)

{{ changed_rows_with_refreshed_at('customer_rows', 'party_id') }}
