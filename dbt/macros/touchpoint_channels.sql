{#- The channels that get a first/last touchpoint column in int_party_touchpoints and
    customer_360: one list, so the two cannot drift apart (a column customer_360 names must
    be one int_party_touchpoints computes). -#}
{% macro touchpoint_channels() -%}
    {{ return(['branch', 'web', 'mobile', 'call_centre', 'email', 'field_sales', 'back_office']) }}
{%- endmacro %}
