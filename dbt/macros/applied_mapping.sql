{#-
    The mapping an incremental model was last built with, kept beside the mapping itself, so the
    next run can tell which keys moved. Used by the incremental facts (identifier -> party,
    macros/incremental_facts.sql) and the incremental golden history (record -> party,
    macros/incremental_by_party.sql).

    `<mapping schema>.<this model>__<suffix>` holds `columns` of `mapping` as of the model's last
    build; a post-hook writes it in the same transaction as the model's rows. `schema` puts it
    elsewhere: a mapping in a served schema (history) keeps its copy out of the serving copies.
-#}

{% macro applied_mapping_relation(mapping, suffix, schema=none) -%}
    {{ return(api.Relation.create(database=mapping.database, schema=schema or mapping.schema,
                                  identifier=this.identifier ~ '__' ~ suffix, type='table')) }}
{%- endmacro %}


{#- The table a pre-hook (stage_mapping_changes) fills with the rows that changed since the last
    build, read by the model (changed_mapping_rows) and applied to the kept copy by the post-hook. -#}
{% macro mapping_changes_relation(mapping, suffix, schema=none) -%}
    {{ return(applied_mapping_relation(mapping, suffix ~ '__changes', schema)) }}
{%- endmacro %}


{#- Rows (of `columns`) in the mapping now or at the last build but not both: what gained or lost
    a key. Missing (first run after an upgrade): every row of the mapping counts as changed.
    `key`: columns unique in the mapping (record_id; id_type and id_value). With it the rows were
    staged by the model's pre-hook (stage_mapping_changes), so the model and its post-hook share
    one comparison. Without it (the small seeds) the EXCEPT form, inline. -#}
{% macro changed_mapping_rows(mapping, columns, suffix, key=none, schema=none) -%}
    {%- set column_list = columns | join(', ') -%}
    {%- if key is not none -%}
    select {{ column_list }} from {{ mapping_changes_relation(mapping, suffix, schema) }}
    {%- else -%}
    {%- set applied = applied_mapping_relation(mapping, suffix, schema) -%}
    {%- set exists = adapter.get_relation(database=applied.database, schema=applied.schema,
                                          identifier=applied.identifier) if execute else none -%}
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
    {%- endif -%}
{%- endmacro %}


{#- Pre-hook of an incremental run: stage the rows of the mapping that changed since the kept copy,
    with `side` 'now' (as the mapping has it) or 'kept' (as the last build had it), keyed by `key`.
    Both sides meet in one full outer join on the key instead of an EXCEPT each way: 0.55 s
    instead of 1.4-2.9 s on the 4.4 M records of a million people. No kept copy (first run after
    an upgrade): every row of the mapping, side 'now'. Outside an incremental run: nothing.
    `where`: a condition on the mapping's columns keeping only the rows the model reads (both
    sides, and save_applied_mapping's copy, hold only those). -#}
{% macro stage_mapping_changes(mapping, columns, suffix, key, schema=none, where=none) -%}
    {%- set filtered = _where_clause(where) -%}
    {%- set changes = mapping_changes_relation(mapping, suffix, schema) -%}
    {%- if not is_incremental() -%}
    drop table if exists {{ changes }}
    {%- else -%}
    {%- set applied = applied_mapping_relation(mapping, suffix, schema) -%}
    {%- set column_list = columns | join(', ') -%}
    drop table if exists {{ changes }};
    create table {{ changes }} as
    {%- if not table_exists(applied) %}
    select {{ column_list }}, 'now' as side from {{ mapping }}{{ filtered }}
    {%- else -%}
    {%- set comparison = _mapping_comparison(mapping, columns, key, where, applied) -%}
    {%- set shared = _shared_changes_of(comparison) -%}
    {%- if shared is not none %}
    select * from {{ shared }}
    {%- else -%}
    {%- set values = columns | reject('in', key) | list %}
    with compared as (
        select
            {%- for column in columns %}
            now_side.{{ column }} as now_{{ column }}, kept.{{ column }} as kept_{{ column }},
            {%- endfor %}
            now_side.present_now, kept.present_kept
        from (select {{ column_list }}, 1 as present_now from {{ mapping }}{{ filtered }}) as now_side
        full outer join (select {{ column_list }}, 1 as present_kept from {{ applied }}) as kept
            on {% for column in key %}{{ "and " if not loop.first }}kept.{{ column }} = now_side.{{ column }} {% endfor %}
        where now_side.present_now is null or kept.present_kept is null
            {%- for column in values %}
            or now_side.{{ column }} is distinct from kept.{{ column }}
            {%- endfor %}
    )
    select {% for column in columns %}now_{{ column }} as {{ column }}, {% endfor %}'now' as side
    from compared where present_now = 1
    union all
    select {% for column in columns %}kept_{{ column }} as {{ column }}, {% endfor %}'kept' as side
    from compared where present_kept = 1
    {%- if comparison is not none %};
    insert into {{ shared_mapping_changes_registry() }} values ({{ _literal(comparison) }}, {{ _literal(invocation_id) }}, {{ _literal(changes) }})
    {%- endif -%}
    {%- endif -%}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- Post-hook: keep the mapping this build used. With `key`, when this run's pre-hook staged the
    changes against an existing kept copy (an incremental run), only the changed keys are replaced
    in it (rewriting the whole copy, 4.4 M records at a million people, took 1.2-1.4 s per model
    and run); otherwise (a full build, no kept copy yet, the seeds) the copy is written whole.
    Existence is asked of the database, not dbt's relation cache, which does not see tables a hook
    created. -#}
{% macro save_applied_mapping(mapping, columns, suffix, schema=none, key=none, where=none) -%}
    {%- set applied = applied_mapping_relation(mapping, suffix, schema) -%}
    {%- set column_list = columns | join(', ') -%}
    {%- set changes = mapping_changes_relation(mapping, suffix, schema) if key is not none else none -%}
    {%- if changes is not none and table_exists(changes) and table_exists(applied) -%}
    delete from {{ applied }} where exists (
        select 1 from {{ changes }} as c
        where {% for column in key %}{{ "and " if not loop.first }}c.{{ column }} = {{ applied.identifier }}.{{ column }} {% endfor %}
    );
    insert into {{ applied }} ({{ column_list }}) select {{ column_list }} from {{ changes }} where side = 'now'
    {%- if not _is_shared(changes) %};
    drop table {{ changes }}
    {%- endif -%}
    {%- else -%}
    drop table if exists {{ applied }};
    create table {{ applied }} as select {{ column_list }} from {{ mapping }}{{ _where_clause(where) }}
    {%- if changes is not none %};
    drop table if exists {{ changes }}
    {%- endif -%}
    {%- endif -%}
    {%- if key is not none and table_exists(applied_mapping_saves_registry()) %};
    delete from {{ applied_mapping_saves_registry() }} where kept_copy = {{ _literal(_copy_name(applied)) }};
    insert into {{ applied_mapping_saves_registry() }}
    select {{ _literal(_copy_name(applied)) }}, {{ _literal(invocation_id) }}, count(*) from {{ applied }}
    {%- endif -%}
{%- endmacro %}


{#-
    One comparison shared by the models that keep the same mapping. Five models keep party_xref
    (the golden record, seniority, the golden and household histories) and three facts
    party_identifiers, each comparing 4.4 M rows with its own kept copy: 1.1-2.1 s each at a
    million people, every run. Two kept copies saved by the same dbt invocation are equal: the
    mapping is written outside dbt (identity), never during a build, and each save leaves the copy
    equal to the mapping (filtered). So a model whose kept copy was saved by the invocation that
    saved another's reuses the changes that model staged in this invocation instead of comparing
    again. Two registries in dbt's own schema (main: never served, never compared), created before
    any model runs: which invocation last saved each kept copy and with how many rows (a copy
    changed since by anything else, e.g. a run of an older version, compares), and which changes tables this
    invocation staged, by what they compared. A shared changes table outlives its model's
    post-hook and is dropped at the end of the invocation (drop_shared_mapping_changes). Two models
    staging at the same moment each compare (neither sees the other's yet): the same result.
-#}
{% macro applied_mapping_saves_registry() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema,
                                  identifier='dbt_applied_mapping_saves', type='table')) }}
{%- endmacro %}


{% macro shared_mapping_changes_registry() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema,
                                  identifier='dbt_shared_mapping_changes', type='table')) }}
{%- endmacro %}


{#- on-run-start: both registries, before two threads could create one at the same moment. -#}
{% macro create_mapping_registries() -%}
    create table if not exists {{ applied_mapping_saves_registry() }}
        (kept_copy {{ dbt.type_string() }}, saved_in {{ dbt.type_string() }}, saved_rows {{ dbt.type_bigint() }});
    create table if not exists {{ shared_mapping_changes_registry() }}
        (comparison {{ dbt.type_string() }}, staged_in {{ dbt.type_string() }}, changes_table {{ dbt.type_string() }})
{%- endmacro %}


{#- on-run-end: the changes tables this (or an interrupted) invocation shared, and their records. -#}
{% macro drop_shared_mapping_changes() -%}
    {%- if execute and table_exists(shared_mapping_changes_registry()) -%}
    {%- for row in run_query("select distinct changes_table from " ~ shared_mapping_changes_registry()) -%}
        {%- do run_query("drop table if exists " ~ row[0]) -%}
    {%- endfor -%}
    {%- do run_query("delete from " ~ shared_mapping_changes_registry()) -%}
    {%- endif -%}
{%- endmacro %}


{#- What a comparison of `mapping` with a kept copy compares, the copy named by the invocation that
    saved it; none when that is not recorded (a copy from before the registry, no registry) or the
    copy no longer holds the rows it was saved with (changed since by something else). -#}
{% macro _mapping_comparison(mapping, columns, key, where, applied) -%}
    {%- if not execute or not table_exists(applied_mapping_saves_registry()) -%}{{ return(none) }}{%- endif -%}
    {%- set saved = run_query("select max(r.saved_in) from " ~ applied_mapping_saves_registry() ~ " as r"
                              ~ " where r.kept_copy = " ~ _literal(_copy_name(applied))
                              ~ " and r.saved_rows = (select count(*) from " ~ applied ~ ")").columns[0].values()[0] -%}
    {%- if saved is none -%}{{ return(none) }}{%- endif -%}
    {{ return(mapping ~ ' | ' ~ (columns | join(', ')) ~ ' | ' ~ (key | join(', ')) ~ ' | ' ~ (where or '')
              ~ ' | kept copy saved in ' ~ saved) }}
{%- endmacro %}


{#- The changes table this invocation staged for the same comparison, or none. -#}
{% macro _shared_changes_of(comparison) -%}
    {%- if comparison is none or not table_exists(shared_mapping_changes_registry()) -%}{{ return(none) }}{%- endif -%}
    {%- set found = run_query("select min(changes_table) from " ~ shared_mapping_changes_registry()
                              ~ " where comparison = " ~ _literal(comparison) ~ " and staged_in = "
                              ~ _literal(invocation_id)).columns[0].values()[0] -%}
    {{ return(found) }}
{%- endmacro %}


{#- Whether this invocation shares `changes` with other models (then it stays until the end). -#}
{% macro _is_shared(changes) -%}
    {%- if not execute or not table_exists(shared_mapping_changes_registry()) -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query("select count(*) from " ~ shared_mapping_changes_registry()
                              ~ " where changes_table = " ~ _literal(changes) ~ " and staged_in = "
                              ~ _literal(invocation_id)).columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}


{#- A kept copy's name in the saves registry: schema and table, so a copied or renamed warehouse
    file (another catalog name) still finds its saves. -#}
{% macro _copy_name(relation) -%}
    {{ return(relation.schema ~ '.' ~ relation.identifier) }}
{%- endmacro %}


{#- A string as an SQL literal. -#}
{% macro _literal(value) -%}
    {{ return("'" ~ (value | string | replace("'", "''")) ~ "'") }}
{%- endmacro %}


{#- Whether a table exists now, asked of the database (information_schema) at run time. -#}
{% macro table_exists(relation) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query("select count(*) from information_schema.tables where table_catalog = '"
                              ~ relation.database ~ "' and table_schema = '" ~ relation.schema
                              ~ "' and table_name = '" ~ relation.identifier ~ "'").columns[0].values()[0] -%}
    {{ return(found > 0) }}
{%- endmacro %}


{#- ' where <condition>', or nothing without one: the rows of a mapping a model keeps (see above). -#}
{% macro _where_clause(where) -%}
    {{ return(' where ' ~ where if where else '') }}
{%- endmacro %}
