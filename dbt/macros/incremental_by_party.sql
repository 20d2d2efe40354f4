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
        `<integration schema>.<model>__party_records` (macros/applied_mapping.sql). Both
        sides count: the party that gained a record and the one that lost it. Missing (first
        run after an upgrade): every party counts as changed.

    A party that no longer exists (merged away) is deleted by a pre-hook. Erasure and a change to
    the survivorship rules or seeds are followed by `dbt build --full-refresh`, as for staging.
-#}

{#- The party ids to recompute (an incremental run only; see above). The applied mapping sits
    beside party_xref (integration), not beside the model: history is published to analysts. -#}
{% macro changed_party_ids(versions, xref, watermark) -%}
    select x.party_id
    from {{ versions }} as v
    join {{ xref }} as x on x.record_id = v.record_id
    where v._loaded_at > {{ watermark }}
    union
    select party_id from (
        {{ changed_mapping_rows(xref, ['record_id', 'party_id', 'party_type'], 'party_records') }}
    ) as moved
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
    {{ save_applied_mapping(xref, ['record_id', 'party_id', 'party_type'], 'party_records') }}
{%- endmacro %}
