{#-
    The mapping an incremental model was last built with, kept beside the mapping itself, so the
    next run can tell which keys moved. Used by the incremental facts (identifier -> party,
    macros/incremental_facts.sql) and the incremental golden history (record -> party,
    macros/incremental_by_party.sql).

    `<mapping schema>.<this model>__<suffix>` holds `columns` of `mapping` as of the model's last
    build; a post-hook writes it in the same transaction as the model's rows.
-#}

{% macro applied_mapping_relation(mapping, suffix) -%}
    {{ return(api.Relation.create(database=mapping.database, schema=mapping.schema,
                                  identifier=this.identifier ~ '__' ~ suffix, type='table')) }}
{%- endmacro %}


{#- Rows (of `columns`) in the mapping now or at the last build but not both: what gained or lost
    a key. Missing (first run after an upgrade): every row of the mapping counts as changed. -#}
{% macro changed_mapping_rows(mapping, columns, suffix) -%}
    {%- set applied = applied_mapping_relation(mapping, suffix) -%}
    {%- set exists = adapter.get_relation(database=applied.database, schema=applied.schema,
                                          identifier=applied.identifier) if execute else none -%}
    {%- set column_list = columns | join(', ') -%}
    {%- if exists is none -%}
    select {{ column_list }} from {{ mapping }}
    {%- else -%}
    select {{ column_list }} from (
        select {{ column_list }} from {{ mapping }}
        except
        select {{ column_list }} from {{ applied }}
    ) as gained
    union all
    select {{ column_list }} from (
        select {{ column_list }} from {{ applied }}
        except
        select {{ column_list }} from {{ mapping }}
    ) as lost
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: keep the mapping this build used. -#}
{% macro save_applied_mapping(mapping, columns, suffix) -%}
    {%- set applied = applied_mapping_relation(mapping, suffix) -%}
    drop table if exists {{ applied }};
    create table {{ applied }} as select {{ columns | join(', ') }} from {{ mapping }}
{%- endmacro %}
