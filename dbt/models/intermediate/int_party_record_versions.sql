{#-
    Every version of every party-bearing record, from every source, in one shape (branch
    customers, web and app users, leads, sales contacts, organisations), plus contact points
    (a phone, an email) seen only on touchpoints. History is rebuilt from here, so a version
    delivered late still lands in its place.

    valid_from is business time, the version's own timestamp (updated_at, a lead's
    captured_at); valid_to is the next version's (NULL while current). Ties on the same
    timestamp go to the later delivery (macro record_versions, as latest_versions).
    _loaded_at keeps when the warehouse learned the version.

    A contact point has no versions of its own: its value never changes, only when it was
    seen. It has two: first seen (from then on the party has it) and last seen (its recency in
    survivorship; what int_party_records keeps), so history never uses a sighting before it
    happened.

    Incremental by record (delete+insert on record_id): a daily run recomputes every version of
    the records with a row loaded after the table's newest _loaded_at (a new version changes its
    predecessor's valid_to; a new sighting moves a contact point's last seen), and every record
    when seed source_trust changed. A contact point's span is recomputed from its new sightings
    and the first and last sighting the table keeps for it, not from every call, email event,
    case and consent ever staged (at a million people the model took 0.9, 2.5 and 4.7 s a day
    over 12, 24 and 48 months of history): the earliest and latest of all sightings are the
    earliest and latest of those, and so are their earliest load times. Rows never leave staging
    in a normal run; erasure is followed by `dbt build --full-refresh`.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_id',
    on_schema_change='fail',
    post_hook="{{ save_applied_mapping(ref('source_trust'), column_names(ref('source_trust')), 'source_trust') }}",
) }}
{%- set watermark = record_versions_watermark() %}
with

branch_customers as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_branch__customers'), 'account_number', watermark), 'account_number') }} as versions
),

web_users as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_web__users'), 'user_id', watermark), 'user_id') }} as versions
),

app_users as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_mobile__users'), 'app_user_id', watermark), 'app_user_id') }} as versions
),

leads as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_marketing__leads'), 'lead_id', watermark), 'lead_id', 'captured_at') }} as versions
),

sales_contacts as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_sales__contacts'), 'contact_id', watermark), 'contact_id') }} as versions
),

organisations as (
    select * from {{ record_versions(rows_of_keys_loaded_since(ref('stg_sales__organisations'), 'org_id', watermark), 'org_id') }} as versions
),

party_record_versions as (
    select
        'branch' as source_system, 'customers' as source_entity, account_number as source_key,
        'individual' as party_type, first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }} as full_name,
        date_of_birth, email, phone, address_line, city, postcode,
        account_number, cast(null as {{ dbt.type_string() }}) as org_id, updated_at as record_updated_at,
        valid_from, valid_to, _loaded_at
    from branch_customers

    union all
    select
        'web', 'users', user_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        date_of_birth, email, phone, null, null, null, null, null, updated_at,
        valid_from, valid_to, _loaded_at
    from web_users

    union all
    select
        'mobile', 'users', app_user_id, 'individual', null, null, full_name,
        null, email, phone, null, null, null, null, null, updated_at,
        valid_from, valid_to, _loaded_at
    from app_users

    union all
    select
        'marketing', 'leads', lead_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        null, email, phone, null, null, null, null, null, captured_at,
        valid_from, valid_to, _loaded_at
    from leads

    union all
    select
        'sales', 'contacts', contact_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        null, email, phone, null, null, null, null, org_id, updated_at,
        valid_from, valid_to, _loaded_at
    from sales_contacts

    union all
    select
        'sales', 'organisations', org_id, 'organisation', null, null, org_name,
        null, null, null, null, city, null, null, org_id, updated_at,
        valid_from, valid_to, _loaded_at
    from organisations
),

contact_points as (
    select 'callcentre' as source_system, 'phone' as id_type, caller_phone as id_value, started_at as seen_at, _loaded_at
    from {{ ref('stg_callcentre__calls') }} where caller_phone is not null
    union all
    select 'email', 'email', email_address, event_ts, _loaded_at
    from {{ ref('stg_email__events') }} where email_address is not null
    union all
    select 'service', customer_ref_type, customer_ref, opened_at, _loaded_at
    from {{ ref('stg_service__cases') }} where customer_ref_type in ('email', 'phone') and customer_ref is not null
    union all
    select 'marketing', subject_type, subject_value, recorded_at, _loaded_at
    from {{ ref('stg_marketing__consents') }} where subject_value is not null
),

{% if is_incremental() -%}
new_sightings as (
    select * from contact_points where _loaded_at > {{ watermark }}
),

changed_contact_points as (
    select distinct source_system, id_type, id_value,
        {{ dbt.concat(["source_system", "':contact_point:'", "id_type", "':'", "id_value"]) }} as record_id
    from new_sightings
),

-- what the table keeps of a changed contact point's earlier sightings: its first and last, each
-- with the load time the span keeps for it (the earliest load of a sighting at that time), so
-- the spans below equal those of every sighting without reading them all again
kept_sightings as (
    select changed.source_system, changed.id_type, changed.id_value, kept.valid_from as seen_at, kept._loaded_at
    from {{ this }} as kept
    join changed_contact_points as changed on changed.record_id = kept.record_id
),

{% endif -%}
sightings as (
    select seen.*,
        min(seen_at) over (partition by seen.source_system, seen.id_type, seen.id_value) as first_seen_at,
        max(seen_at) over (partition by seen.source_system, seen.id_type, seen.id_value) as last_seen_at
    {%- if is_incremental() %}
    from (
        select source_system, id_type, id_value, seen_at, _loaded_at from new_sightings
        union all
        select source_system, id_type, id_value, seen_at, _loaded_at from kept_sightings
    ) as seen
    {%- else %}
    from contact_points as seen
    {%- endif %}
),

contact_point_spans as (
    -- loaded: when the warehouse first learned of the first and of the last sighting
    select source_system, id_type, id_value, first_seen_at, last_seen_at,
        min(case when seen_at = first_seen_at then _loaded_at end) as first_loaded_at,
        min(case when seen_at = last_seen_at then _loaded_at end) as last_loaded_at
    from sightings
    group by source_system, id_type, id_value, first_seen_at, last_seen_at
),

contact_point_versions as (
    select source_system, id_type, id_value, first_seen_at as record_updated_at,
        first_seen_at as valid_from, last_seen_at as valid_to, first_loaded_at as _loaded_at
    from contact_point_spans
    where last_seen_at > first_seen_at
    union all
    select source_system, id_type, id_value, last_seen_at,
        last_seen_at, cast(null as timestamp), last_loaded_at
    from contact_point_spans
),

contact_point_records as (
    select
        source_system, 'contact_point' as source_entity,
        {{ dbt.concat(["id_type", "':'", "id_value"]) }} as source_key,
        'unidentified' as party_type,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        cast(null as {{ dbt.type_string() }}) as full_name,
        cast(null as date) as date_of_birth,
        case when id_type = 'email' then id_value end as email,
        case when id_type = 'phone' then id_value end as phone,
        cast(null as {{ dbt.type_string() }}) as address_line,
        cast(null as {{ dbt.type_string() }}) as city,
        cast(null as {{ dbt.type_string() }}) as postcode,
        cast(null as {{ dbt.type_string() }}) as account_number,
        cast(null as {{ dbt.type_string() }}) as org_id,
        record_updated_at, valid_from, valid_to, _loaded_at
    from contact_point_versions
),

all_versions as (
    select * from party_record_versions
    union all
    select * from contact_point_records
)

select
    {{ dbt.concat(["all_versions.source_system", "':'", "all_versions.source_entity", "':'", "all_versions.source_key"]) }} as record_id,
    all_versions.*,
    coalesce(trust.trust_rank, 99) as trust_rank
from all_versions
left join {{ ref('source_trust') }} as trust
    on trust.source_system = all_versions.source_system
    and trust.source_entity = all_versions.source_entity
