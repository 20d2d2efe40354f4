{#-
    "What did we know on date D": the rows of a history table (valid_from, valid_to exclusive,
    NULL while current) that were valid at a moment, in business time (the period the sources
    say a version held). A date is its midnight: as_of(..., "'2025-06-30'") is the state at the
    start of 30 June; pass the next day for the state at the end of it.
    Usage: `select * from {{ as_of(ref('dim_customer_history'), "'2025-06-30'") }} as customers`
    In a join against a calendar, the condition alone: `{{ as_of_condition('h', 'c.as_of_at') }}`.
-#}
{% macro as_of(relation, as_of_date, valid_from='valid_from', valid_to='valid_to') -%}
(
    select * from {{ relation }} as history
    where {{ crm_cif.as_of_condition('history', as_of_date, valid_from, valid_to) }}
)
{%- endmacro %}

{% macro as_of_condition(alias, as_of_date, valid_from='valid_from', valid_to='valid_to') -%}
    {{ alias }}.{{ valid_from }} <= cast({{ as_of_date }} as timestamp)
    and ({{ alias }}.{{ valid_to }} is null or {{ alias }}.{{ valid_to }} > cast({{ as_of_date }} as timestamp))
{%- endmacro %}
