{#-
    The attributes of the golden record (int_party_golden). One place, because the model
    builds a column per attribute and a test checks that seed survivorship_rules has a rule
    for each of them and for nothing else.
-#}
{% macro golden_attributes() -%}
    {{ return(['first_name', 'last_name', 'full_name', 'date_of_birth', 'email', 'phone', 'address_line', 'city', 'postcode']) }}
{%- endmacro %}
