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
{%- set by_time = 'over (partition by ' ~ key_list ~ ' order by ' ~ order_column ~ ')' -%}
{#- One sort of every version by key and business time marks the versions that open and close
    a period; the later steps only see those boundary versions, so the cost stays one window
    pass over the versions however long the histories are. -#}
(
    select
        {%- for column in keys + tracked_columns + carried_columns %}
        {{ column }},
        {%- endfor %}
        {{ order_column }} as valid_from,
        valid_to,
        case when valid_to is null then true else false end as is_current,
        last_stated_at,
        version_count,
        {{ loaded_at_column }} as loaded_at
    from (
        select
            bounds.*,
            case when _closes_period = 1 then _next_at else lead(_next_at) over (partition by {{ key_list }} order by _version_no) end as valid_to,
            case when _closes_period = 1 then {{ order_column }}
                 else lead({{ order_column }}) over (partition by {{ key_list }} order by _version_no) end as last_stated_at,
            case when _closes_period = 1 then 1
                 else lead(_version_no) over (partition by {{ key_list }} order by _version_no) - _version_no + 1 end as version_count
        from (
            select *
            from (
                select
                    versions.*,
                    row_number() {{ by_time }} as _version_no,
                    lead({{ order_column }}) {{ by_time }} as _next_at,
                    case
                        when lag({{ order_column }}) {{ by_time }} is null then 1
                        {%- for column in tracked_columns %}
                        when {{ crm_cif.values_differ(column, 'lag(' ~ column ~ ') ' ~ by_time) }} then 1
                        {%- endfor %}
                        else 0
                    end as _opens_period,
                    case
                        when lead({{ order_column }}) {{ by_time }} is null then 1
                        {%- for column in tracked_columns %}
                        when {{ crm_cif.values_differ(column, 'lead(' ~ column ~ ') ' ~ by_time) }} then 1
                        {%- endfor %}
                        else 0
                    end as _closes_period
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
            ) as marked
            where _opens_period = 1 or _closes_period = 1
        ) as bounds
    ) as periods
    where _opens_period = 1
)
{%- endmacro %}


{#- a and b differ, a NULL on one side only counting as a difference (portable IS DISTINCT FROM). -#}
{% macro values_differ(a, b) -%}
({{ a }} <> {{ b }} or ({{ a }} is null and {{ b }} is not null) or ({{ a }} is not null and {{ b }} is null))
{%- endmacro %}
