{#- An SCD type 2 history has at most one current row per key, and a row is current exactly
    when its period is open (valid_to NULL). Returns the offending keys. -#}
{% test at_most_one_current(model, key_columns, current_flag='is_current', valid_to='valid_to') %}
select
    {{ key_columns | join(', ') }},
    sum(case when {{ current_flag }} then 1 else 0 end) as current_rows,
    sum(case when {{ current_flag }} and {{ valid_to }} is not null then 1
             when not {{ current_flag }} and {{ valid_to }} is null then 1 else 0 end) as inconsistent_rows
from {{ model }}
group by {{ key_columns | join(', ') }}
having sum(case when {{ current_flag }} then 1 else 0 end) > 1
    or sum(case when {{ current_flag }} and {{ valid_to }} is not null then 1
                when not {{ current_flag }} and {{ valid_to }} is null then 1 else 0 end) > 0
{% endtest %}
