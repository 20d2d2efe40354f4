{#-
    Incremental history per party (hist_party_golden_attributes).

    Every row of a party's golden history is computed from that party's own record versions,
    so a daily run needs to recompute only the parties that can have changed, and replace their
    rows (strategy delete+insert on party_id):

      - parties with a record version loaded after the newest loaded_at in the table (the
        watermark; every version loaded since the last run is newer than every version the last
        run saw, so none is missed; a new version also ends its record's previous one);
      - parties whose records changed: identity re-ran (merge, split, a new record), compared
        with the record -> party mapping the table was built with, kept beside it in
        `<integration schema>.<model>__party_records` (written by a post-hook in the same transaction). Both
        sides count: the party that gained a record and the one that lost it. Missing (first
        run after an upgrade): every party counts as changed.

    A party that no longer exists (merged away) is deleted by a pre-hook. Erasure and a change to
    the survivorship rules or seeds are followed by `dbt build --full-refresh`, as for staging.
-#}

{#- Beside party_xref (integration), not beside the model: history is published to analysts. -#}
{% macro party_records_relation(xref) -%}
    {{ return(api.Relation.create(database=xref.database, schema=xref.schema,
                                  identifier=this.identifier ~ '__party_records', type='table')) }}
{%- endmacro %}


{#- The party ids to recompute (an incremental run only; see above). -#}
{% macro changed_party_ids(versions, xref, watermark) -%}
    {%- set applied = party_records_relation(xref) -%}
    {%- set exists = adapter.get_relation(database=applied.database, schema=applied.schema,
                                          identifier=applied.identifier) if execute else none -%}
    select x.party_id
    from {{ versions }} as v
    join {{ xref }} as x on x.record_id = v.record_id
    where v._loaded_at > {{ watermark }}
    {%- if exists is none %}
    union
    select party_id from {{ xref }}
    {%- else %}
    union
    select party_id from (
        select record_id, party_id, party_type from {{ xref }}
        except
        select record_id, party_id, party_type from {{ applied }}
    ) as gained
    union
    select party_id from (
        select record_id, party_id, party_type from {{ applied }}
        except
        select record_id, party_id, party_type from {{ xref }}
    ) as lost
    {%- endif %}
{%- endmacro %}


{#- Pre-hook: the rows of parties that no longer exist (an incremental run only). -#}
{% macro delete_vanished_parties(xref) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where party_id not in (select party_id from {{ xref }})
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: keep the record -> party mapping this build used. -#}
{% macro save_party_records(xref) -%}
    {%- set applied = party_records_relation(xref) -%}
    drop table if exists {{ applied }};
    create table {{ applied }} as select record_id, party_id, party_type from {{ xref }}
{%- endmacro %}
