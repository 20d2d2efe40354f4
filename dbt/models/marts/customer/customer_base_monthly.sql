{#-
    The customer base at the end of each month, as the golden record's history says it was
    (business time; macro as_of_condition on dim_customer_history): individuals, their
    households and how many could be reached by email, phone or post. One row per month in which
    the history records any change, for the last var('customer_base_months', 24) months up to
    the latest (each month joins every period valid then, so the window bounds the cost). A late
    correction re-states the months it belongs to on the next run.
-#}
with

history as (
    select * from {{ ref('dim_customer_history') }}
),

latest as (
    select cast({{ dbt.date_trunc('month', 'max(valid_from)') }} as date) as latest_month from history
),

months as (
    select distinct
        cast({{ dbt.date_trunc('month', 'h.valid_from') }} as date) as month_start
    from history as h
    cross join latest
    where h.valid_from >= {{ dbt.dateadd('month', 1 - var('customer_base_months', 24), 'latest.latest_month') }}
),

month_ends as (
    select month_start,
        cast({{ dbt.dateadd('month', 1, 'month_start') }} as date) as next_month_start
    from months
)

select
    cast({{ dbt.dateadd('day', -1, 'm.next_month_start') }} as date) as month_end,
    count(h.party_id) as individuals,
    count(distinct h.household_id) as households,
    count(h.email) as individuals_with_email,
    count(h.phone) as individuals_with_phone,
    count(h.address_line) as individuals_with_address
from month_ends as m
left join history as h
    on h.party_type = 'individual'
    and {{ crm_cif.as_of_condition('h', 'm.next_month_start') }}
group by m.next_month_start
