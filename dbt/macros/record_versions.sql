{#-
    Every version of each business key of a versioned source entity, with its business-time
    validity: valid_from = the version's own timestamp, valid_to = the next version's
    timestamp (NULL while current). Versions are ordered as latest_versions orders them (time,
    then later delivery), so the current version here is latest_versions' pick; a version
    superseded at the same instant gets valid_to = valid_from and is never current.
    Usage: `from {{ record_versions(ref('stg_web__users'), 'user_id') }} as versions`
-#}
{% macro record_versions(relation, key, order_column='updated_at') -%}
(
    select versions.*,
        {{ order_column }} as valid_from,
        lead({{ order_column }}) over (
            partition by {{ key }}
            order by {{ order_column }}, _loaded_at, _source_file, _row_number
        ) as valid_to
    from {{ relation }} as versions
)
{%- endmacro %}
