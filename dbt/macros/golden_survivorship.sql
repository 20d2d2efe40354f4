{#-
    Survivorship of the golden record in pieces, so the current golden record
    (int_party_golden) and its history (hist_party_golden_attributes) rank values the same way.
    Each rule is a sort key where smaller wins (rules in seed survivorship_rules):
      trust         the source's trust rank (seed source_trust)
      recency       the record's last update (record_updated_at), latest first
      completeness  how many golden attributes the record fills, most first
    Records without a value never win; registered records come before contact points; then
    rule, then_by, trust, recency and record id, so the pick is deterministic.
-#}

{#- The sort keys of a record (alias: a relation with int_party_records' columns). -#}
{% macro golden_sort_keys(alias) -%}
    case when {{ alias }}.source_entity = 'contact_point' then 1 else 0 end as contact_point_key,
    cast({{ alias }}.trust_rank as {{ dbt.type_bigint() }}) as trust_key,
    -- latest first: minus the seconds since a fixed epoch; no timestamp sorts as the oldest
    -cast(coalesce({{ dbt.datediff("cast('1900-01-01 00:00:00' as timestamp)", alias ~ ".record_updated_at", "second") }}, 0)
        as {{ dbt.type_bigint() }}) as recency_key,
    -cast(
        {%- for attribute in crm_cif.golden_attributes() %}
        case when {{ alias }}.{{ attribute }} is null then 0 else 1 end{{ " +" if not loop.last }}
        {%- endfor %}
    as {{ dbt.type_bigint() }}) as completeness_key
{%- endmacro %}

{#-
    Every filled attribute of every record in long form, one row per (record, attribute), with
    the sort keys under that attribute's rule. `records` has the record columns, party_id and
    golden_sort_keys; `carry` names further columns to keep (e.g. a version's validity).
-#}
{% macro golden_attribute_values(records, carry=[]) -%}
(
    select * from (
        select
            records.party_id,
            records.record_id,
            records.source_system,
            records.contact_point_key,
            records.trust_key,
            records.recency_key,
            {%- for column in carry %}
            records.{{ column }},
            {%- endfor %}
            rules.attribute,
            {%- for slot in ['rule', 'then_by'] %}
            case rules.{{ slot }}
                when 'recency' then records.recency_key
                when 'completeness' then records.completeness_key
                else records.trust_key
            end as {{ slot }}_key,
            {%- endfor %}
            case rules.attribute
                {%- for attribute in crm_cif.golden_attributes() %}
                when '{{ attribute }}' then cast(records.{{ attribute }} as {{ dbt.type_string() }})
                {%- endfor %}
            end as attribute_value
        from {{ records }} as records
        cross join {{ ref('survivorship_rules') }} as rules
    ) as attribute_values
    where attribute_value is not null
)
{%- endmacro %}

{#- 1 for the winning value of each (party, attribute[, extra partition columns]). -#}
{% macro golden_value_rank(partition_by=[]) -%}
    row_number() over (
        partition by party_id, attribute{% for column in partition_by %}, {{ column }}{% endfor %}
        order by contact_point_key, rule_key, then_by_key, trust_key, recency_key, record_id
    )
{%- endmacro %}

{#- An attribute's golden value with its type and display form, from its text form. -#}
{% macro golden_typed_value(attribute, expression) -%}
    {%- if attribute in ['first_name', 'last_name', 'full_name', 'city'] -%}
        {{ crm_cif.display_case(expression) }}
    {%- elif attribute in ['date_of_birth'] -%}
        cast({{ expression }} as date)
    {%- else -%}
        {{ expression }}
    {%- endif -%}
{%- endmacro %}

{#- The golden name: the golden parts when both survive, else the golden full name. -#}
{% macro golden_display_name(alias) -%}
    case when {{ alias }}.first_name is not null and {{ alias }}.last_name is not null
        then {{ dbt.concat([alias ~ ".first_name", "' '", alias ~ ".last_name"]) }}
        else {{ alias }}.full_name
    end
{%- endmacro %}
