{#- SCD type 2 periods of one key never overlap: each period is non-empty (valid_to after
    valid_from, valid_to exclusive), only the last period of a key may be open (valid_to NULL),
    and each period ends on or before the next one starts. The failing periods are returned. -#}
{% test no_overlapping_periods(model, key_columns, valid_from='valid_from', valid_to='valid_to') %}
select *
from (
    select
        {{ key_columns | join(', ') }},
        {{ valid_from }} as period_from,
        {{ valid_to }} as period_to,
        lead({{ valid_from }}) over (partition by {{ key_columns | join(', ') }} order by {{ valid_from }}) as next_from
    from {{ model }}
) as periods
where (period_to is not null and period_to <= period_from)
    or (next_from is not null and (period_to is null or period_to > next_from))
{% endtest %}
