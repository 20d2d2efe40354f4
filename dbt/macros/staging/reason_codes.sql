{#- Quarantine reason codes (COMMON.md): the codes, in the fixed (alphabetical) order in
    which they are listed in _quarantine_reasons. -#}
{% macro reason_code_order() -%}
    {{ return([
        'BAD_BOOLEAN', 'BAD_DATE', 'BAD_INTEGER', 'BAD_NUMBER', 'BAD_TIMESTAMP',
        'DUPLICATE_KEY', 'FUTURE_DATE', 'IMPOSSIBLE_DATE', 'MISSING_KEY',
        'NEGATIVE_AMOUNT', 'UNKNOWN_CODE',
    ]) }}
{%- endmacro %}


{#- Build the reason-code string of a row: `conditions` maps a code to a list of SQL boolean
    expressions; the code is listed when any of them is true. Codes come out in
    reason_code_order(), comma-separated, each once; NULL when none applies. Portable: only
    CASE, concatenation and substr. -#}
{% macro reason_codes(conditions) -%}
    {%- set parts = [] -%}
    {%- for code in crm_cif.reason_code_order() if conditions.get(code) -%}
        {%- do parts.append("case when (" ~ (conditions[code] | join(") or (")) ~ ") then '," ~ code ~ "' else '' end") -%}
    {%- endfor -%}
    {%- if parts -%}
        nullif(substr({{ dbt.concat(parts) if parts | length > 1 else parts[0] }}, 2), '')
    {%- else -%}
        cast(null as {{ dbt.type_string() }})
    {%- endif -%}
{%- endmacro %}


{#- The reference date FUTURE_DATE and IMPOSSIBLE_DATE compare with: today, or
    var('staging_reference_date') ('YYYY-MM-DD') to replay a past day reproducibly. -#}
{% macro staging_reference_date() -%}
    {%- set fixed = var('staging_reference_date', none) -%}
    {%- if fixed -%}cast('{{ fixed }}' as date){%- else -%}current_date{%- endif -%}
{%- endmacro %}
