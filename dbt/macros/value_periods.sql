{#-
    A versioned attribute of a record (a contact's organisation, an organisation's account
    manager) as periods: one row per (key, value) with valid_from (first version that carried
    it) and valid_to (the first later version that carried something else; NULL while current).
    Usage: `from {{ value_periods(ref('stg_sales__contacts'), 'contact_id', 'org_id') }} as p`
-#}
{% macro value_periods(relation, key, value, order_column='updated_at') -%}
(
    select spans.{{ key }}, spans.{{ value }}, spans.valid_from,
        min(later.{{ order_column }}) as valid_to
    from (
        select {{ key }}, {{ value }}, min({{ order_column }}) as valid_from, max({{ order_column }}) as last_seen
        from {{ relation }}
        where {{ value }} is not null
        group by {{ key }}, {{ value }}
    ) as spans
    left join {{ relation }} as later
        on later.{{ key }} = spans.{{ key }}
        and later.{{ order_column }} > spans.last_seen
        and coalesce(later.{{ value }}, '') <> spans.{{ value }}
    group by spans.{{ key }}, spans.{{ value }}, spans.valid_from
)
{%- endmacro %}
