{#- Helpers for the metric views (models/marts/metrics): one row shape for every metric, so
    metric_values can union them and a BI tool reads them all the same way. -#}

{#- numerator / denominator as a double; NULL when the denominator is 0 or NULL (no base, no rate). -#}
{% macro safe_ratio(numerator, denominator, scale=1) -%}
    case when {{ denominator }} > 0
        then cast({{ numerator }} as double) * {{ scale }} / {{ denominator }} end
{%- endmacro %}

{#- The model's own yml description, as a SQL string literal: the written definition lives in
    one place (the yml, which dbt docs shows) and the view returns the same words. -#}
{% macro metric_definition() -%}
    '{{ model.description | replace("'", "''") | replace("\n", " ") | trim }}'
{%- endmacro %}

{#- The common columns of a metric row. `period` is a relation with period_label,
    period_start and period_end (metric_period, or the as-of date for a point-in-time metric). -#}
{% macro metric_row(metric, numerator, denominator, value, unit) -%}
    cast('{{ metric }}' as {{ dbt.type_string() }}) as metric,
    p.period_label,
    p.period_start,
    p.period_end,
    cast({{ numerator }} as double) as numerator,
    cast({{ denominator }} as double) as denominator,
    cast({{ value }} as double) as value,
    cast('{{ unit }}' as {{ dbt.type_string() }}) as unit,
    {{ metric_definition() }} as definition
{%- endmacro %}
