{#-
    The golden record: for each party and attribute, the value of the record that wins under
    that attribute's survivorship rule (seed survivorship_rules, read at run time), and the
    source it came from, so a steward can see why a value won.

    The rules, each a sort key where smaller wins:
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
-#}
{%- set attributes = crm_cif.golden_attributes() -%}
{%- set display_cased = ['first_name', 'last_name', 'full_name', 'city'] -%}
{%- set dates = ['date_of_birth'] -%}

with

records as (
    select
        r.*,
        x.party_id,
        x.party_type as resolved_party_type,
        case when r.source_entity = 'contact_point' then 1 else 0 end as contact_point_key,
        cast(r.trust_rank as {{ dbt.type_bigint() }}) as trust_key,
        -- latest first: minus the seconds since a fixed epoch; no timestamp sorts as the oldest
        -cast(coalesce({{ dbt.datediff("cast('1900-01-01 00:00:00' as timestamp)", "r.record_updated_at", "second") }}, 0)
            as {{ dbt.type_bigint() }}) as recency_key,
        -cast(
            {%- for attribute in attributes %}
            case when r.{{ attribute }} is null then 0 else 1 end{{ " +" if not loop.last }}
            {%- endfor %}
        as {{ dbt.type_bigint() }}) as completeness_key
    from {{ ref('int_party_records') }} as r
    join {{ source('integration', 'party_xref') }} as x on x.record_id = r.record_id
),

attribute_values as (
    -- every attribute of every record, with its sort keys under that attribute's rule and tie-break
    select
        records.party_id,
        records.record_id,
        records.source_system,
        records.contact_point_key,
        records.trust_key,
        records.recency_key,
        rules.attribute,
        {%- for slot in ['rule', 'then_by'] %}
        case rules.{{ slot }}
            when 'recency' then records.recency_key
            when 'completeness' then records.completeness_key
            else records.trust_key
        end as {{ slot }}_key,
        {%- endfor %}
        case rules.attribute
            {%- for attribute in attributes %}
            when '{{ attribute }}' then cast(records.{{ attribute }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as attribute_value
    from records
    cross join {{ ref('survivorship_rules') }} as rules
),

ranked as (
    select
        party_id,
        attribute,
        attribute_value,
        source_system,
        row_number() over (
            partition by party_id, attribute
            order by contact_point_key, rule_key, then_by_key, trust_key, recency_key, record_id
        ) as value_rank
    from attribute_values
    where attribute_value is not null
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
        {%- if attribute in display_cased %}
        {{ crm_cif.display_case("winners." ~ attribute) }} as {{ attribute }},
        {%- elif attribute in dates %}
        cast(winners.{{ attribute }} as date) as {{ attribute }},
        {%- else %}
        winners.{{ attribute }},
        {%- endif %}
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
    case when first_name is not null and last_name is not null
        then {{ dbt.concat(["first_name", "' '", "last_name"]) }}
        else full_name
    end as display_name
from survivors
