{#-
    The current version of each business key of a versioned source entity (one delivered row
    per change, with updated_at). Ties on updated_at go to the later delivery.
    Usage: `from {{ latest_versions(ref('stg_web__users'), 'user_id') }} as users`
-#}
{% macro latest_versions(relation, key, order_column='updated_at') -%}
(
    select * from (
        select versions.*,
            row_number() over (
                partition by {{ key }}
                order by {{ order_column }} desc, _loaded_at desc, _source_file desc, _row_number desc
            ) as version_rank
        from {{ relation }} as versions
    ) as ranked
    where version_rank = 1
)
{%- endmacro %}
