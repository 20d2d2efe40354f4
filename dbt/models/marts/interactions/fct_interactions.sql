{#-
    Every touchpoint of every channel and department in one table: who (party), where
    (channel), which department, what (type), when, and how it ended. Each touchpoint names the
    identifier it was captured with; the party comes from the identity layer. A touchpoint
    whose identifier matches no party keeps a NULL party_id rather than being dropped.

    Incremental (macros/incremental_facts.sql): a daily run re-derives only the touchpoints
    loaded since the last run (or whose case / opportunity / campaign got a new current
    version) and those whose identifier changed party, and replaces them by interaction_id.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='interaction_id',
    on_schema_change='append_new_columns',
    pre_hook="{{ stage_fact_identifiers(source('integration', 'party_identifiers')) }}",
    post_hook="{{ save_fact_identifiers(source('integration', 'party_identifiers')) }}",
) }}
{%- set watermark = fact_watermark() %}

with
-- depends_on: {{ ref('departments') }} (the departments a touchpoint names must be in the seed: its
-- relationships test runs in the marts step only when the seed is upstream of a model there)

latest_opportunities as (
    select * from {{ latest_versions(ref('stg_sales__opportunities'), 'opportunity_id') }} as current_versions
),

latest_cases as (
    select * from {{ latest_versions(ref('stg_service__cases'), 'case_id') }} as current_versions
),

latest_campaigns as (
    select * from {{ latest_versions(ref('stg_marketing__campaigns'), 'campaign_code') }} as current_versions
),

touchpoints as (
    select 'branch' as source_system, 'visits' as source_entity, visit_id as source_key,
        'account_number' as id_type, account_number as id_value,
        cast(null as {{ dbt.type_string() }}) as fallback_id_type, cast(null as {{ dbt.type_string() }}) as fallback_id_value,
        'branch' as channel, 'operations' as department, 'branch_visit' as interaction_type,
        visit_ts as occurred_at, outcome, purpose as detail, cast(null as decimal(18, 2)) as amount,
        _loaded_at as loaded_at
    from {{ ref('stg_branch__visits') }}

    union all
    select 'branch', 'teller_transactions', txn_id, 'account_number', account_number, null, null,
        'branch', 'operations', 'teller_transaction', txn_ts, 'completed', txn_type, amount, _loaded_at
    from {{ ref('stg_branch__teller_transactions') }}

    union all
    select 'web', 'sessions', session_id, 'web_user_id', user_id, null, null,
        'web', 'operations', 'web_session', started_at, 'completed', device_type, null, _loaded_at
    from {{ ref('stg_web__sessions') }}

    union all
    select 'web', 'orders', order_id, 'web_user_id', user_id, null, null,
        'web', 'sales', 'web_order', ordered_at, status, product_code, amount, _loaded_at
    from {{ ref('stg_web__orders') }}

    union all
    select 'mobile', 'events', event_id, 'app_user_id', app_user_id, null, null,
        'mobile', 'operations', {{ dbt.concat(["'app_'", "event_type"]) }}, event_ts, 'completed', screen, null, _loaded_at
    from {{ ref('stg_mobile__events') }}

    union all
    select 'callcentre', 'calls', call_id, 'account_number', account_number, 'phone', caller_phone,
        'call_centre', 'service', 'call', started_at, resolution, reason_code, null, _loaded_at
    from {{ ref('stg_callcentre__calls') }}

    union all
    select 'email', 'events', event_id, 'email', email_address, null, null,
        'email', 'marketing', {{ dbt.concat(["'email_'", "event_type"]) }}, event_ts, event_type, campaign_code, null, _loaded_at
    from {{ ref('stg_email__events') }}

    union all
    select 'marketing', 'leads', l.lead_id, 'lead_id', l.lead_id, null, null,
        coalesce(c.channel, case when l.scheme_code is not null then 'partner' else 'field_sales' end),
        'marketing', 'lead_captured', l.captured_at, 'captured', l.campaign_code, null,
        {{ later_loaded_at('l._loaded_at', 'c._loaded_at') }}
    from {{ ref('stg_marketing__leads') }} as l
    left join latest_campaigns as c on c.campaign_code = l.campaign_code

    union all
    select 'sales', 'opportunities', opportunity_id,
        case when org_id is not null then 'org_id' else 'account_number' end, coalesce(org_id, account_number), null, null,
        'field_sales', 'sales', 'opportunity', opened_at, stage, product_code, amount, _loaded_at
    from latest_opportunities

    union all
    select 'sales', 'proposals', p.proposal_id,
        case when o.org_id is not null then 'org_id' else 'account_number' end, coalesce(o.org_id, o.account_number), null, null,
        'field_sales', 'sales', 'proposal', p.sent_at, p.status, o.product_code, p.proposed_value,
        {{ later_loaded_at('p._loaded_at', 'o._loaded_at') }}
    from {{ ref('stg_sales__proposals') }} as p
    left join latest_opportunities as o on o.opportunity_id = p.opportunity_id

    union all
    select 'service', 'cases', case_id, customer_ref_type, customer_ref, null, null,
        channel, 'service', case when is_complaint then 'complaint' else 'service_request' end,
        opened_at, status, category, null, _loaded_at
    from latest_cases

    union all
    select 'credit', 'limit_changes', change_id, 'account_number', account_number, null, null,
        'back_office', 'credit', 'credit_limit_decision', requested_at, decision, product_code, new_limit, _loaded_at
    from {{ ref('stg_credit__limit_changes') }}

    union all
    select 'collections', 'events', event_id, 'account_number', account_number, null, null,
        'back_office', 'collections', {{ dbt.concat(["'collections_'", "event_type"]) }},
        cast(event_date as timestamp), event_type, cast(days_past_due as {{ dbt.type_string() }}), amount, _loaded_at
    from {{ ref('stg_collections__events') }}
),

{{ fact_refresh_ctes('touchpoints', 't', 't.loaded_at', ['t.id_value', 't.fallback_id_value'], watermark) }}

select
    {{ dbt.concat(["t.source_system", "':'", "t.source_entity", "':'", "t.source_key"]) }} as interaction_id,
    coalesce(primary_id.party_id, fallback_id.party_id) as party_id,
    t.channel,
    t.department,
    t.interaction_type,
    t.occurred_at,
    cast(t.occurred_at as date) as occurred_on,
    t.outcome,
    t.detail,
    t.amount,
    t.source_system,
    t.source_entity,
    t.source_key,
    t.loaded_at,
    {{ row_refreshed_at() }} as refreshed_at
from refreshed as t
left join identifiers as primary_id on primary_id.id_type = t.id_type and primary_id.id_value = t.id_value
left join identifiers as fallback_id on fallback_id.id_type = t.fallback_id_type and fallback_id.id_value = t.fallback_id_value
