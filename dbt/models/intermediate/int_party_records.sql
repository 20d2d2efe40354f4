{#-
    Every record that describes a party, from every source, in one shape: the current version
    of each party-bearing record (branch customers, web and app users, leads, sales contacts,
    organisations), plus contact points (a phone, an email) seen only on touchpoints, so that a
    caller or recipient nobody has registered still becomes a party of its own. Identity
    resolution and the golden record read this; history reads every version
    (int_party_record_versions).

    Incremental by record (delete+insert on record_id; rebuilding all 4.4 M records at a million
    people took ~6 s a day): a daily run re-derives the records with a version loaded after the
    newest load time the last build saw (kept in `<integration>.int_party_records__loaded_through`;
    int_party_record_versions rewrites every version of such a record, and every record has one
    current version, so each re-derived record replaces its row), and every record when seed
    source_trust differs from the one the table was built with (trust_rank is in every row).
    Records never leave in a normal run; erasure is followed by `dbt build --full-refresh`.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='record_id',
    on_schema_change='fail',
    post_hook=["{{ save_loaded_through(ref('int_party_record_versions')) }}",
               "{{ save_applied_mapping(ref('source_trust'), column_names(ref('source_trust')), 'source_trust') }}"],
) }}
-- depends_on: {{ ref('source_trust') }}
{%- set watermark = record_versions_watermark(ref('int_party_record_versions')) %}
select
    record_id, source_system, source_entity, source_key, party_type,
    first_name, last_name, full_name, date_of_birth, email, phone,
    address_line, city, postcode, account_number, org_id, record_updated_at, trust_rank
from {{ ref('int_party_record_versions') }}
where valid_to is null
{%- if is_incremental() %}
    and record_id in ({{ records_loaded_since(ref('int_party_record_versions'), watermark) }})
{%- endif %}
