{#- Every row satisfies a SQL condition; the failing rows are returned. Works on a model or
    on a column (the condition then usually mentions the column). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}
