{#- Rows in = rows out: every raw row of an entity is either accepted (the model under
    test) or listed in the quarantine. Fails with the three counts when they disagree. -#}
{% test rows_reconcile(model, raw_relation, quarantine_relation, source_system, source_entity) %}
with counts as (
    select
        (select count(*) from {{ raw_relation }}) as raw_rows,
        (select count(*) from {{ model }}) as accepted_rows,
        (
            select count(*) from {{ quarantine_relation }}
            where source_system = '{{ source_system }}' and source_entity = '{{ source_entity }}'
        ) as quarantined_rows
)
select * from counts
where raw_rows <> accepted_rows + quarantined_rows
{% endtest %}
