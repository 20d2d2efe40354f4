{#-
    The golden record as it was over time (SCD type 2): one row per party and period in which
    its golden attributes (hist_party_golden_attributes, same survivorship as int_party_golden)
    and its household (hist_household_members) stayed the same. A marriage (new surname) or a
    move (new address, maybe a new household) opens a new period.

    valid_from / valid_to: business time (the source's own timestamps), valid_to exclusive and
    NULL while current; is_current marks today's row, equal to int_party_golden and
    int_household_members. loaded_at: when the warehouse learned the versions that make up
    the row (not the period's start: a late version has a loaded_at long after its valid_from).
    As of a date: macro as_of.

    Incremental by party (macros/incremental_by_party.sql): a party's rows come from its own
    attribute periods and household periods only, so a daily run recomputes the parties whose
    attribute periods can have changed (a version loaded since, a record moved, a survivorship
    input changed: the same rule as hist_party_golden_attributes, with this model's own kept
    mappings and watermark) or whose household periods differ from those it was last built
    with, and replaces their rows (15 s -> the changed parties' share at a million people).
    refreshed_at: when the warehouse last wrote the row (the dbt run's start), so the serving
    copies patch the rows written since by party (serving/keyed_patch.py).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    pre_hook=["{{ stage_party_records(source('integration', 'party_xref')) }}",
              "{{ stage_household_periods(ref('hist_household_members'), source('integration', 'party_xref').schema) }}"],
    post_hook=["{{ save_party_records(source('integration', 'party_xref')) }}",
               "{{ save_survivorship_inputs() }}",
               "{{ save_household_periods(ref('hist_household_members'), source('integration', 'party_xref').schema) }}"],
) }}
{%- set attributes = crm_cif.golden_attributes() -%}

with
-- depends_on: {{ ref('source_trust') }}, {{ ref('survivorship_rules') }} (survivorship inputs, see save_survivorship_inputs)
-- depends_on: {{ ref('int_party_record_versions') }}, {{ source('integration', 'party_xref') }} (changed parties)

{% if is_incremental() -%}
changed_parties as (
    {{ changed_party_ids(ref('int_party_record_versions'), source('integration', 'party_xref'), fact_watermark()) }}
    union
    {{ parties_with_changed_households(ref('hist_household_members'), source('integration', 'party_xref').schema) }}
),

{% endif -%}
golden as (
    select * from {{ ref('hist_party_golden_attributes') }}
    {%- if is_incremental() %}
    where party_id in (select party_id from changed_parties)
    {%- endif %}
),

households as (
    select * from {{ ref('hist_household_members') }}
    {%- if is_incremental() %}
    where party_id in (select party_id from changed_parties)
    {%- endif %}
),

points as (
    select party_id, valid_from as changed_at from golden
    union
    select party_id, valid_from from households
    union
    select party_id, valid_to from households where valid_to is not null
),

rows_at_points as (
    select
        g.party_id,
        g.party_type,
        {%- for attribute in attributes %}
        g.{{ attribute }},
        g.{{ attribute }}_source,
        {%- endfor %}
        g.display_name,
        h.household_id,
        p.changed_at,
        g.loaded_at
    from points as p
    join golden as g
        on g.party_id = p.party_id
        and g.valid_from <= p.changed_at
        and (g.valid_to is null or g.valid_to > p.changed_at)
    left join households as h
        on h.party_id = p.party_id
        and h.valid_from <= p.changed_at
        and (h.valid_to is null or h.valid_to > p.changed_at)
),

{%- set parts = [] -%}
{%- for column in attributes + ['household_id'] -%}
    {%- do parts.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '~')") -%}
    {%- if not loop.last %}{% do parts.append("'|'") %}{% endif -%}
{%- endfor %}
changes as (
    select rows_at_points.*,
        case
            when lag(row_fingerprint) over (partition by party_id order by changed_at) = row_fingerprint then 0
            else 1
        end as opens_period
    from (
        select rows_at_points.*, {{ dbt.hash(dbt.concat(parts)) }} as row_fingerprint
        from rows_at_points
    ) as rows_at_points
),

periods as (
    select changes.*,
        lead(changed_at) over (partition by party_id order by changed_at) as next_change_at
    from changes
    where opens_period = 1
)

select
    party_id,
    party_type,
    {%- for attribute in attributes %}
    {{ attribute }},
    {{ attribute }}_source,
    {%- endfor %}
    display_name,
    household_id,
    changed_at as valid_from,
    next_change_at as valid_to,
    next_change_at is null as is_current,
    loaded_at,
    {{ row_refreshed_at() }} as refreshed_at
from periods
