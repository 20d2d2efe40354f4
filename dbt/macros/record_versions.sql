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


{#- `relation` cut to the keys with a row loaded after `watermark` (every row of those keys, so
    their versions' validity is recomputed whole); the relation itself when not incremental. -#}
{% macro rows_of_keys_loaded_since(relation, key, watermark) -%}
    {%- if is_incremental() -%}
    (select * from {{ relation }} where {{ key }} in (select {{ key }} from {{ relation }} where _loaded_at > {{ watermark }}))
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- The watermark of a model with trust_rank in every row: the newest version load time it was built
    from, or 1900 (recompute all) when seed source_trust differs from the one it was built with.
    The load time is the model's own newest _loaded_at (int_party_record_versions), or, given
    `versions`, the newest load time of those versions its last build saw (loaded_through:
    int_party_records, which keeps no load time). -#}
{% macro record_versions_watermark(versions=none) -%}
    {%- if execute and is_incremental() -%}
        {%- set changed = run_query('select count(*) from (' ~ changed_mapping_rows(ref('source_trust'), column_names(ref('source_trust')), 'source_trust') ~ ') as changed').columns[0].values()[0] -%}
        {%- if changed > 0 -%}
            {{ return("cast('1900-01-01 00:00:00' as timestamp)") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(fact_watermark('_loaded_at') if versions is none else loaded_through(versions)) }}
{%- endmacro %}


{#- The records of int_party_record_versions (`versions`) with a version loaded after `watermark`:
    the records an incremental per-record model re-derives. -#}
{% macro records_loaded_since(versions, watermark) -%}
    select record_id from {{ versions }} where _loaded_at > {{ watermark }}
{%- endmacro %}
