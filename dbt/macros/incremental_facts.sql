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
        (`<integration schema>.<fact>__party_identifiers`, macros/applied_mapping.sql, written in the same transaction as
        the fact by a post-hook); the identifiers whose (type, value, party) differ between it
        and `party_identifiers` are the changed ones. Missing (first run after an upgrade):
        every identifier counts as changed, so every row is recomputed.

    Each row also carries `refreshed_at`: when the warehouse last wrote it (the start of the dbt
    run, the same for every row a run writes), new or re-derived. Rows written since a moment are
    what changed since then: the serving copies patch only those (serving/keyed_patch.py), and
    the uniqueness test checks only their keys (tests/generic/unique_since_last_pass.sql).

    Rows never disappear from a source in a normal run (raw tables are insert-only); erasure
    deletes, and is followed by `dbt build --full-refresh`, which rebuilds facts and mappings.
-#}

{#- The SQL timestamp literal of the newest `column` in `relation` (default: this model; 1900-01-01
    when empty, missing or not incremental). -#}
{% macro fact_watermark(column='loaded_at', relation=none) -%}
    {%- set newest = none -%}
    {%- if execute and is_incremental() -%}
        {%- set source = this if relation is none else adapter.get_relation(
                database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- if source is not none -%}
            {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ source).columns[0].values()[0] -%}
        {%- endif -%}
    {%- endif -%}
    {%- if newest is none -%}
        cast('1900-01-01 00:00:00' as timestamp)
    {%- else -%}
        cast('{{ newest }}' as timestamp)
    {%- endif -%}
{%- endmacro %}


{#- (id_type, id_value) of every identifier whose party changed since the fact was last built. -#}
{% macro changed_party_identifiers(identifiers) -%}
    select distinct id_type, id_value from (
        {{ changed_mapping_rows(identifiers, ['id_type', 'id_value', 'party_id'], 'party_identifiers',
                                 key=['id_type', 'id_value']) }}
    ) as moved
{%- endmacro %}


{#- Pre-hook: stage the identifiers whose party changed since the fact was last built.
    `id_types`: the identifier types the model joins on, when it names them all (the histories
    of holdings and consent): only those are kept and compared (a fifth or half of the ~4 M
    identifiers at a million people; comparing all took 1.4 s a run). Every type by default. -#}
{% macro stage_fact_identifiers(identifiers, id_types=none) -%}
    {{ stage_mapping_changes(identifiers, ['id_type', 'id_value', 'party_id'], 'party_identifiers',
                             key=['id_type', 'id_value'], where=_id_types_condition(id_types)) }}
{%- endmacro %}


{#- Post-hook: keep the mapping this build used (same transaction as the fact's rows). -#}
{% macro save_fact_identifiers(identifiers, id_types=none) -%}
    {{ save_applied_mapping(identifiers, ['id_type', 'id_value', 'party_id'], 'party_identifiers',
                            key=['id_type', 'id_value'], where=_id_types_condition(id_types)) }}
{%- endmacro %}


{% macro _id_types_condition(id_types) -%}
    {{ return(none if id_types is none else "id_type in ('" ~ (id_types | join("', '")) ~ "')") }}
{%- endmacro %}


{#- The moment this run writes its rows: dbt's run start, one value for the whole invocation. -#}
{% macro row_refreshed_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
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


{#- The body of a fact's `refreshed` CTE: `cte as alias`, in an incremental run only its rows to
    refresh (fact_rows_to_refresh). A CTE of its own, read before the identifier joins. Why: an OR
    over IN-subqueries cannot be pushed below a join, so a WHERE after the joins joined every
    touchpoint (42 M at a million people) with the identifiers to keep the day's ~60 k (profiled:
    10 of 15 s). -#}
{% macro refreshed_fact_rows(cte, alias, loaded_at, identifier_values, watermark) -%}
    select * from {{ cte }} as {{ alias }}
    {%- if is_incremental() %}
    where {{ fact_rows_to_refresh(loaded_at, identifier_values, watermark) }}
    {%- endif %}
{%- endmacro %}


{#- The identifiers a fact joins its rows to: `identifiers` (party_identifiers), in an incremental
    run only those whose value one of `value_columns` of `rows` (the refreshed CTE) holds. Why:
    fct_interactions' two joins built their hash tables on the ~4 M identifiers to look up the
    day's ~70 k rows (~0.7 s a join at a million people; its query alone 2.6 -> 2.0 s); restricted
    first, they are built on the few the day names. The value alone restricts (the join still
    matches the type): a superset, the same rows. -#}
{% macro fact_identifiers(identifiers, rows, value_columns) -%}
    select * from {{ identifiers }}
    {%- if is_incremental() %}
    where {% for column in value_columns %}{{ ' or ' if not loop.first }}id_value in (select {{ column }} from {{ rows }}){% endfor %}
    {%- endif %}
{%- endmacro %}


{#- The CTEs every incremental fact reads its rows through, after the CTE `cte` of its source rows:
    `changed_identifiers` (incremental runs), `refreshed` (refreshed_fact_rows) and `identifiers`
    (fact_identifiers, on the same identifier columns, named without the alias). -#}
{% macro fact_refresh_ctes(cte, alias, loaded_at, identifier_values, watermark) -%}
{%- set identifiers = source('integration', 'party_identifiers') -%}
{%- set value_columns = [] -%}
{%- for value in identifier_values %}{% do value_columns.append(value.split('.')[-1]) %}{% endfor -%}
{% if is_incremental() -%}
changed_identifiers as (
    {{ changed_party_identifiers(identifiers) }}
),

{% endif -%}
refreshed as (
    {{ refreshed_fact_rows(cte, alias, loaded_at, identifier_values, watermark) }}
),

identifiers as (
    {{ fact_identifiers(identifiers, 'refreshed', value_columns) }}
)
{%- endmacro %}
