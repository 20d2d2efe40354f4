{#-
    A name typed all in capitals or all in lower case, shown capitalised ("MUSA" becomes
    "Musa", "ada" becomes "Ada"). Mixed case is kept, since "McDonald" or
    "van der Berg" were typed that way on purpose.
-#}
{% macro display_case(column) -%}
    case
        when {{ column }} = upper({{ column }}) or {{ column }} = lower({{ column }})
            then {{ crm_cif.capitalize_words(column) }}
        else {{ column }}
    end
{%- endmacro %}

{% macro capitalize_words(column) -%}
    {{ return(adapter.dispatch('capitalize_words', 'crm_cif')(column)) }}
{%- endmacro %}

{% macro default__capitalize_words(column) -%}
    initcap({{ column }})
{%- endmacro %}

{% macro duckdb__capitalize_words(column) -%}
    array_to_string(list_transform(string_split(lower({{ column }}), ' '), lambda w: upper(left(w, 1)) || substr(w, 2)), ' ')
{%- endmacro %}
