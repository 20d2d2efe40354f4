{#-
    Every golden attribute has exactly one survivorship rule, and the seed names no attribute
    the golden record does not have (a typo would otherwise leave an attribute on the default).
    Returns the offending attributes.
-#}
with

expected as (
    {%- for attribute in crm_cif.golden_attributes() %}
    select '{{ attribute }}' as attribute{{ " union all" if not loop.last }}
    {%- endfor %}
),

rules as (
    select attribute, count(*) as rule_count
    from {{ ref('survivorship_rules') }}
    group by attribute
)

select coalesce(expected.attribute, rules.attribute) as attribute, rules.rule_count
from expected
full outer join rules on rules.attribute = expected.attribute
where expected.attribute is null or rules.attribute is null or rules.rule_count <> 1
