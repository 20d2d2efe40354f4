{#-
    The address that makes a household, normalised so that typing differences do not split
    one: the address line in lower case, punctuation dropped, runs of spaces collapsed, a
    trailing street-type abbreviation spelled out (rd -> road, st -> street, ...), then '|' and
    the postcode without spaces (the city when there is no postcode). Used by the current
    households (int_household_members) and their history (hist_household_members).
-#}
{% macro household_address_key(alias) -%}
{%- set street_types = {'rd': 'road', 'st': 'street', 'ave': 'avenue', 'av': 'avenue', 'cres': 'crescent',
                        'cl': 'close', 'dr': 'drive', 'ln': 'lane', 'blvd': 'boulevard'} -%}
{%- set ns = namespace(line=crm_cif.regex_replace_all("lower(trim(" ~ alias ~ ".address_line))", "[.,#;:]", " ")) -%}
{%- set ns.line = "trim(" ~ crm_cif.regex_replace_all(ns.line, "[ ]+", " ") ~ ")" -%}
{%- for short, long in street_types.items() -%}
    {%- set ns.line = crm_cif.regex_replace_all(ns.line, "[ ]" ~ short ~ "$", " " ~ long) -%}
{%- endfor -%}
{{ dbt.concat([ns.line, "'|'", "coalesce(" ~ crm_cif.regex_replace_all("lower(" ~ alias ~ ".postcode)", "[ ]", "") ~ ", lower(trim(" ~ alias ~ ".city)), '')"]) }}
{%- endmacro %}

{#- The household id of an anchor party: 'H' + 16 hex of a hash of its party_id. -#}
{% macro household_id(anchor_party_id) -%}
{{ dbt.concat(["'H'", "substr(" ~ dbt.hash(anchor_party_id) ~ ", 1, 16)"]) }}
{%- endmacro %}
