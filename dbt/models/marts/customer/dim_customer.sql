{#-
    One row per party (person, organisation, or a contact point nobody has registered yet):
    the golden record, household and organisation, and where the party stands as a customer.
    Household: int_household_members (same normalised golden address); organisation: the
    current employee_of relationship (int_party_relationships).

    customer_status: active (holds a product and paid within the activity window), inactive
    (holds a product, no revenue in the window), closed (held products, holds none now),
    prospect (registered somewhere, never held a product), contact (only a contact point seen),
    organisation (a business account). The window (var customer_active_days, default 180) ends
    at the latest transaction in the warehouse, so an old extract still reads sensibly.

    Incremental by comparison (macros/incremental_by_comparison.sql): every row is computed, only
    the new and changed ones are written, with refreshed_at (~1 M rows, a few percent change a
    day at a million people). The post-hook deletes the parties that no longer exist (merged away).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where party_id not in (select party_id from {{ ref('int_party_golden') }})",
) }}
with

golden as (
    select * from {{ ref('int_party_golden') }}
),

holdings as (
    select party_id,
        count(*) as holdings_ever,
        count(case when is_active then 1 end) as active_holdings,
        min(start_date) as customer_since
    from {{ ref('int_holdings_current') }}
    where party_id is not null
    group by party_id
),

first_holding as (
    select party_id, acquisition_channel, campaign_code,
        row_number() over (partition by party_id order by start_date, holding_id) as holding_order
    from {{ ref('int_holdings_current') }}
    where party_id is not null
),

-- per party, kept up to date incrementally (int_party_revenue); occurred_on is occurred_at's date
revenue as (
    select party_id, cast(last_transaction_at as date) as last_revenue_on
    from {{ ref('int_party_revenue') }}
),

reference_date as (
    select max(occurred_on) as as_of from {{ ref('fct_transactions') }}
),

-- the organisation a person works for now (a sales contact, an employer-sponsored holding)
organisation_links as (
    select from_party_id as party_id, min(to_party_id) as organisation_party_id
    from {{ ref('int_party_relationships') }}
    where relationship_type = 'employee_of' and is_current
    group by from_party_id
),

customers as (
    select
        g.party_id,
        g.party_type,
        g.first_name,
        g.last_name,
        g.display_name as full_name,
        g.date_of_birth,
        g.email,
        g.phone,
        g.address_line,
        g.city,
        g.postcode,
        g.first_name_source,
        g.last_name_source,
        g.email_source,
        g.phone_source,
        g.address_line_source,
        hm.household_id,
        o.organisation_party_id,
        coalesce(h.holdings_ever, 0) > 0 as is_customer,
        case
            when g.party_type = 'organisation' then 'organisation'
            when coalesce(h.holdings_ever, 0) = 0 and g.registered_record_count > 0 then 'prospect'
            when coalesce(h.holdings_ever, 0) = 0 then 'contact'
            when h.active_holdings = 0 then 'closed'
            when r.last_revenue_on >= {{ dbt.dateadd("day", "-" ~ var("customer_active_days", 180), "rd.as_of") }} then 'active'
            else 'inactive'
        end as customer_status,
        h.customer_since,
        f.acquisition_channel,
        f.campaign_code as acquisition_campaign,
        coalesce(h.holdings_ever, 0) as holdings_ever,
        coalesce(h.active_holdings, 0) as active_holdings,
        r.last_revenue_on,
        g.source_record_count,
        g.first_seen_at,
        g.last_updated_at
    from golden as g
    cross join reference_date as rd
    left join holdings as h on h.party_id = g.party_id
    left join first_holding as f on f.party_id = g.party_id and f.holding_order = 1
    left join revenue as r on r.party_id = g.party_id
    left join organisation_links as o on o.party_id = g.party_id
    left join {{ ref('int_household_members') }} as hm on hm.party_id = g.party_id
)

{{ changed_rows_with_refreshed_at('customers', 'party_id') }}
