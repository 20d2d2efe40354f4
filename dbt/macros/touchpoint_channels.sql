{#- The channels that get a first/last touchpoint column in int_party_touchpoints and
    customer_360: one list, so the two cannot drift apart (a column customer_360 names must
    be one int_party_touchpoints computes). -#}
{% macro touchpoint_channels() -%}
    {{ return(['branch', 'web', 'mobile', 'call_centre', 'email', 'field_sales', 'back_office']) }}
{%- endmacro %}


{#- Per party figures of the touchpoints in `relation` (party_id, channel, occurred_at, refreshed_at):
    int_party_touchpoints' columns, in its order. -#}
{% macro touchpoint_figures(relation, channels) -%}
    select party_id,
        count(*) as interactions_total,
        min(occurred_at) as first_interaction_at,
        max(occurred_at) as last_interaction_at,
        {%- for channel in channels %}
        min(case when channel = '{{ channel }}' then occurred_at end) as first_{{ channel }}_at,
        max(case when channel = '{{ channel }}' then occurred_at end) as last_{{ channel }}_at,
        {%- endfor %}
        max(refreshed_at) as refreshed_through
    from {{ relation }}
    group by party_id
{%- endmacro %}
