{#-
    Incremental fact marts (fct_interactions, fct_transactions, fct_service_cases).

    A daily run should cost what the new day costs, and give exactly the rows a full rebuild
    gives. Each fact row carries `loaded_at`: the latest `_loaded_at` of the source rows it was
    built from (a proposal and the current version of its opportunity, a lead and the current
    version of its campaign, the current version of a case). An incremental run recomputes, with
    the same SQL as a full build, every row that can have changed since the last run, and
    replaces it by its key (strategy delete+insert):

      - rows whose loaded_at is after the newest loaded_at already in the fact (the watermark):
        new source rows, and rows whose versioned source (case, opportunity, campaign) has a new
        current version, since a new current version is always a row loaded since;
      - rows whose identifier now maps to another party than when the fact was last built:
        identity resolution re-ran (merge, split, an identifier seen for the first time or gone).
        The mapping the fact was built with is kept beside it
        (`<integration schema>.<fact>__party_identifiers`, written in the same transaction as
        the fact by a post-hook); the identifiers whose (type, value, party) differ between it
        and `party_identifiers` are the changed ones. Missing (first run after an upgrade):
        every identifier counts as changed, so every row is recomputed.

    Rows never disappear from a source in a normal run (raw tables are insert-only); erasure
    deletes, and is followed by `dbt build --full-refresh`, which rebuilds facts and mappings.
-#}

{#- The SQL timestamp literal of the newest loaded_at in the fact (1900-01-01 when empty). -#}
{% macro fact_watermark() -%}
    {%- set newest = none -%}
    {%- if execute and is_incremental() -%}
        {%- set newest = run_query('select max(loaded_at) from ' ~ this).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if newest is none -%}
        cast('1900-01-01 00:00:00' as timestamp)
    {%- else -%}
        cast('{{ newest }}' as timestamp)
    {%- endif -%}
{%- endmacro %}


{#- The table holding the identifier -> party mapping the fact was last built with. -#}
{% macro fact_identifiers_relation(identifiers) -%}
    {{ return(api.Relation.create(database=identifiers.database, schema=identifiers.schema,
                                  identifier=this.identifier ~ '__party_identifiers', type='table')) }}
{%- endmacro %}


{#- (id_type, id_value) of every identifier whose party changed since the fact was last built. -#}
{% macro changed_party_identifiers(identifiers) -%}
    {%- set applied = fact_identifiers_relation(identifiers) -%}
    {%- set exists = adapter.get_relation(database=applied.database, schema=applied.schema,
                                          identifier=applied.identifier) if execute else none -%}
    {%- if exists is none -%}
    select id_type, id_value from {{ identifiers }}
    {%- else -%}
    select now_.id_type, now_.id_value
    from {{ identifiers }} as now_
    left join {{ applied }} as before_
        on before_.id_type = now_.id_type and before_.id_value = now_.id_value and before_.party_id = now_.party_id
    where before_.id_type is null
    union
    select before_.id_type, before_.id_value
    from {{ applied }} as before_
    left join {{ identifiers }} as now_
        on now_.id_type = before_.id_type and now_.id_value = before_.id_value and now_.party_id = before_.party_id
    where now_.id_type is null
    {%- endif -%}
{%- endmacro %}


{#- Post-hooks: keep the mapping this build used (same transaction as the fact's rows). -#}
{% macro save_fact_identifiers(identifiers) -%}
    {%- set applied = fact_identifiers_relation(identifiers) -%}
    drop table if exists {{ applied }};
    create table {{ applied }} as select id_type, id_value, party_id from {{ identifiers }}
{%- endmacro %}


{#- The later of two load times (either may be NULL), without the non-ANSI greatest(). -#}
{% macro later_loaded_at(a, b) -%}
    case when {{ b }} > {{ a }} or {{ a }} is null then {{ b }} else {{ a }} end
{%- endmacro %}


{#- WHERE condition of an incremental run: the touchpoint was loaded after the watermark, or
    one of its identifiers changed party. `identifier_values`: the columns holding identifier
    values (types are ignored: a value that changed under any type re-derives the row, which is
    harmless, and the single-column probe keeps it a cheap semi-join). -#}
{% macro fact_rows_to_refresh(loaded_at, identifier_values, watermark) -%}
    ({{ loaded_at }} > {{ watermark }}
    {%- for value in identifier_values %}
        or {{ value }} in (select id_value from changed_identifiers)
    {%- endfor %})
{%- endmacro %}
