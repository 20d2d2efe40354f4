{#- Standardisation of text values (COMMON.md, Staging). Each takes a SQL expression and
    returns one; all of them turn empty or blank text into NULL. -#}

{#- Trimmed text, '' -> NULL. -#}
{% macro clean_string(expr) -%}
    nullif(trim({{ expr }}), '')
{%- endmacro %}


{#- A person's or organisation's name: trimmed, inner whitespace collapsed, case kept. -#}
{% macro clean_name(expr) -%}
    nullif(trim({{ crm_cif.regex_replace_all(expr, '[ \\t\\r\\n]+', ' ') }}), '')
{%- endmacro %}


{#- A code from a closed list: trimmed and lower-case. -#}
{% macro normalize_code(expr) -%}
    lower({{ crm_cif.clean_string(expr) }})
{%- endmacro %}


{#- A code whose reference data is upper-case (product and branch codes, currencies). -#}
{% macro normalize_upper_code(expr) -%}
    upper({{ crm_cif.clean_string(expr) }})
{%- endmacro %}


{#- An email address: trimmed, lower-case, NULL when it is not a plausible address. -#}
{% macro normalize_email(expr) -%}
    {%- set email = 'lower(' ~ crm_cif.clean_string(expr) ~ ')' -%}
    case
        when {{ crm_cif.regex_matches(email, '^[a-z0-9._%+-]+@[a-z0-9-]+([.][a-z0-9-]+)*[.][a-z]{2,}$') }}
            then {{ email }}
    end
{%- endmacro %}


{#- A phone number in E.164 (+<country code><number>), NULL unless it has 8-15 digits.
    '+234 803 123 4567', '2348031234567', '08031234567', '0803-123-4567', '(0803) 123 4567'
    and '+234 (0)803 123 4567' all become '+2348031234567'. A national number (a leading 0
    and 7+ more digits, or 7-10 digits without a country code) gets
    var('default_country_code'); '00' is the international prefix; a trunk 0 right after the
    default country code is dropped; anything shorter (e.g. '12345') is NULL. -#}
{% macro normalize_phone(expr) -%}
    {%- set cc = var('default_country_code') | string -%}
    {%- set digits = crm_cif.regex_replace_all(expr, '[^0-9]', '') -%}
    {%- set e164_digits -%}
        case
            when {{ digits }} like '{{ cc }}0%' then {{ dbt.concat(["'" ~ cc ~ "'", 'substr(' ~ digits ~ ', ' ~ (cc | length + 2) ~ ')']) }}
            when trim({{ expr }}) like '+%' then {{ digits }}
            when {{ digits }} like '00%' then substr({{ digits }}, 3)
            when {{ digits }} like '0%' and length({{ digits }}) >= 8 then {{ dbt.concat(["'" ~ cc ~ "'", 'substr(' ~ digits ~ ', 2)']) }}
            when {{ digits }} like '{{ cc }}%' then {{ digits }}
            when length({{ digits }}) between 7 and 10 then {{ dbt.concat(["'" ~ cc ~ "'", digits]) }}
            else {{ digits }}
        end
    {%- endset -%}
    case
        when length({{ e164_digits }}) between 8 and 15 then {{ dbt.concat(["'+'", e164_digits]) }}
    end
{%- endmacro %}


{#- A contact point whose kind is given by another column ('email', 'phone', anything else
    such as 'account_number' is kept as trimmed text). -#}
{% macro normalize_contact_point(expr, type_expr) -%}
    case {{ crm_cif.normalize_code(type_expr) }}
        when 'email' then {{ crm_cif.normalize_email(expr) }}
        when 'phone' then {{ crm_cif.normalize_phone(expr) }}
        else {{ crm_cif.clean_string(expr) }}
    end
{%- endmacro %}
