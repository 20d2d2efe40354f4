{#-
    Households over time: int_household_members' rule applied to the golden address as it was
    (hist_party_golden_attributes). At any moment, individuals whose golden address has the
    same key (macro household_address_key) form one household, unless more than
    var('household_max_members', 10) share it; the id is 'H' + hash of the party_id of its
    anchor then, the longest-known resident (int_party_seniority, the same order as
    int_household_members), so today's rows equal int_household_members. A resident is known
    before their first address period starts, so the anchor at a moment never depends on later
    knowledge; the id stays as long as the anchor stays.

    How: each individual's address periods (consecutive periods with the same key merged);
    per address key, its boundaries (someone arrives or leaves) cut time into segments with a
    fixed set of residents. Residents are counted by a running sum of arrivals and departures,
    and only segments small enough to be a household are joined back to their residents, so
    a placeholder address shared by thousands never becomes a quadratic join.

    Incremental by party (delete+insert; macros/household_scope.sql): a daily run recomputes
    the parties that lived at an address key a changed party holds now or held at the last
    build, from the periods of everyone who lived at any key of theirs, and replaces their rows
    (the whole history, 2 M golden periods at a million people, was recomputed every day). A
    recomputed party left without a household gets a row with no household_id, which the
    post-hook deletes, so its old rows go too: the table holds exactly what a full build gives.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    pre_hook=["{{ stage_party_records(source('integration', 'party_xref')) }}",
              "{{ stage_household_scope(ref('int_party_record_versions'), source('integration', 'party_xref'), ref('hist_party_golden_attributes'), var('household_max_members', 10)) }}"],
    post_hook=["delete from {{ this }} where household_id is null",
               "{{ save_household_keys(ref('hist_party_golden_attributes'), var('household_max_members', 10)) }}",
               "{{ save_party_records(source('integration', 'party_xref')) }}",
               "{{ save_survivorship_inputs() }}",
               "{{ save_loaded_through(ref('int_party_record_versions')) }}"],
) }}
-- depends_on: {{ ref('source_trust') }}, {{ ref('survivorship_rules') }} (survivorship inputs, see save_survivorship_inputs)
-- depends_on: {{ ref('int_party_record_versions') }}, {{ source('integration', 'party_xref') }} (changed parties)
with

{% if is_incremental() -%}
changed_parties as (
    select party_id from {{ household_changed_relation() }}
),

-- the keys the changed parties hold now (staged by the pre-hook); the kept keys of everyone
-- else are still theirs
changed_keys_now as (
    select party_id, key_hash from {{ household_changed_keys_relation() }}
),

current_keys as (
    select party_id, key_hash from changed_keys_now
    union all
    select party_id, key_hash from {{ household_keys_relation() }}
    where party_id not in (select party_id from changed_parties where party_id is not null)
),

changed_keys as (
    select key_hash from changed_keys_now
    union
    select key_hash from {{ household_keys_relation() }} where party_id in (select party_id from changed_parties)
),

-- the parties whose rows are replaced: the changed ones and whoever lived at one of their keys
recomputed_parties as (
    select party_id from changed_parties
    union
    select party_id from current_keys where key_hash in (select key_hash from changed_keys)
),

-- every key those parties lived at, and everyone who lived there: their households' inputs
recomputed_keys as (
    select distinct key_hash from current_keys where party_id in (select party_id from recomputed_parties)
),

residents as (
    select distinct party_id from current_keys where key_hash in (select key_hash from recomputed_keys)
),

{% endif -%}
golden as (
    select party_id, valid_from, valid_to,
        case when address_line is not null and trim(address_line) <> ''
            then {{ crm_cif.household_address_key('g') }}
        end as address_key
    from {{ ref('hist_party_golden_attributes') }} as g
    where party_type = 'individual'
    {%- if is_incremental() %}
        and party_id in (select party_id from residents)
    {%- endif %}
),

key_changes as (
    select golden.*,
        lag(address_key) over (partition by party_id order by valid_from) as previous_key,
        row_number() over (partition by party_id order by valid_from) as period_order
    from golden
),

address_periods as (
    select * from (
        select party_id, address_key, valid_from,
            lead(valid_from) over (partition by party_id order by valid_from) as valid_to
        from key_changes
        where period_order = 1
            or (address_key is null and previous_key is not null)
            or (address_key is not null and previous_key is null)
            or address_key <> previous_key
    ) as periods
    where address_key is not null
    {%- if is_incremental() %}
        and {{ dbt.hash('address_key') }} in (select key_hash from recomputed_keys)
    {%- endif %}
),

moves as (
    select address_key, valid_from as moved_at, 1 as residents_change from address_periods
    union all
    select address_key, valid_to, -1 from address_periods where valid_to is not null
),

boundaries as (
    select address_key, moved_at, sum(residents_change) as residents_change
    from moves
    group by address_key, moved_at
),

segments as (
    select address_key, moved_at as segment_from,
        lead(moved_at) over (partition by address_key order by moved_at) as segment_to,
        sum(residents_change) over (
            partition by address_key order by moved_at rows between unbounded preceding and current row
        ) as residents
    from boundaries
),

-- the residents of each segment small enough to be a household, 1 for the longest-known: the anchor
segment_residents as (
    select s.address_key, s.segment_from, s.segment_to, s.residents, p.party_id,
        row_number() over (
            partition by s.address_key, s.segment_from
            order by k.known_since, k.first_record_id, p.party_id
        ) as seniority
    from segments as s
    join address_periods as p
        on p.address_key = s.address_key
        and p.valid_from <= s.segment_from
        and (p.valid_to is null or p.valid_to > s.segment_from)
    join {{ ref('int_party_seniority') }} as k on k.party_id = p.party_id
    where s.residents between 1 and {{ var('household_max_members', 10) }}
),

household_segments as (
    select address_key, segment_from, segment_to, residents, party_id as anchor_party_id
    from segment_residents
    where seniority = 1
),

-- each resident's household in each segment of their address period
memberships as (
    select p.party_id, {{ crm_cif.household_id('s.anchor_party_id') }} as household_id,
        s.address_key, s.residents as member_count,
        s.segment_from as valid_from, s.segment_to as valid_to
    from address_periods as p
    join household_segments as s
        on s.address_key = p.address_key
        and p.valid_from <= s.segment_from
        and (p.valid_to is null or p.valid_to > s.segment_from)
    {%- if is_incremental() %}
    where p.party_id in (select party_id from recomputed_parties)
    {%- endif %}
),

-- the same household in consecutive segments (another member came or went) is one period
household_changes as (
    select memberships.*,
        case
            when lag(household_id) over (partition by party_id order by valid_from) = household_id
                and lag(valid_to) over (partition by party_id order by valid_from) = valid_from
            then 0 else 1
        end as starts_period
    from memberships
),

numbered as (
    select household_changes.*,
        sum(starts_period) over (
            partition by party_id order by valid_from rows between unbounded preceding and current row
        ) as period_number
    from household_changes
),

periods as (
    select
        party_id,
        household_id,
        min(valid_from) as valid_from,
        case when count(valid_to) < count(*) then null else max(valid_to) end as valid_to,
        count(valid_to) < count(*) as is_current
    from numbered
    group by party_id, household_id, period_number
)

select * from periods
{%- if is_incremental() %}
union all
-- a recomputed party with no household now: a row to replace its old ones (deleted by the post-hook)
select party_id, cast(null as {{ dbt.type_string() }}), cast(null as {{ dbt.type_timestamp() }}),
    cast(null as {{ dbt.type_timestamp() }}), cast(null as {{ dbt.type_boolean() }})
from recomputed_parties
where party_id not in (select party_id from periods)
{%- endif %}
