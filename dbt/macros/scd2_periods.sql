{#-
    SCD type 2 periods from every delivered version of a versioned source entity.

    Each version states, at its business time (order_column), the values of tracked_columns
    for its key. A period opens at the first version of a key and at every version whose
    tracked values differ from the previous version's; it runs until the next period opens
    (valid_to exclusive, NULL while current). Versions that repeat the values extend the
    period (last_stated_at). History is rebuilt from every version on every run, so a version
    dated last month that arrives today lands in its own period and splits the one it falls in.

    Versions of one key at the same business time: the first by tie_breakers wins (default:
    the later delivery, by _loaded_at, _source_file, _row_number), so re-runs give identical
    tables. carried_columns come from the version that opened the period, loaded_at is its
    load time (business time and load time are kept apart).

    Output: key, tracked and carried columns, valid_from, valid_to, is_current,
    last_stated_at, version_count, loaded_at.
    Usage: `from {{ scd2_periods(ref('stg_billing__holdings'), 'holding_id', 'updated_at', ['status']) }} as h`
-#}
{% macro scd2_periods(relation, key, order_column, tracked_columns, carried_columns=[],
                      tie_breakers=['_loaded_at desc', '_source_file desc', '_row_number desc'],
                      loaded_at_column='_loaded_at') -%}
{%- set keys = [key] if key is string else key -%}
{%- set key_list = keys | join(', ') -%}
(
    select
        {%- for column in keys + tracked_columns + carried_columns %}
        {{ column }},
        {%- endfor %}
        valid_from,
        valid_to,
        case when valid_to is null then true else false end as is_current,
        last_stated_at,
        version_count,
        loaded_at
    from (
        select
            starts.*,
            lead(valid_from) over (partition by {{ key_list }} order by valid_from) as valid_to
        from (
            select
                numbered.*,
                {{ order_column }} as valid_from,
                {{ loaded_at_column }} as loaded_at,
                max({{ order_column }}) over (partition by {{ key_list }}, _period_no) as last_stated_at,
                count(*) over (partition by {{ key_list }}, _period_no) as version_count
            from (
                select
                    compared.*,
                    sum(_opens_period) over (
                        partition by {{ key_list }} order by {{ order_column }}
                        rows between unbounded preceding and current row
                    ) as _period_no
                from (
                    select
                        versions.*,
                        case
                            when row_number() over (partition by {{ key_list }} order by {{ order_column }}) = 1 then 1
                            {%- for column in tracked_columns %}
                            when {{ crm_cif.values_differ(column, 'lag(' ~ column ~ ') over (partition by ' ~ key_list ~ ' order by ' ~ order_column ~ ')') }} then 1
                            {%- endfor %}
                            else 0
                        end as _opens_period
                    from (
                        select tied.* from (
                            select
                                candidates.*,
                                row_number() over (
                                    partition by {{ key_list }}, {{ order_column }}
                                    order by {{ tie_breakers | join(', ') }}
                                ) as _tie_rank
                            from {{ relation }} as candidates
                            where {{ order_column }} is not null
                        ) as tied
                        where _tie_rank = 1
                    ) as versions
                ) as compared
            ) as numbered
        ) as starts
        where _opens_period = 1
    ) as periods
)
{%- endmacro %}


{#- a and b differ, a NULL on one side only counting as a difference (portable IS DISTINCT FROM). -#}
{% macro values_differ(a, b) -%}
({{ a }} <> {{ b }} or ({{ a }} is null and {{ b }} is not null) or ({{ a }} is not null and {{ b }} is null))
{%- endmacro %}
