{#-
    A column is unique, checked for the keys of the rows loaded since this test last passed.

    Why: `unique` groups the whole table on every run: 5-11 s a test on the 42 M interactions
    and 40 M mobile/billing/email rows of a million people, every day, though a day adds ~0.2%.
    Tables that only gain rows (staging, append by raw batch) or replace rows by key (the
    incremental facts, delete+insert) can only gain a duplicate through a row written since, so
    checking the keys of those rows against the whole table (a semi-join: 0.6 s instead of 5-6 s
    on fct_interactions at a million people) keeps the guarantee by induction:

      - `written_at`: the column that marks when a row was written (every row written later is
        later than every row the last passing run saw): `_loaded_at` in staging, `refreshed_at`
        in the facts (new and re-derived rows alike);
      - the window starts at the newest `written_at` the table held when this test last passed,
        recorded by the on-run-end hook record_windowed_test_passes in `<target schema>.
        dbt_test_watermarks`. A failed test records nothing, so the next run checks the failing
        rows again;
      - the whole table is checked when nothing was recorded yet, on `--full-refresh` (erasure,
        a rebuild), and with `--vars '{full_data_tests: true}'` (a weekly deep check, or after
        a manual change to the table).

    Not for tables rebuilt whole or whose rows change without a new `written_at`; no `where`
    config (the recorded watermark belongs to the whole table).
-#}
{% test unique_since_last_pass(model, column_name, written_at='_loaded_at') %}
{%- set since = windowed_test_since(model, column_name) %}
select {{ column_name }} as unique_field, count(*) as n_records
from {{ model }}
where {{ column_name }} is not null
{%- if since is not none %}
    and {{ column_name }} in (
        select {{ column_name }} from {{ model }} where {{ written_at }} > cast('{{ since }}' as timestamp)
    )
{%- endif %}
group by {{ column_name }}
having count(*) > 1
{% endtest %}
