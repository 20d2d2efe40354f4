{#-
    Per-party figures of a fact, kept incrementally (int_party_touchpoints, int_party_revenue): a
    count and figures that merge (a sum, a min, a max) of the party's rows, plus
    `refreshed_through`, the newest `refreshed_at` of those rows (the facts' write time, the
    watermark of the next run).

    Incremental by party (delete+insert on party_id): a daily run recomputes the parties whose
    rows can have changed since the table was built, and only those:
      - the party of every row written since (refreshed_at after the newest `refreshed_through`
        here): new rows, new versions, rows that moved to the party;
      - every party whose count differs from the kept one: a party that lost a row (it moved to
        another party, or lost its identifier) without gaining one. A lost row leaves no trace in
        the fact (delete+insert by key), so this one count per party over the whole fact is what
        makes the rule complete.
    A party whose count grew by exactly its rows written since (from none for a party new here)
    only gained rows (new ones, or ones that moved to it): none left it and none was re-derived in
    place (either would make the growth smaller than the rows written), so its other rows are those
    the kept figures describe, and its figures are the kept ones merged with the written rows'. Only
    the other changed parties are recounted from all their rows. Why: a day's ~56 k parties of the
    interactions read ~5 M rows at a million people and two years, a number that grows with the
    history; the merge reads the day's rows (int_party_touchpoints' query alone 4.1 -> 2.7 s).
    A recounted party left with no rows gets a row with a count of 0, which the post-hook deletes:
    the table holds exactly the parties a full build gives.

    The macro sets its model's config (incremental by party, that post-hook, built with the marts'
    layer: stored in integration, which the serving copies leave out, built with the marts it
    serves; dagster_project/dbt_assets.py LayerTranslator): the rule above needs all of it.

    incremental_party_figures(fact, total, figures, condition)
      fact       the fact relation (party_id, refreshed_at and the columns the figures read)
      total      the name of the count column
      figures    list of [name, aggregate over the rows, 'sum' | 'min' | 'max', SQL type]
      condition  rows that count (SQL on the fact's columns; none = all with a party)
-#}
{% macro incremental_party_figures(fact, total, figures, condition=none) -%}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    post_hook='delete from {{ this }} where ' ~ total ~ ' = 0',
    meta={'layer': 'marts'},
) }}
{%- set counted_rows = 'party_id is not null' ~ ('' if condition is none else ' and (' ~ condition ~ ')') -%}
{%- set all_figures = figures + [['refreshed_through', 'max(refreshed_at)', 'max', dbt.type_timestamp()]] -%}
with

{% if is_incremental() -%}
written as (
    select * from {{ fact }}
    where {{ counted_rows }} and refreshed_at > {{ fact_watermark('refreshed_through') }}
),

written_totals as (
    select party_id, count(*) as written_total from written group by party_id
),

changed_parties as (
    select coalesce(now_side.party_id, kept.party_id) as party_id,
        case when now_side.{{ total }} - coalesce(kept.{{ total }}, 0) = w.written_total
            then 1 else 0 end as only_gained
    from (
        select party_id, count(*) as {{ total }}
        from {{ fact }}
        where {{ counted_rows }}
        group by party_id
    ) as now_side
    full outer join {{ this }} as kept on kept.party_id = now_side.party_id
    left join written_totals as w on w.party_id = coalesce(now_side.party_id, kept.party_id)
    where w.party_id is not null or now_side.{{ total }} is distinct from kept.{{ total }}
),

{% endif -%}
recounted_rows as (
    select * from {{ fact }}
    where {{ counted_rows }}
    {%- if is_incremental() %}
        and party_id in (select party_id from changed_parties where only_gained = 0)
    {%- endif %}
),

counted as (
    {{ crm_cif._party_figures('recounted_rows', total, all_figures) }}
){% if is_incremental() %},

-- the parties that only gained rows: their kept figures and their written rows' figures, merged
merged as (
    select party_id,
        cast(sum({{ total }}) as {{ dbt.type_bigint() }}) as {{ total }},
        {%- for name, aggregate, merge, type in all_figures %}
        {% if merge == 'sum' %}cast(sum({{ name }}) as {{ type }}){% else %}{{ merge }}({{ name }}){% endif %} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        -- the kept columns by name, in the order _party_figures gives them
        select party_id, {{ total }},
            {%- for name, aggregate, merge, type in all_figures %} {{ name }}{{ ',' if not loop.last }}{% endfor %}
        from {{ this }}
        where party_id in (select party_id from changed_parties where only_gained = 1)
        union all
        select * from (
            {{ crm_cif._party_figures('written', total, all_figures) }}
        ) as gained
        where party_id in (select party_id from changed_parties where only_gained = 1)
    ) as parts
    group by party_id
){% endif %}

select * from counted
{%- if is_incremental() %}
union all
select * from merged
union all
-- a recounted party with no rows left: a row to replace its old one (deleted by the post-hook)
select c.party_id, 0,
    {%- for name, aggregate, merge, type in all_figures %}
    cast(null as {{ type }}){{ ',' if not loop.last }}
    {%- endfor %}
from changed_parties as c
where c.only_gained = 0 and c.party_id not in (select party_id from counted)
{%- endif %}
{%- endmacro %}


{#- party_id, the count and the figures of `relation`'s rows per party. -#}
{% macro _party_figures(relation, total, figures) -%}
    select party_id,
        count(*) as {{ total }},
        {%- for name, aggregate, merge, type in figures %}
        {{ aggregate }} as {{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    group by party_id
{%- endmacro %}
