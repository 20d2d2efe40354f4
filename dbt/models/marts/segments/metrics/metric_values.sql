{#-
    Every metric in one long view (one row per metric and period, with its definition): what a
    BI tool lists. Lives under marts/segments because the CLV metrics read the analytics assets'
    tables, so it builds after them (dbt_analytics_marts).
-#}
{%- set metrics = [
    'metric_customer_count', 'metric_active_customers', 'metric_attrition_rate', 'metric_retention_rate',
    'metric_prospect_conversion_rate', 'metric_loss_vs_attrition', 'metric_first_contact_resolution',
    'metric_complaints_per_1000_customers', 'metric_average_clv', 'metric_clv_to_cac',
] -%}
{%- for name in metrics %}
select metric, period_label, period_start, period_end, numerator, denominator, value, unit, definition
from {{ ref(name) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
