{#-
    Which parties a daily run of hist_household_members must recompute (see the model).

    A household at a moment is the set of individuals whose golden address has one key then,
    ordered by seniority; so a party's household periods change only when something changes at
    an address key it lived at: a party there gained or lost a period, or its seniority changed.
    Both follow from a party's own versions and records (and the survivorship inputs), the rule
    of macros/incremental_by_party.sql: the changed parties. The keys they hold now come from
    their golden attributes, staged once by the pre-hook for the model and its post-hook; the keys
    they held at the last build (a move corrected away, a party merged away) are kept beside
    party_xref in `<integration>.<this>__address_keys` (party_id and a hash of the key: no second
    copy of the address), rewritten by the post-hook for the changed parties only, with the
    household_max_members they were built with in `<this>__address_keys_cap` (one row).
-#}

{% macro household_keys_relation() -%}
    {{ return(applied_mapping_relation(source('integration', 'party_xref'), 'address_keys')) }}
{%- endmacro %}


{% macro household_cap_relation() -%}
    {{ return(applied_mapping_relation(source('integration', 'party_xref'), 'address_keys_cap')) }}
{%- endmacro %}


{% macro household_changed_relation() -%}
    {{ return(applied_mapping_relation(source('integration', 'party_xref'), 'changed_parties')) }}
{%- endmacro %}


{#- The changed parties' address keys now (party_id, key_hash), staged by the pre-hook. -#}
{% macro household_changed_keys_relation() -%}
    {{ return(applied_mapping_relation(source('integration', 'party_xref'), 'changed_keys')) }}
{%- endmacro %}


{#- party_id and key_hash of every address key a party's golden attributes hold (`parties`: a
    relation or CTE with party_id restricting them; none = every individual). -#}
{% macro household_key_rows(golden, parties=none) -%}
    select distinct g.party_id, {{ dbt.hash(crm_cif.household_address_key('g')) }} as key_hash
    from {{ golden }} as g
    where g.party_type = 'individual' and g.address_line is not null and trim(g.address_line) <> ''
    {%- if parties is not none %}
        and g.party_id in (select party_id from {{ parties }})
    {%- endif %}
{%- endmacro %}


{#- Pre-hook (after stage_party_records): stage the changed parties of an incremental run in
    `<integration>.<this>__changed_parties` and the address keys they hold now in
    `<this>__changed_keys`; every party when nothing was kept yet (or kept before the cap had its
    own table) or the kept keys were built with another household_max_members. -#}
{% macro stage_household_scope(versions, xref, golden, cap) -%}
    {%- set kept = household_keys_relation() -%}
    {%- set kept_cap = household_cap_relation() -%}
    {%- set changed = household_changed_relation() -%}
    {%- set changed_keys = household_changed_keys_relation() -%}
    drop table if exists {{ changed }};
    drop table if exists {{ changed_keys }}
    {%- if is_incremental() %};
    {%- set kept_before = table_exists(kept) and table_exists(kept_cap) %}
    {%- if not kept_before %}
    drop table if exists {{ kept }};
    create table {{ kept }} (party_id {{ dbt.type_string() }}, key_hash {{ dbt.type_string() }});
    {%- endif %}
    create table {{ changed }} as
    {%- if kept_before %}
    {{ changed_party_ids(versions, xref, loaded_through(versions)) }}
    union
    select party_id from {{ xref }} where not exists (select 1 from {{ kept_cap }} where max_members = {{ cap }})
    {%- else %}
    select party_id from {{ xref }}
    {%- endif %};
    create table {{ changed_keys }} as {{ household_key_rows(golden, changed) }}
    {%- endif %}
{%- endmacro %}


{#- Post-hook: keep the address keys and the cap this build used, and drop the staged tables. -#}
{% macro save_household_keys(golden, cap) -%}
    {%- set kept = household_keys_relation() -%}
    {%- set kept_cap = household_cap_relation() -%}
    {%- set changed = household_changed_relation() -%}
    {%- set changed_keys = household_changed_keys_relation() -%}
    {%- if is_incremental() and table_exists(changed) -%}
    delete from {{ kept }} where party_id in (select party_id from {{ changed }});
    insert into {{ kept }} (party_id, key_hash) select party_id, key_hash from {{ changed_keys }};
    {%- else -%}
    drop table if exists {{ kept }};
    create table {{ kept }} as {{ household_key_rows(golden) }};
    {%- endif %}
    drop table if exists {{ kept_cap }};
    create table {{ kept_cap }} as select cast({{ cap }} as integer) as max_members;
    drop table if exists {{ changed }};
    drop table if exists {{ changed_keys }}
{%- endmacro %}
