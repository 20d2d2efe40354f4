{#-
    One row per customer (party) and period: the golden record and household as they were
    (history.hist_party_golden, SCD type 2). valid_from / valid_to are business time (when
    the sources say the change happened), valid_to exclusive and NULL while current; the
    is_current rows equal dim_customer (a dbt test checks it). loaded_at is when the warehouse
    learned the row, so a late correction shows valid_from long before loaded_at.
    The customer base on a date: macro as_of, or
    `where valid_from <= D and (valid_to is null or valid_to > D)`.
    Customer status per period is not here: it follows from the holdings' history.
-#}
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
    loaded_at
from {{ ref('hist_party_golden') }}
