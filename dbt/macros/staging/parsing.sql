{#- Parsing text into typed values. Each returns NULL when the text does not parse, so a
    caller can tell "empty" (input NULL) from "bad" (input not NULL, output NULL). Formats are
    the registry's spellings (Entity.date_format, Entity.timestamp_format). -#}

{% macro _unknown_format(kind, fmt) -%}
    {{ exceptions.raise_compiler_error("unsupported " ~ kind ~ " format '" ~ fmt ~ "'") }}
{%- endmacro %}


{#- Dates: 'YYYY-MM-DD' or 'DD/MM/YYYY'; impossible dates such as 31/02/2025 give NULL. -#}
{% macro parse_date(expr, fmt='YYYY-MM-DD') -%}
    {{ return(adapter.dispatch('parse_date', 'crm_cif')(expr, fmt)) }}
{%- endmacro %}

{% macro duckdb__parse_date(expr, fmt) -%}
    {%- set formats = {'YYYY-MM-DD': '%Y-%m-%d', 'DD/MM/YYYY': '%d/%m/%Y'} -%}
    {%- if fmt not in formats %}{{ crm_cif._unknown_format('date', fmt) }}{% endif -%}
    cast(try_strptime({{ expr }}, '{{ formats[fmt] }}') as date)
{%- endmacro %}

{#- Spark: to_date gives NULL on bad input with spark.sql.ansi.enabled=false. -#}
{% macro default__parse_date(expr, fmt) -%}
    {%- set formats = {'YYYY-MM-DD': 'yyyy-MM-dd', 'DD/MM/YYYY': 'd/M/yyyy'} -%}
    {%- if fmt not in formats %}{{ crm_cif._unknown_format('date', fmt) }}{% endif -%}
    to_date({{ expr }}, '{{ formats[fmt] }}')
{%- endmacro %}


{#- Timestamps: ISO 'YYYY-MM-DDTHH:MM:SS' (also with a space instead of the T, as Parquet
    timestamps read as text give, and with fractional seconds or without seconds) or
    'DD/MM/YYYY HH:MM' (seconds optional). -#}
{% macro parse_timestamp(expr, fmt='YYYY-MM-DDTHH:MM:SS') -%}
    {{ return(adapter.dispatch('parse_timestamp', 'crm_cif')(expr, fmt)) }}
{%- endmacro %}

{% macro duckdb__parse_timestamp(expr, fmt) -%}
    {%- set formats = {
        'YYYY-MM-DDTHH:MM:SS': ['%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S', '%Y-%m-%dT%H:%M:%S.%f',
                                '%Y-%m-%d %H:%M:%S.%f', '%Y-%m-%dT%H:%M', '%Y-%m-%d %H:%M'],
        'DD/MM/YYYY HH:MM': ['%d/%m/%Y %H:%M', '%d/%m/%Y %H:%M:%S'],
    } -%}
    {%- if fmt not in formats %}{{ crm_cif._unknown_format('timestamp', fmt) }}{% endif -%}
    cast(try_strptime({{ expr }}, ['{{ formats[fmt] | join("', '") }}']) as timestamp)
{%- endmacro %}

{% macro default__parse_timestamp(expr, fmt) -%}
    {%- set formats = {
        'YYYY-MM-DDTHH:MM:SS': ["yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]", 'yyyy-MM-dd HH:mm:ss[.SSSSSS]',
                                "yyyy-MM-dd'T'HH:mm", 'yyyy-MM-dd HH:mm'],
        'DD/MM/YYYY HH:MM': ['d/M/yyyy HH:mm', 'd/M/yyyy HH:mm:ss'],
    } -%}
    {%- if fmt not in formats %}{{ crm_cif._unknown_format('timestamp', fmt) }}{% endif -%}
    coalesce(
        {%- for f in formats[fmt] %}
        to_timestamp({{ expr }}, "{{ f }}"){{ ',' if not loop.last }}
        {%- endfor %}
    )
{%- endmacro %}


{#- Booleans: true/false, t/f, yes/no, y/n, 1/0 in any case. -#}
{% macro parse_boolean(expr) -%}
    case
        when lower(trim({{ expr }})) in ('true', 't', 'yes', 'y', '1') then true
        when lower(trim({{ expr }})) in ('false', 'f', 'no', 'n', '0') then false
    end
{%- endmacro %}


{#- A cast that gives NULL instead of failing. dbt-duckdb's dbt.safe_cast is a plain cast
    (which fails on bad text), so DuckDB gets try_cast; other engines use dbt.safe_cast
    (dbt-spark: try_cast / a cast that is NULL on failure outside ANSI mode). -#}
{% macro cast_or_null(expr, type) -%}
    {{ return(adapter.dispatch('cast_or_null', 'crm_cif')(expr, type)) }}
{%- endmacro %}

{% macro duckdb__cast_or_null(expr, type) -%}
    try_cast({{ expr }} as {{ type }})
{%- endmacro %}

{% macro default__cast_or_null(expr, type) -%}
    {{ dbt.safe_cast(expr, type) }}
{%- endmacro %}


{#- Amounts: DECIMAL(18,2) (COMMON.md typing). -#}
{% macro parse_decimal(expr) -%}
    {{ crm_cif.cast_or_null(expr, 'decimal(18,2)') }}
{%- endmacro %}


{#- Whole numbers only: '12' and '12.0' parse, '12.5' does not (a cast would round it). -#}
{% macro parse_integer(expr) -%}
    case
        when {{ crm_cif.regex_matches('trim(' ~ expr ~ ')', '^[+-]?[0-9]+([.]0*)?$') }}
            then {{ crm_cif.cast_or_null('trim(' ~ expr ~ ')', dbt.type_bigint()) }}
    end
{%- endmacro %}
