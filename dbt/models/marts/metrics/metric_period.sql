{#-
    The reporting period every metric view uses, in one place. It ends at the same reference
    date as dim_customer's activity window (the latest transaction in the warehouse), so an old
    extract still reads sensibly and the metrics agree with customer_status. Its length is var
    metric_period_months (default 12).
-#}
{%- set months = var("metric_period_months", 12) -%}
with

reference_date as (
    select max(occurred_on) as as_of from {{ ref('fct_transactions') }}
)

select
    cast('trailing_{{ months }}_months' as {{ dbt.type_string() }}) as period_label,
    cast({{ dbt.dateadd("month", -months, "as_of") }} as date) as period_start,
    as_of as period_end,
    cast('as_of' as {{ dbt.type_string() }}) as snapshot_label
from reference_date
