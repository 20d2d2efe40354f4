{#-
    Every record that describes a party, from every source, in one shape: the latest version
    of each party-bearing record (branch customers, web and app users, leads, sales contacts,
    organisations), plus contact points (a phone, an email) seen only on touchpoints, so that a
    caller or recipient nobody has registered still becomes a party of its own.
-#}
with

branch_customers as (
    select * from {{ latest_versions(ref('stg_branch__customers'), 'account_number') }} as current_versions
),

web_users as (
    select * from {{ latest_versions(ref('stg_web__users'), 'user_id') }} as current_versions
),

app_users as (
    select * from {{ latest_versions(ref('stg_mobile__users'), 'app_user_id') }} as current_versions
),

sales_contacts as (
    select * from {{ latest_versions(ref('stg_sales__contacts'), 'contact_id') }} as current_versions
),

organisations as (
    select * from {{ latest_versions(ref('stg_sales__organisations'), 'org_id') }} as current_versions
),

party_records as (
    select
        'branch' as source_system, 'customers' as source_entity, account_number as source_key,
        'individual' as party_type, first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }} as full_name,
        date_of_birth, email, phone, address_line, city, postcode,
        account_number, cast(null as {{ dbt.type_string() }}) as org_id, updated_at as record_updated_at
    from branch_customers

    union all
    select
        'web', 'users', user_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        date_of_birth, email, phone, null, null, null, null, null, updated_at
    from web_users

    union all
    select
        'mobile', 'users', app_user_id, 'individual', null, null, full_name,
        null, email, phone, null, null, null, null, null, updated_at
    from app_users

    union all
    select
        'marketing', 'leads', lead_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        null, email, phone, null, null, null, null, null, captured_at
    from {{ ref('stg_marketing__leads') }}

    union all
    select
        'sales', 'contacts', contact_id, 'individual', first_name, last_name,
        {{ dbt.concat(["first_name", "' '", "last_name"]) }},
        null, email, phone, null, null, null, null, org_id, updated_at
    from sales_contacts

    union all
    select
        'sales', 'organisations', org_id, 'organisation', null, null, org_name,
        null, null, null, null, city, null, null, org_id, updated_at
    from organisations
),

contact_points as (
    select 'callcentre' as source_system, 'phone' as id_type, caller_phone as id_value, started_at as seen_at
    from {{ ref('stg_callcentre__calls') }} where caller_phone is not null
    union all
    select 'email', 'email', email_address, event_ts
    from {{ ref('stg_email__events') }} where email_address is not null
    union all
    select 'service', customer_ref_type, customer_ref, opened_at
    from {{ ref('stg_service__cases') }} where customer_ref_type in ('email', 'phone') and customer_ref is not null
    union all
    select 'marketing', subject_type, subject_value, recorded_at
    from {{ ref('stg_marketing__consents') }} where subject_value is not null
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
        max(seen_at) as record_updated_at
    from contact_points
    group by source_system, id_type, id_value
),

all_records as (
    select * from party_records
    union all
    select * from contact_point_records
)

select
    {{ dbt.concat(["all_records.source_system", "':'", "all_records.source_entity", "':'", "all_records.source_key"]) }} as record_id,
    all_records.*,
    coalesce(trust.trust_rank, 99) as trust_rank
from all_records
left join {{ ref('source_trust') }} as trust
    on trust.source_system = all_records.source_system
    and trust.source_entity = all_records.source_entity
