{#-
    dbt's relationships test (every non-null value of the column is a `field` of `to`), checked
    for the rows written since this test last passed and for the keys `to` lost since then.

    Why: relationships joins every row of the child to its parent on every run: 3.7 + 3.1 s a day
    for the 42 M interactions and 15 M transactions against dim_customer at a million people,
    growing with the history, though a day writes ~0.2% of the rows. When the test last passed
    every child had its parent, so a child can only be orphaned since by

      - being written since (`written_at` later than the newest one the table held at that pass,
        as for unique_since_last_pass: new and re-derived rows of the incremental facts), or
      - its parent key disappearing: the parent's keys at that pass are kept in
        `<target schema>.dbt_test_kept__<child schema>__<child>__<column>` by the on-run-end hook
        (record_windowed_test_passes), and the keys kept but no longer in `to` are probed among
        all children (a scan of one column against the day's few removed keys).

    The whole table is checked when no pass or no kept keys are recorded, on `--full-refresh`,
    and with `--vars '{full_data_tests: true}'`, as for unique_since_last_pass.
-#}
{% test relationships_since_last_pass(model, column_name, to, field, written_at='refreshed_at') %}
{%- set test_column = windowed_relationships_column(column_name) -%}
{%- set since = windowed_test_since(model, test_column) -%}
{%- set kept = windowed_test_kept_keys(model, test_column) -%}
{%- set windowed = since is not none and table_exists(kept) -%}
with

parent as (
    select {{ field }} as parent_key from {{ to }} where {{ field }} is not null
),
{%- if windowed %}

removed as (
    select parent_key from {{ kept }}
    except
    select parent_key from parent
),
{%- endif %}

children as (
    select {{ column_name }} as child_key from {{ model }}
    where {{ column_name }} is not null
    {%- if windowed %}
        and ({{ written_at }} > cast('{{ since }}' as timestamp)
             or {{ column_name }} in (select parent_key from removed))
    {%- endif %}
)

select children.child_key as from_field
from children
left join parent on parent.parent_key = children.child_key
where parent.parent_key is null
{% endtest %}
