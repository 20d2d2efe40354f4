{#-
    The golden record: for each party and attribute, the value from the most trusted record
    that has one (seed source_trust), the most recent on a tie. Each golden attribute carries
    the source it came from, so a steward can see why a value won. Names typed all in capitals
    or all in lower case are shown capitalised (macro display_case).
-#}
{%- set attributes = ['first_name', 'last_name', 'full_name', 'date_of_birth', 'email', 'phone', 'address_line', 'city', 'postcode'] -%}
{%- set display_cased = ['first_name', 'last_name', 'full_name', 'city'] -%}

with

records as (
    select r.*, x.party_id, x.party_type as resolved_party_type
    from {{ ref('int_party_records') }} as r
    join {{ source('integration', 'party_xref') }} as x on x.record_id = r.record_id
),

ranked as (
    select
        records.*,
        {%- for attribute in attributes %}
        row_number() over (
            partition by party_id
            order by case when {{ attribute }} is null then 1 else 0 end, trust_rank, record_updated_at desc, record_id
        ) as {{ attribute }}_rank{{ "," if not loop.last }}
        {%- endfor %}
    from records
),

survivors as (
select
    party_id,
    max(resolved_party_type) as party_type,
    {%- for attribute in attributes %}
    {%- if attribute in display_cased %}
    {{ crm_cif.display_case("max(case when " ~ attribute ~ "_rank = 1 then " ~ attribute ~ " end)") }} as {{ attribute }},
    {%- else %}
    max(case when {{ attribute }}_rank = 1 then {{ attribute }} end) as {{ attribute }},
    {%- endif %}
    max(case when {{ attribute }}_rank = 1 and {{ attribute }} is not null then source_system end) as {{ attribute }}_source,
    {%- endfor %}
    count(*) as source_record_count,
    sum(case when source_entity <> 'contact_point' then 1 else 0 end) as registered_record_count,
    min(record_updated_at) as first_seen_at,
    max(record_updated_at) as last_updated_at
from ranked
group by party_id
)

select
    survivors.*,
    -- the golden name reads from the golden parts when both survive, so it never disagrees with them
    case when first_name is not null and last_name is not null
        then {{ dbt.concat(["first_name", "' '", "last_name"]) }}
        else full_name
    end as display_name
from survivors
