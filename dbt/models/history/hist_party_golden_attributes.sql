{#-
    The golden record's attributes as they were over time (no household yet: that is derived
    from these periods in hist_household_members and joined in hist_party_golden).

    Business time: every version of every party record (int_party_record_versions) is valid
    from its own timestamp to the next version's. At each moment the golden value of an
    attribute is the one the same survivorship as int_party_golden picks among the versions
    valid then (macros in golden_survivorship.sql). Rebuilt from every delivered version on each
    run, so a version dated last month that arrives today lands in its place and re-splits the
    periods around it.

    Cost: a version's sort keys do not depend on the moment, so every filled value is ranked
    once per (party, attribute) and the winner at a moment is the best rank among the values
    valid then (a min, not a sort per moment). Change points are taken per (party, attribute)
    from the versions that fill that attribute, so a contact point (one email or phone) only
    counts where emails or phones change. Consecutive equal values of an attribute collapse
    into one period before the attributes meet again per party.

    loaded_at: when the warehouse could first show the row, the latest load time of the
    versions whose values make it up, taken where each attribute's period opened.
    Parties are today's (identity resolution): a party's history holds the versions of the
    records resolved to it now.

    Incremental by party (macros/incremental_by_party.sql): a daily run recomputes only the
    parties with a newly loaded version or a changed set of records, and replaces their rows.
    refreshed_at: when the warehouse last wrote the row (the dbt run's start), so the serving
    copies patch the rows written since by party (serving/keyed_patch.py).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    pre_hook="{{ stage_party_records(source('integration', 'party_xref')) }}",
    post_hook=["{{ save_party_records(source('integration', 'party_xref')) }}",
               "{{ save_survivorship_inputs() }}"],
) }}
{%- set attributes = crm_cif.golden_attributes() -%}

with
-- depends_on: {{ ref('source_trust') }} (survivorship input, see save_survivorship_inputs)

{% if is_incremental() -%}
changed_parties as (
    {{ changed_party_ids(ref('int_party_record_versions'), source('integration', 'party_xref'), fact_watermark()) }}
),

-- their records: the versions are narrowed to these (a semi-join on the few) before they meet
-- party_xref, rather than joined whole and filtered after (3.7 -> 1.0 s with nothing new at 1M)
changed_records as (
    select record_id from {{ source('integration', 'party_xref') }}
    where party_id in (select party_id from changed_parties)
),

{% endif -%}
versions as (
    select
        v.*,
        x.party_id,
        x.party_type as resolved_party_type,
        {{ crm_cif.golden_sort_keys('v') }}
    {%- if is_incremental() %}
    from (select * from {{ ref('int_party_record_versions') }}
          where record_id in (select record_id from changed_records)) as v
    {%- else %}
    from {{ ref('int_party_record_versions') }} as v
    {%- endif %}
    join {{ source('integration', 'party_xref') }} as x on x.record_id = v.record_id
    -- a version replaced at the same instant by a later delivery was never valid
    where (v.valid_to is null or v.valid_to > v.valid_from)
),

-- each filled value ranked once among all of its (party, attribute): the sort keys of a version
-- do not depend on the moment, so the winner at any moment is the best-ranked value valid then
filled as (
    select party_id, attribute, attribute_value, source_system, valid_from, valid_to, _loaded_at,
        {{ crm_cif.golden_value_rank() }} as value_rank
    from {{ crm_cif.golden_attribute_values('versions', ['valid_from', 'valid_to', '_loaded_at']) }} as attribute_values
),

-- the moments an attribute's candidates change: a filled version starts or ends
change_points as (
    select party_id, attribute, valid_from as changed_at from filled
    union
    select party_id, attribute, valid_to from filled where valid_to is not null
),

-- the best rank valid at each change point (NULL when no valid version fills the attribute any more)
best_at_points as (
    select c.party_id, c.attribute, c.changed_at, min(f.value_rank) as value_rank
    from change_points as c
    left join filled as f
        on f.party_id = c.party_id
        and f.attribute = c.attribute
        and f.valid_from <= c.changed_at
        and (f.valid_to is null or f.valid_to > c.changed_at)
    group by c.party_id, c.attribute, c.changed_at
),

-- the golden value at each change point, typed
values_at_points as (
    select b.party_id, b.attribute, b.changed_at, f.source_system, f._loaded_at,
        case b.attribute
            {%- for attribute in attributes %}
            when '{{ attribute }}' then cast({{ crm_cif.golden_typed_value(attribute, "f.attribute_value") }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as attribute_value
    from best_at_points as b
    left join filled as f
        on f.party_id = b.party_id and f.attribute = b.attribute and f.value_rank = b.value_rank
),

value_changes as (
    select values_at_points.*,
        lag(attribute_value) over (partition by party_id, attribute order by changed_at) as previous_value,
        row_number() over (partition by party_id, attribute order by changed_at) as point_order
    from values_at_points
),

attribute_periods as (
    select party_id, attribute, attribute_value, source_system, _loaded_at,
        changed_at as valid_from,
        lead(changed_at) over (partition by party_id, attribute order by changed_at) as valid_to
    from value_changes
    where point_order = 1
        or (attribute_value is null and previous_value is not null)
        or (attribute_value is not null and previous_value is null)
        or attribute_value <> previous_value
),

parties as (
    select party_id, max(resolved_party_type) as party_type, min(valid_from) as first_valid_from
    from versions
    group by party_id
),

party_points as (
    select party_id, valid_from as changed_at from attribute_periods
    union
    select party_id, first_valid_from from parties
),

golden_at_points as (
    select
        p.party_id,
        p.changed_at,
        {%- for attribute in attributes %}
        max(case when a.attribute = '{{ attribute }}' then a.attribute_value end) as {{ attribute }},
        max(case when a.attribute = '{{ attribute }}' then a.source_system end) as {{ attribute }}_source,
        {%- endfor %}
        max(a._loaded_at) as loaded_at
    from party_points as p
    left join attribute_periods as a
        on a.party_id = p.party_id
        and a.valid_from <= p.changed_at
        and (a.valid_to is null or a.valid_to > p.changed_at)
    group by p.party_id, p.changed_at
)

select
    g.party_id,
    parties.party_type,
    {%- for attribute in attributes %}
    {%- if attribute == 'date_of_birth' %}
    cast(g.{{ attribute }} as date) as {{ attribute }},
    {%- else %}
    g.{{ attribute }},
    {%- endif %}
    g.{{ attribute }}_source,
    {%- endfor %}
    {{ crm_cif.golden_display_name('g') }} as display_name,
    g.changed_at as valid_from,
    lead(g.changed_at) over (partition by g.party_id order by g.changed_at) as valid_to,
    g.loaded_at,
    {{ row_refreshed_at() }} as refreshed_at
from golden_at_points as g
join parties on parties.party_id = g.party_id
