{#-
    One row per customer (party) and period: the golden record and household as they were
    (history.hist_party_golden, SCD type 2). valid_from / valid_to are business time (when
    the sources say the change happened), valid_to exclusive and NULL while current; the
    is_current rows equal dim_customer (a dbt test checks it). loaded_at is when the warehouse
    learned the row, so a late correction shows valid_from long before loaded_at.
    The customer base on a date: macro as_of, or
    `where valid_from <= D and (valid_to is null or valid_to > D)`.
    Customer status per period is not here: it follows from the holdings' history.

    A view: it renames and selects hist_party_golden's columns, so a table was a daily copy of
    every period (2.4 s at a million people, growing with the history) that every reader scans
    just as it would scan the view. The serving copies publish it as a table (serving/publish.py)
    and patch it by party from refreshed_at (meta serving_keyed_by, serving/keyed_patch.py).
-#}
{{ config(materialized='view') }}
select
    party_id,
    party_type,
    first_name,
    last_name,
    display_name as full_name,
    date_of_birth,
    email,
    phone,
    address_line,
    city,
    postcode,
    household_id,
    valid_from,
    valid_to,
    is_current,
    loaded_at,
    refreshed_at
from {{ ref('hist_party_golden') }}
