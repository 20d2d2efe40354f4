{#-
    Each party's touchpoints in figures: how many, the first and last, and the first and last per
    channel. Read by customer_360 and metric_prospect_cohort, which grouped the 42 M interactions
    of a million people each on every run (~6 s of customer_360's ~9 s).

    Incremental by party (macros/incremental_party_figures.sql): a daily run merges the day's rows
    into the kept figures of the parties that only gained rows and recounts the parties that lost a
    row or had one re-derived in place.
-#}
{%- set channels = touchpoint_channels() -%}

{%- set figures = [
    ['first_interaction_at', 'min(occurred_at)', 'min', dbt.type_timestamp()],
    ['last_interaction_at', 'max(occurred_at)', 'max', dbt.type_timestamp()],
] -%}
{%- for channel in channels -%}
    {%- do figures.append(['first_' ~ channel ~ '_at', "min(case when channel = '" ~ channel ~ "' then occurred_at end)", 'min', dbt.type_timestamp()]) -%}
    {%- do figures.append(['last_' ~ channel ~ '_at', "max(case when channel = '" ~ channel ~ "' then occurred_at end)", 'max', dbt.type_timestamp()]) -%}
{%- endfor %}
{{ incremental_party_figures(ref('fct_interactions'), 'interactions_total', figures) }}
