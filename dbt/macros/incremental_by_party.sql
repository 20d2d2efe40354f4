{#-
    Incremental models per party (hist_party_golden_attributes, int_party_golden).

    Every row of a party's golden history is computed from that party's own record versions,
    so a daily run needs to recompute only the parties that can have changed, and replace their
    rows (strategy delete+insert on party_id):

      - parties with a record version loaded after the newest loaded_at in the table (the
        watermark; every version loaded since the last run is newer than every version the last
        run saw, so none is missed; a new version also ends its record's previous one);
      - parties whose records changed: identity re-ran (merge, split, a new record), compared
        with the record -> party mapping the table was built with, kept beside it in
        `<integration schema>.<model>__party_records` (macros/applied_mapping.sql). Both
        sides count: the party that gained a record and the one that lost it. Missing (first
        run after an upgrade): every party counts as changed.

      - every party when the survivorship inputs (seeds survivorship_rules, source_trust) differ
        from those the table was last built with (also kept beside it, in the seeds' schema).

    A party that no longer exists (merged away) is deleted by a pre-hook. Erasure is followed by
    `dbt build --full-refresh`, as for staging.
-#}

{#- The party ids to recompute (an incremental run only; see above). The applied mapping sits
    beside party_xref (integration), not beside the model: history is published to analysts. -#}
{% macro changed_party_ids(versions, xref, watermark) -%}
    {{ parties_with_new_versions_or_records(versions, xref, watermark) }}
    union
    {{ parties_if_survivorship_changed(xref) }}
{%- endmacro %}


{#- The parties with a version loaded after `watermark`, and those that gained or lost a record
    (the staged record changes): what a per-party model that does not apply survivorship
    (int_party_seniority) recomputes. -#}
{% macro parties_with_new_versions_or_records(versions, xref, watermark) -%}
    select x.party_id
    from {{ versions }} as v
    join {{ xref }} as x on x.record_id = v.record_id
    where v._loaded_at > {{ watermark }}
    union
    select party_id from (
        {{ changed_mapping_rows(xref, ['record_id', 'party_id', 'party_type'], 'party_records', key=['record_id']) }}
    ) as moved
{%- endmacro %}


{#- The newest version load time this model was last built from (int_party_golden, which has
    no load time of its own): kept in `<versions schema>.<this>__loaded_through`, one row
    (column loaded_at, a load time like every other), by save_loaded_through. 1900-01-01 when missing: every party is recomputed once. -#}
{% macro loaded_through(versions) -%}
    {{ fact_watermark('loaded_at', applied_mapping_relation(versions, 'loaded_through')) }}
{%- endmacro %}


{#- Post-hook: keep the newest version load time this build saw. `sources`: the relations a
    model reads new rows from when more than `versions` (kept under `versions`' name); one newest
    load time serves them all, since every load of a run comes after every load the last run saw. -#}
{% macro save_loaded_through(versions, sources=none) -%}
    {%- set kept = applied_mapping_relation(versions, 'loaded_through') -%}
    drop table if exists {{ kept }};
    create table {{ kept }} as select max(_loaded_at) as loaded_at from (
        {%- for relation in (sources or [versions]) %}
        {{ 'union all ' if not loop.first }}select max(_loaded_at) as _loaded_at from {{ relation }}
        {%- endfor %}
    ) as newest
{%- endmacro %}


{#- Every party, when a survivorship input (seeds survivorship_rules, source_trust) changed since
    the table was last built: a new rule or trust rank can change any party's golden values. -#}
{% macro parties_if_survivorship_changed(xref) -%}
    select party_id from {{ xref }}
    where exists ({{ changed_mapping_rows(ref('survivorship_rules'), column_names(ref('survivorship_rules')), 'survivorship_rules') }})
        or exists ({{ changed_mapping_rows(ref('source_trust'), column_names(ref('source_trust')), 'source_trust') }})
{%- endmacro %}


{#- Post-hook: keep the survivorship inputs this build used. -#}
{% macro save_survivorship_inputs() -%}
    {{ save_applied_mapping(ref('survivorship_rules'), column_names(ref('survivorship_rules')), 'survivorship_rules') }};
    {{ save_applied_mapping(ref('source_trust'), column_names(ref('source_trust')), 'source_trust') }}
{%- endmacro %}


{#- The column names of a relation (parse time: a placeholder). -#}
{% macro column_names(relation) -%}
    {%- if not execute -%}{{ return(['record_id']) }}{%- endif -%}
    {{ return(adapter.get_columns_in_relation(relation) | map(attribute='name') | list) }}
{%- endmacro %}


{#- Part of the pre-hook stage_party_records, after the staging: the rows of parties that no longer exist (an incremental run
    only). A party vanishes only by losing every record it was built with, so it is among the kept
    side of the staged record changes: only those are looked up in party_xref (the whole table's
    anti-join took 0.4-1.2 s per model at a million people). No kept copy (first run after an
    upgrade): the whole table is checked. -#}
{% macro delete_vanished_parties(xref) -%}
    {%- if not is_incremental() -%}
    select 1
    {%- elif table_exists(applied_mapping_relation(xref, 'party_records')) -%}
    {%- set changes = mapping_changes_relation(xref, 'party_records') %}
    delete from {{ this }} where party_id in (
        select party_id from {{ changes }} where side = 'kept'
        except
        select party_id from {{ xref }} where party_id in (select party_id from {{ changes }} where side = 'kept')
    )
    {%- else -%}
    delete from {{ this }} where party_id not in (select party_id from {{ xref }})
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of the per-party models: stage the records whose party changed since the last build
    (stage_mapping_changes), then delete the rows of the parties that vanished, which reads them:
    one hook, so the order cannot be swapped. -#}
{% macro stage_party_records(xref) -%}
    {{ stage_mapping_changes(xref, ['record_id', 'party_id', 'party_type'], 'party_records', key=['record_id']) }};
    {{ delete_vanished_parties(xref) }}
{%- endmacro %}


{#- Post-hook: keep the record -> party mapping this build used. -#}
{% macro save_party_records(xref) -%}
    {{ save_applied_mapping(xref, ['record_id', 'party_id', 'party_type'], 'party_records', key=['record_id']) }}
{%- endmacro %}


{#- Parties whose household periods (`households`: hist_household_members) differ from those the
    model was last built with: a household changes when someone else moves in or out, without a
    version of the party's own. The kept copy goes to `kept_schema` (integration): history is served. -#}
{% macro parties_with_changed_households(households, kept_schema) -%}
    select party_id from (
        {{ changed_mapping_rows(households, ['party_id', 'valid_from', 'valid_to', 'household_id'], 'household_periods',
                                key=['party_id', 'valid_from'], schema=kept_schema) }}
    ) as moved
{%- endmacro %}


{#- Pre-hook: stage the household periods that changed since the last build. -#}
{% macro stage_household_periods(households, kept_schema) -%}
    {{ stage_mapping_changes(households, ['party_id', 'valid_from', 'valid_to', 'household_id'], 'household_periods',
                             key=['party_id', 'valid_from'], schema=kept_schema) }}
{%- endmacro %}


{#- Post-hook: keep the household periods this build used. -#}
{% macro save_household_periods(households, kept_schema) -%}
    {{ save_applied_mapping(households, ['party_id', 'valid_from', 'valid_to', 'household_id'], 'household_periods',
                            schema=kept_schema, key=['party_id', 'valid_from']) }}
{%- endmacro %}
