{#-
    The evidence for deterministic identity: which record carries which exact, normalised
    identifier. Two records that share an identifier (an account number, an email, an E.164
    phone) are the same party. Besides the records' own identifiers, a call on which the agent
    identified the caller ties the caller's phone to the account number.

    Record keys (web user id, app user id, lead id, contact id, org id) are identifiers too,
    so that touchpoints keyed by them (sessions, app events, opportunities) find their party.
    Organisation ids are never shared with people: a contact belongs to an organisation, it is
    not the organisation. Names and dates of birth are not exact keys: two people can share
    both. The Splink model in the identity asset weighs them with the other evidence.

    Incremental by record (delete+insert on record_id), as int_party_records: a daily run
    re-derives the identifiers of the records with a version loaded since its last build (its
    own loaded_through), and the identified calls loaded since then. Every record keeps at least
    its own key (a branch customer's account number, a contact point's value), so a re-derived
    record always has rows to replace its old ones.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_id',
    on_schema_change='fail',
    post_hook="{{ save_loaded_through(ref('int_party_record_versions')) }}",
) }}
-- depends_on: {{ ref('int_party_record_versions') }}
{%- set watermark = loaded_through(ref('int_party_record_versions')) %}
with

{% if is_incremental() -%}
changed_records as (
    {{ records_loaded_since(ref('int_party_record_versions'), watermark) }}
),

{% endif -%}
records as (
    select * from {{ ref('int_party_records') }}
    {%- if is_incremental() %}
    where record_id in (select record_id from changed_records)
    {%- endif %}
),

record_keys as (
    select record_id,
        case
            when source_system = 'web' then 'web_user_id'
            when source_system = 'mobile' then 'app_user_id'
            when source_system = 'marketing' and source_entity = 'leads' then 'lead_id'
            when source_system = 'sales' and source_entity = 'contacts' then 'contact_id'
            when source_system = 'sales' and source_entity = 'organisations' then 'org_id'
        end as id_type,
        source_key as id_value
    from records
    where source_entity <> 'contact_point' and source_system <> 'branch'
),

-- Every email and phone a versioned record ever carried, not just its latest: the person who
-- registered with an old number and later changed it is still the same person.
past_contact_points as (
    {%- for model, key, name in [('stg_branch__customers', 'account_number', 'branch:customers:'),
                                 ('stg_web__users', 'user_id', 'web:users:'),
                                 ('stg_mobile__users', 'app_user_id', 'mobile:users:'),
                                 ('stg_sales__contacts', 'contact_id', 'sales:contacts:')] %}
    select {{ dbt.concat(["'" ~ name ~ "'", key]) }} as record_id, email, phone from {{ ref(model) }}
    {%- if is_incremental() %}
    where {{ dbt.concat(["'" ~ name ~ "'", key]) }} in (select record_id from changed_records)
    {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
),

identifiers as (
    select record_id, 'account_number' as id_type, account_number as id_value from records where account_number is not null
    union all
    select record_id, 'email', email from records where email is not null and party_type <> 'organisation'
    union all
    select record_id, 'phone', phone from records where phone is not null and party_type <> 'organisation'
    union all
    select record_id, id_type, id_value from record_keys
    union all
    select record_id, 'email', email from past_contact_points where email is not null
    union all
    select record_id, 'phone', phone from past_contact_points where phone is not null
),

identified_calls as (
    select distinct caller_phone, account_number
    from {{ ref('stg_callcentre__calls') }}
    where caller_phone is not null and account_number is not null
    {%- if is_incremental() %}
        and _loaded_at > {{ watermark }}
    {%- endif %}
),

call_evidence as (
    select {{ dbt.concat(["'callcentre:identified_call:'", "caller_phone", "'|'", "account_number"]) }} as record_id,
        'phone' as id_type, caller_phone as id_value
    from identified_calls
    union all
    select {{ dbt.concat(["'callcentre:identified_call:'", "caller_phone", "'|'", "account_number"]) }},
        'account_number', account_number
    from identified_calls
)

select distinct record_id, id_type, id_value from identifiers
union all
select record_id, id_type, id_value from call_evidence
