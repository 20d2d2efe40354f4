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
-#}
{%- set attributes = crm_cif.golden_attributes() -%}

with

golden as (
    select * from {{ ref('hist_party_golden_attributes') }}
),

households as (
    select * from {{ ref('hist_household_members') }}
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
    loaded_at
from periods
