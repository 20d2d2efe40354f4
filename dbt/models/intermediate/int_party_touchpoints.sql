{#-
    Each party's touchpoints in figures: how many, the first and last, and the first and last per
    channel. Read by customer_360 and metric_prospect_cohort, which grouped the 42 M interactions
    of a million people each on every run (~6 s of customer_360's ~9 s).

    Incremental by party (delete+insert): a daily run recomputes the parties whose interactions
    can have changed since this table was built, and only those:
      - the party of every interaction written since (fct_interactions.refreshed_at after the
        newest `refreshed_through` here): new rows, new versions, rows that moved to the party;
      - every party whose count of interactions differs from `interactions_total` here: a party
        that lost a row (it moved to another party, or lost its identifier) without gaining one.
        A lost row leaves no trace in the fact (delete+insert by interaction_id), so this one count
        per party (~2 s at a million people) is what makes the rule complete.
    A party whose count grew by exactly its rows written since (from none for a party new here)
    only gained rows (new ones, or ones that moved to it): none left it and none was re-derived in
    place (either would make the growth smaller than the rows written), so its other rows are those
    the kept figures describe, and its figures are the kept ones merged with the written rows'. Only the other changed parties are
    recounted from all their rows: a day's ~56 k parties read ~5 M rows at a million people and
    two years of history, a number that grows with the history; the merge reads the day's rows.
    A party left with no interactions gets a row with interactions_total 0, which the post-hook
    deletes: the table holds exactly the parties a full build gives.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='party_id',
    on_schema_change='fail',
    post_hook="delete from {{ this }} where interactions_total = 0",
    meta={'layer': 'marts'},
) }}
{#- layer: built with the marts it serves (dagster_project/dbt_assets.py LayerTranslator); stored in
    integration, which the serving copies leave out: analysts read the figures in customer_360. -#}
{%- set channels = touchpoint_channels() -%}

with

{% if is_incremental() -%}
written as (
    select party_id, channel, occurred_at, refreshed_at
    from {{ ref('fct_interactions') }}
    where party_id is not null and refreshed_at > {{ fact_watermark('refreshed_through') }}
),

written_totals as (
    select party_id, count(*) as written_total from written group by party_id
),

changed_parties as (
    select coalesce(now_side.party_id, kept.party_id) as party_id,
        case when now_side.interactions_total - coalesce(kept.interactions_total, 0) = w.written_total
            then 1 else 0 end as only_gained
    from (
        select party_id, count(*) as interactions_total
        from {{ ref('fct_interactions') }}
        where party_id is not null
        group by party_id
    ) as now_side
    full outer join {{ this }} as kept on kept.party_id = now_side.party_id
    left join written_totals as w on w.party_id = coalesce(now_side.party_id, kept.party_id)
    where w.party_id is not null or now_side.interactions_total is distinct from kept.interactions_total
),

{% endif -%}
interactions as (
    select party_id, channel, occurred_at, refreshed_at
    from {{ ref('fct_interactions') }}
    where party_id is not null
    {%- if is_incremental() %}
        and party_id in (select party_id from changed_parties where only_gained = 0)
    {%- endif %}
),

counted as (
    {{ touchpoint_figures('interactions', channels) }}
){% if is_incremental() %},

-- the parties that only gained rows: their kept figures and their written rows' figures, merged
merged as (
    select party_id,
        cast(sum(interactions_total) as {{ dbt.type_bigint() }}) as interactions_total,
        min(first_interaction_at) as first_interaction_at,
        max(last_interaction_at) as last_interaction_at,
        {%- for channel in channels %}
        min(first_{{ channel }}_at) as first_{{ channel }}_at,
        max(last_{{ channel }}_at) as last_{{ channel }}_at,
        {%- endfor %}
        max(refreshed_through) as refreshed_through
    from (
        select * from {{ this }}
        where party_id in (select party_id from changed_parties where only_gained = 1)
        union all
        select * from (
            {{ touchpoint_figures('written', channels) }}
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
-- a changed party with no interactions left: a row to replace its old one (deleted by the post-hook)
select c.party_id, 0,
    cast(null as {{ dbt.type_timestamp() }}), cast(null as {{ dbt.type_timestamp() }}),
    {%- for channel in channels %}
    cast(null as {{ dbt.type_timestamp() }}), cast(null as {{ dbt.type_timestamp() }}),
    {%- endfor %}
    cast(null as {{ dbt.type_timestamp() }})
from changed_parties as c
where c.only_gained = 0 and c.party_id not in (select party_id from counted)
{%- endif %}
