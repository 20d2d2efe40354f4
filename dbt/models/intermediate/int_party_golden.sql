{#-
    The golden record: for each party and attribute, the value of the record that wins under
    that attribute's survivorship rule (seed survivorship_rules, read at run time), and the
    source it came from, so a steward can see why a value won.

    The rules, each a sort key where smaller wins (macros in golden_survivorship.sql, shared
    with the history, hist_party_golden_attributes):
      trust         the source's trust rank (seed source_trust)
      recency       the record's last update (record_updated_at), latest first
      completeness  how many golden attributes the record fills, most first
    Records without a value never win. Registered records come before contact points under
    every rule: a contact point carries only the email or phone that linked it, so it can
    fill an attribute nobody registered but never displace a registered value by being seen
    later. Order: rule, then_by, then trust, recency and record id, so the pick is always
    deterministic. Names typed all in capitals or all in lower case are shown capitalised
    (macro display_case).

    Shape: the filled values in long form (one row per record and attribute), ranked once per
    (party, attribute), pivoted back with their types. One sort of narrow rows is cheaper than
    a sort of whole records per attribute.

    Incremental by party (macros/incremental_by_party.sql): a party's golden row depends only on
    its own records, so a daily run recomputes the parties with a record version loaded since
    the versions it was last built from (a record's current version, or a contact point's last
    sighting, only changes with a newly loaded row) or whose set of records changed (identity),
    and replaces their rows; every party when the survivorship seeds changed.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    pre_hook="{{ stage_party_records(source('integration', 'party_xref')) }}",
    post_hook=["{{ save_party_records(source('integration', 'party_xref')) }}",
               "{{ save_loaded_through(ref('int_party_record_versions')) }}",
               "{{ save_survivorship_inputs() }}"],
) }}
{%- set attributes = crm_cif.golden_attributes() -%}

with
-- depends_on: {{ ref('source_trust') }} {{ ref('int_party_record_versions') }} (what an incremental run reads)

{% if is_incremental() -%}
changed_parties as (
    {{ changed_party_ids(ref('int_party_record_versions'), source('integration', 'party_xref'),
                         loaded_through(ref('int_party_record_versions'))) }}
),

-- their records: narrowed before the join with party_xref (see hist_party_golden_attributes)
changed_records as (
    select record_id from {{ source('integration', 'party_xref') }}
    where party_id in (select party_id from changed_parties)
),

{% endif -%}
records as (
    select
        r.*,
        x.party_id,
        x.party_type as resolved_party_type,
        {{ crm_cif.golden_sort_keys('r') }}
    {%- if is_incremental() %}
    from (select * from {{ ref('int_party_records') }}
          where record_id in (select record_id from changed_records)) as r
    {%- else %}
    from {{ ref('int_party_records') }} as r
    {%- endif %}
    join {{ source('integration', 'party_xref') }} as x on x.record_id = r.record_id
),

ranked as (
    select
        party_id,
        attribute,
        attribute_value,
        source_system,
        {{ crm_cif.golden_value_rank() }} as value_rank
    from {{ crm_cif.golden_attribute_values('records') }} as attribute_values
),

winners as (
    select
        party_id,
        {%- for attribute in attributes %}
        max(case when attribute = '{{ attribute }}' then attribute_value end) as {{ attribute }},
        max(case when attribute = '{{ attribute }}' then source_system end) as {{ attribute }}_source{{ "," if not loop.last }}
        {%- endfor %}
    from ranked
    where value_rank = 1
    group by party_id
),

parties as (
    select
        party_id,
        max(resolved_party_type) as party_type,
        count(*) as source_record_count,
        sum(case when source_entity <> 'contact_point' then 1 else 0 end) as registered_record_count,
        min(record_updated_at) as first_seen_at,
        max(record_updated_at) as last_updated_at
    from records
    group by party_id
),

survivors as (
    select
        parties.party_id,
        parties.party_type,
        {%- for attribute in attributes %}
        {{ crm_cif.golden_typed_value(attribute, "winners." ~ attribute) }} as {{ attribute }},
        winners.{{ attribute }}_source,
        {%- endfor %}
        parties.source_record_count,
        parties.registered_record_count,
        parties.first_seen_at,
        parties.last_updated_at
    from parties
    left join winners on winners.party_id = parties.party_id
)

select
    survivors.*,
    -- the golden name reads from the golden parts when both survive, so it never disagrees with them
    {{ crm_cif.golden_display_name('survivors') }} as display_name
from survivors
