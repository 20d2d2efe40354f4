{#-
    SCD type 2 periods for an entity delivered as full extracts (the whole table each time) or
    kept as full snapshots (one per run date): a key missing from a snapshot was deleted.

    relation    the rows of every snapshot, with delivery_id, the key and tracked_columns
                (and row_order, to pick one row when a snapshot holds a key twice: the last wins)
    deliveries  one row per snapshot: delivery_id, delivery_date (its business date),
                delivery_loaded_at; empty snapshots included: an empty full extract deletes all

    Snapshots of the same business date: the later loaded one supersedes the others (a
    corrected re-delivery), so every business date is one snapshot. A period opens when a key
    appears, reappears after an absence, or its tracked values change. It ends at the business
    date of the next snapshot that changes it (valid_to exclusive) or that no longer holds the
    key: then is_deleted is true and deleted_at is that date. A key in the latest snapshot is
    current (valid_to NULL).

    Output: key, tracked columns, valid_from, valid_to, is_current, is_deleted, deleted_at,
    last_delivered_on (last snapshot that held the period), loaded_at (load time of the
    snapshot that opened it).
-#}
{% macro full_extract_history(relation, key, tracked_columns, deliveries, row_order='_row_number') -%}
{%- set keys = [key] if key is string else key -%}
{%- set key_list = keys | join(', ') -%}
(
    with

    _snapshots as (
        select delivery_id, delivery_date, delivery_loaded_at,
            row_number() over (order by delivery_date) as _snapshot_no
        from (
            select d.delivery_id, d.delivery_date, d.delivery_loaded_at,
                row_number() over (
                    partition by d.delivery_date order by d.delivery_loaded_at desc, d.delivery_id desc
                ) as _day_rank
            from {{ deliveries }} as d
            where d.delivery_date is not null
        ) as by_day
        where _day_rank = 1
    ),

    _held as (
        select
            {%- for column in keys + tracked_columns %}
            r.{{ column }},
            {%- endfor %}
            s._snapshot_no
            {%- if row_order %},
            row_number() over (
                partition by {% for k in keys %}r.{{ k }}, {% endfor %}s._snapshot_no order by r.{{ row_order }} desc
            ) as _row_rank
            {%- endif %}
        from {{ relation }} as r
        join _snapshots as s on s.delivery_id = r.delivery_id
    ),

    {#- one sort by key and snapshot marks the rows that open a period (first, back after an
        absence, changed) and close one (last, absent next time, changed next time) -#}
    {%- set by_snapshot = 'over (partition by ' ~ key_list ~ ' order by _snapshot_no)' %}
    _bounds as (
        select * from (
            select
                _held.*,
                lead(_snapshot_no) {{ by_snapshot }} as _next_no,
                case
                    when lag(_snapshot_no) {{ by_snapshot }} is null then 1
                    when lag(_snapshot_no) {{ by_snapshot }} <> _snapshot_no - 1 then 1
                    {%- for column in tracked_columns %}
                    when {{ crm_cif.values_differ(column, 'lag(' ~ column ~ ') ' ~ by_snapshot) }} then 1
                    {%- endfor %}
                    else 0
                end as _opens_period,
                case
                    when lead(_snapshot_no) {{ by_snapshot }} is null then 1
                    when lead(_snapshot_no) {{ by_snapshot }} <> _snapshot_no + 1 then 1
                    {%- for column in tracked_columns %}
                    when {{ crm_cif.values_differ(column, 'lead(' ~ column ~ ') ' ~ by_snapshot) }} then 1
                    {%- endfor %}
                    else 0
                end as _closes_period
            from _held
            {%- if row_order %}
            where _row_rank = 1
            {%- endif %}
        ) as marked
        where _opens_period = 1 or _closes_period = 1
    ),

    {#- the boundary row after an opener that does not close its period is its closer -#}
    _periods as (
        select * from (
            select
                {%- for column in keys + tracked_columns %}
                {{ column }},
                {%- endfor %}
                _opens_period,
                _snapshot_no as _first_no,
                case when _closes_period = 1 then _snapshot_no else lead(_snapshot_no) {{ by_snapshot }} end as _last_no,
                case when _closes_period = 1 then _next_no else lead(_next_no) {{ by_snapshot }} end as _next_held_no
            from _bounds
        ) as spans
        where _opens_period = 1
    )

    select
        {%- for column in keys + tracked_columns %}
        p.{{ column }},
        {%- endfor %}
        opened.delivery_date as valid_from,
        closing.delivery_date as valid_to,
        case when closing.delivery_id is null then true else false end as is_current,
        case when closing.delivery_id is not null and p._next_held_no is null then true
             when closing.delivery_id is not null and p._next_held_no <> p._last_no + 1 then true
             else false end as is_deleted,
        case when closing.delivery_id is not null and (p._next_held_no is null or p._next_held_no <> p._last_no + 1)
             then closing.delivery_date end as deleted_at,
        last_held.delivery_date as last_delivered_on,
        opened.delivery_loaded_at as loaded_at
    from _periods as p
    join _snapshots as opened on opened._snapshot_no = p._first_no
    join _snapshots as last_held on last_held._snapshot_no = p._last_no
    left join _snapshots as closing on closing._snapshot_no = p._last_no + 1
)
{%- endmacro %}


{#- The deliveries of one registry entity from the file ledger: loaded and empty files, with
    the business date in the file name. delivery_id = batch id | file, as in dbt.concat. -#}
{% macro file_deliveries(source_system, source_entity) -%}
(
    select
        {{ dbt.concat(['batch_id', "'|'", 'source_file']) }} as delivery_id,
        business_date as delivery_date,
        loaded_at as delivery_loaded_at
    from {{ source('ingest', 'file_ledger') }}
    where source = '{{ source_system }}' and entity = '{{ source_entity }}'
        and status in ('loaded', 'empty')
)
{%- endmacro %}
