{#-
    How long each party has been known, as a run-independent order: a household's anchor is
    its longest-known member (int_household_members, hist_household_members), so that which
    member anchors it, and so the household id, does not depend on the party ids, which
    depend on the run history (stable_ids).

    known_since is the earliest business time of any version of any of the party's records.
    Not int_party_golden.first_seen_at: that is the earliest of the current versions, so it
    moves forward whenever a record changes, and an anchor would lose its place to a newer
    member on a phone-number update. Ties go to the party's smallest record_id (a source key,
    unique to one party).

    Incremental by party (macros/incremental_by_party.sql): a daily run recomputes the parties
    with a version loaded since the last build or a record gained or lost, and replaces their
    rows (the whole table took ~2-3 s a day at a million people).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    pre_hook="{{ stage_party_records(source('integration', 'party_xref')) }}",
    post_hook=["{{ save_party_records(source('integration', 'party_xref')) }}",
               "{{ save_loaded_through(ref('int_party_record_versions')) }}"],
) }}

with

{% if is_incremental() -%}
changed_parties as (
    {{ parties_with_new_versions_or_records(ref('int_party_record_versions'), source('integration', 'party_xref'),
                                            loaded_through(ref('int_party_record_versions'))) }}
),

{% endif -%}
records as (
    select record_id, party_id from {{ source('integration', 'party_xref') }}
    {%- if is_incremental() %}
    where party_id in (select party_id from changed_parties)
    {%- endif %}
)

select
    x.party_id,
    min(v.valid_from) as known_since,
    min(x.record_id) as first_record_id
from records as x
join {{ ref('int_party_record_versions') }} as v on v.record_id = x.record_id
group by x.party_id
