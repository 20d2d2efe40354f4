{#- Staging of one registry entity, so each model only states its columns and rules.

    stage_entity(source_relation, key, columns, date_format, timestamp_format, checks, full_extract)
      key      the registry key columns (MISSING_KEY when empty, DUPLICATE_KEY when repeated)
      full_extract  true for an entity delivered whole each time (registry extract="full"): a
               key repeated within one file is a duplicate, but every delivery is a new snapshot
               of the whole table, so the same key in the next file is accepted
      columns  ordered mapping column -> kind, or -> {'kind': ..., more options}; kinds:
        string           trimmed text
        name             trimmed, inner whitespace collapsed
        email, phone     normalised contact point, NULL when invalid (never quarantines)
        contact_point    email or phone depending on option type_column, else trimmed text
        upper            trimmed upper-case text (currencies)
        code             lower-case; UNKNOWN_CODE unless in option values
        product_code, branch_code, channel_code
                         UNKNOWN_CODE unless in seed products / branches / channels
        date, timestamp  BAD_DATE / BAD_TIMESTAMP, IMPOSSIBLE_DATE before 1900
        event_date, event_timestamp
                         the same, plus FUTURE_DATE after the reference date + 1 day
        birth_date       a date; IMPOSSIBLE_DATE also when after the reference date
        decimal          BAD_NUMBER
        amount           a decimal that must be >= 0 (NEGATIVE_AMOUNT)
        integer          BAD_INTEGER
        boolean          BAD_BOOLEAN
      checks   extra rules: mapping reason code -> list of SQL conditions on typed columns

    Output: the columns in the given order with their staged types, the lineage columns
    (_batch_id, _source_file, _row_number, _loaded_at), _record_key (key columns as delivered,
    joined with '|') and _quarantine_reasons (NULL when the row is accepted).
    Duplicates are judged among rows that pass every other rule: the earliest by
    (_loaded_at, _source_file, _row_number) is kept, later ones get DUPLICATE_KEY.

    Incremental by raw batch (the _checked models are dbt incremental, strategy append, set in
    their generated yml): raw tables are insert-only and every loaded file is one _batch_id, so
    an incremental run stages only the raw rows whose _batch_id is not in the target yet, and
    the result equals a full rebuild:
      - a new row is a DUPLICATE_KEY when it is not the first of its partition (key, plus
        _source_file for full extracts, among rows with no other reason) within the new rows,
        or when the target already holds an accepted row of that partition; existing rows never
        change status, because a new batch always loads after the batches already staged.
      - a crashed run converges: each model's insert is one transaction, so a batch is either
        wholly in the target or staged by the next run; a re-delivered file is no new batch
        (ingest skips a file it has loaded), so nothing is staged twice.
      - on_schema_change is "fail": a new column would be NULL in the rows already staged, so
        dbt stops and asks for a full refresh (`crm-cif run --full-refresh`). A changed rule
        without a new column, and the reference date of FUTURE_DATE / IMPOSSIBLE_DATE (today),
        only apply to rows staged from then on: a full refresh re-judges every row.
      - erased raw rows must vanish from the target too: the erasure rebuild runs with a full
        refresh (dagster_project/full_refresh.py). -#}

{#- The raw batches not staged yet, found before the model's query runs and written into it as
    constants. Why: `_batch_id not in (select _batch_id from <target>)` read every column of every
    raw row before filtering, and hashed the target's every row: 3.5 s for the 18.7 M mobile events
    at a million people with nothing new. A filter on constants reaches the raw table's scan, whose
    row groups of older batches are skipped by their min/max; the lookup reads one column of each
    side (0.05 s there). A batch loaded after this lookup is staged by the next run. -#}
{% macro _unstaged_batches(source_relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set found = run_query(
        "select distinct _batch_id from " ~ source_relation ~ " where _batch_id is not null and _batch_id not in ("
        ~ "select _batch_id from " ~ this ~ " where _batch_id is not null group by _batch_id) order by 1") -%}
    {{ return(found.columns[0].values() | list) }}
{%- endmacro %}


{#- SQL condition: _batch_id is one of `batches` (false when there is none). -#}
{% macro _in_batches(batches) -%}
    {%- if batches | length == 0 -%}
    1 = 0
    {%- else -%}
    _batch_id in ({% for b in batches %}{{ ', ' if not loop.first }}'{{ b | replace("'", "''") }}'{% endfor %})
    {%- endif -%}
{%- endmacro %}


{% macro staging_seed_references() -%}
    {{ return({
        'product_code': {'seed': 'products', 'field': 'product_code', 'case': 'upper'},
        'branch_code': {'seed': 'branches', 'field': 'branch_code', 'case': 'upper'},
        'channel_code': {'seed': 'channels', 'field': 'channel_code', 'case': 'lower'},
    }) }}
{%- endmacro %}


{% macro _staging_column_specs(columns) -%}
    {%- set kinds = [
        'string', 'name', 'email', 'phone', 'contact_point', 'upper', 'code',
        'product_code', 'branch_code', 'channel_code', 'date', 'event_date', 'birth_date',
        'timestamp', 'event_timestamp', 'decimal', 'amount', 'integer', 'boolean',
    ] -%}
    {%- set specs = [] -%}
    {%- for name, spec in columns.items() -%}
        {%- set options = spec if spec is mapping else {'kind': spec} -%}
        {%- if options.kind not in kinds -%}
            {{ exceptions.raise_compiler_error("column " ~ name ~ ": unknown staging kind '" ~ options.kind ~ "'") }}
        {%- endif -%}
        {%- if options.kind == 'code' and not options.get('values') -%}
            {{ exceptions.raise_compiler_error("column " ~ name ~ ": a code column needs its values") }}
        {%- endif -%}
        {%- do specs.append({
            'name': name,
            'kind': options.kind,
            'values': options.get('values', []),
            'type_column': options.get('type_column'),
            'raw': '_txt__' ~ name,
        }) -%}
    {%- endfor -%}
    {{ return(specs) }}
{%- endmacro %}


{#- The typed, standardised value of one column, from its cleaned text. -#}
{% macro _staging_typed_value(c, date_format, timestamp_format) -%}
    {%- set seeds = crm_cif.staging_seed_references() -%}
    {%- if c.kind == 'string' -%}{{ c.raw }}
    {%- elif c.kind == 'name' -%}{{ crm_cif.clean_name(c.raw) }}
    {%- elif c.kind == 'email' -%}{{ crm_cif.normalize_email(c.raw) }}
    {%- elif c.kind == 'phone' -%}{{ crm_cif.normalize_phone(c.raw) }}
    {%- elif c.kind == 'contact_point' -%}{{ crm_cif.normalize_contact_point(c.raw, '_txt__' ~ c.type_column) }}
    {%- elif c.kind == 'upper' -%}upper({{ c.raw }})
    {%- elif c.kind == 'code' -%}lower({{ c.raw }})
    {%- elif c.kind in seeds -%}{{ seeds[c.kind].case }}({{ c.raw }})
    {%- elif c.kind in ('date', 'event_date', 'birth_date') -%}{{ crm_cif.parse_date(c.raw, date_format) }}
    {%- elif c.kind in ('timestamp', 'event_timestamp') -%}{{ crm_cif.parse_timestamp(c.raw, timestamp_format) }}
    {%- elif c.kind in ('decimal', 'amount') -%}{{ crm_cif.parse_decimal(c.raw) }}
    {%- elif c.kind == 'integer' -%}{{ crm_cif.parse_integer(c.raw) }}
    {%- elif c.kind == 'boolean' -%}{{ crm_cif.parse_boolean(c.raw) }}
    {%- endif -%}
{%- endmacro %}


{#- Reason code -> conditions for the whole row (all but DUPLICATE_KEY). -#}
{% macro _staging_conditions(specs, key, checks) -%}
    {%- set seeds = crm_cif.staging_seed_references() -%}
    {%- set reference_date = crm_cif.staging_reference_date() -%}
    {%- set future_after = 'cast(' ~ dbt.dateadd('day', 1, reference_date) ~ ' as date)' -%}
    {%- set bad_code = {
        'date': 'BAD_DATE', 'event_date': 'BAD_DATE', 'birth_date': 'BAD_DATE',
        'timestamp': 'BAD_TIMESTAMP', 'event_timestamp': 'BAD_TIMESTAMP',
        'decimal': 'BAD_NUMBER', 'amount': 'BAD_NUMBER', 'integer': 'BAD_INTEGER',
        'boolean': 'BAD_BOOLEAN',
    } -%}
    {%- set conditions = {} -%}
    {%- for code in crm_cif.reason_code_order() %}{% do conditions.update({code: []}) %}{% endfor -%}
    {%- for k in key -%}
        {%- do conditions['MISSING_KEY'].append('_txt__' ~ k ~ ' is null') -%}
    {%- endfor -%}
    {%- for c in specs -%}
        {%- if c.kind in bad_code -%}
            {%- do conditions[bad_code[c.kind]].append(c.raw ~ ' is not null and ' ~ c.name ~ ' is null') -%}
        {%- endif -%}
        {%- if bad_code.get(c.kind) in ('BAD_DATE', 'BAD_TIMESTAMP') -%}
            {%- do conditions['IMPOSSIBLE_DATE'].append('cast(' ~ c.name ~ " as date) < cast('1900-01-01' as date)") -%}
        {%- endif -%}
        {%- if c.kind == 'birth_date' -%}
            {%- do conditions['IMPOSSIBLE_DATE'].append(c.name ~ ' > ' ~ reference_date) -%}
        {%- elif c.kind in ('event_date', 'event_timestamp') -%}
            {%- do conditions['FUTURE_DATE'].append('cast(' ~ c.name ~ ' as date) > ' ~ future_after) -%}
        {%- elif c.kind == 'amount' -%}
            {%- do conditions['NEGATIVE_AMOUNT'].append(c.name ~ ' < 0') -%}
        {%- elif c.kind == 'code' -%}
            {%- do conditions['UNKNOWN_CODE'].append(c.name ~ " not in ('" ~ (c['values'] | join("', '")) ~ "')") -%}
        {%- elif c.kind in seeds -%}
            {%- do conditions['UNKNOWN_CODE'].append(c.name ~ ' is not null and not _known__' ~ c.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for code, extra in checks.items() -%}
        {%- if code not in conditions -%}
            {{ exceptions.raise_compiler_error("unknown reason code " ~ code) }}
        {%- endif -%}
        {%- do conditions[code].extend(extra) -%}
    {%- endfor -%}
    {{ return(conditions) }}
{%- endmacro %}


{% macro stage_entity(source_relation, key, columns, date_format='YYYY-MM-DD', timestamp_format='YYYY-MM-DDTHH:MM:SS', checks={}, full_extract=false) -%}
{%- set specs = crm_cif._staging_column_specs(columns) -%}
{%- set seeds = crm_cif.staging_seed_references() -%}
{%- set seeded = specs | selectattr('kind', 'in', seeds.keys() | list) | list -%}
{%- set key_parts = [] -%}
{%- for k in key -%}
    {%- if not loop.first %}{% do key_parts.append("'|'") %}{% endif -%}
    {%- do key_parts.append("coalesce(_txt__" ~ k ~ ", '')") -%}
{%- endfor -%}
{%- set partition_keys = key + (['_source_file'] if full_extract else []) -%}
{#- A unit test has no target to read ({{ this }}): it checks the full-rebuild logic. -#}
{%- set incremental = model.resource_type == 'model' and is_incremental() -%}
with source as (
    select * from {{ source_relation }}
    {%- if incremental %}
    where {{ crm_cif._in_batches(crm_cif._unstaged_batches(source_relation)) }}
    {%- endif %}
),

cleaned as (
    select
        {%- for c in specs %}
        {{ crm_cif.clean_string(c.name) }} as {{ c.raw }},
        {%- endfor %}
        _batch_id,
        _source_file,
        _row_number,
        _loaded_at
    from source
),

typed as (
    select
        {%- for c in specs %}
        {{ crm_cif._staging_typed_value(c, date_format, timestamp_format) }} as {{ c.name }},
        {%- endfor %}
        cleaned.*
    from cleaned
),

referenced as (
    select
        {%- for c in seeded %}
        case when _seed__{{ c.name }}.{{ seeds[c.kind].field }} is null then false else true end as _known__{{ c.name }},
        {%- endfor %}
        typed.*
    from typed
    {%- for c in seeded %}
    left join {{ ref(seeds[c.kind].seed) }} as _seed__{{ c.name }}
        on _seed__{{ c.name }}.{{ seeds[c.kind].field }} = typed.{{ c.name }}
    {%- endfor %}
),

checked as (
    select
        *,
        {{ crm_cif.reason_codes(crm_cif._staging_conditions(specs, key, checks)) }} as _reasons
    from referenced
),

ranked as (
    select
        *,
        row_number() over (
            partition by {{ partition_keys | join(', ') }}, _reasons
            order by _loaded_at, _source_file, _row_number, _batch_id
        ) as _key_rank
    from checked
)
{%- if incremental %},

{#- The partitions (of rows with no other reason) the target already holds an accepted row
    of: only those the new rows touch, so the target is probed, not re-ranked. -#}
new_partitions as (
    select distinct {{ partition_keys | join(', ') }}
    from checked
    where _reasons is null
),

accepted_before as (
    select distinct
        {%- for k in partition_keys %}
        _target.{{ k }} as _before__{{ k }},
        {%- endfor %}
        1 as _accepted_before
    from {{ this }} as _target
    inner join new_partitions
        on {% for k in partition_keys %}{{ ' and ' if not loop.first }}_target.{{ k }} = new_partitions.{{ k }}{% endfor %}
    where _target._quarantine_reasons is null
)
{%- endif %}

select
    {%- for c in specs %}
    {{ c.name }},
    {%- endfor %}
    _batch_id,
    _source_file,
    _row_number,
    _loaded_at,
    {{ dbt.concat(key_parts) if key_parts | length > 1 else key_parts[0] }} as _record_key,
    coalesce(_reasons, case
        when _key_rank > 1 then 'DUPLICATE_KEY'
        {%- if incremental %}
        when _accepted_before = 1 then 'DUPLICATE_KEY'
        {%- endif %}
    end) as _quarantine_reasons
from ranked
{%- if incremental %}
left join accepted_before
    on {% for k in partition_keys %}{{ ' and ' if not loop.first }}ranked.{{ k }} = accepted_before._before__{{ k }}{% endfor %}
{%- endif %}
{%- endmacro %}


{#- The accepted rows of a _checked model: every column but the quarantine bookkeeping.
    Columns are read from the built _checked relation, so the model cannot drift from it. -#}
{% macro accepted_rows(checked_relation) -%}
{%- set excluded = ['_record_key', '_quarantine_reasons'] -%}
{%- if execute -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(checked_relation) -%}
        {%- if column.name | lower not in excluded %}{% do names.append(column.name) %}{% endif -%}
    {%- endfor -%}
    {%- if not names -%}
        {{ exceptions.raise_compiler_error("build " ~ checked_relation ~ " before its accepted view") }}
    {%- endif -%}
{%- else -%}
    {%- set names = ['*'] -%}
{%- endif -%}
select
    {{ names | join(',\n    ') }}
from {{ checked_relation }}
where _quarantine_reasons is null
{%- endmacro %}


{#- The quarantined rows of one entity in the stg_quarantine shape. -#}
{% macro quarantined_rows(source_system, source_entity) -%}
select
    cast('{{ source_system }}' as {{ dbt.type_string() }}) as source_system,
    cast('{{ source_entity }}' as {{ dbt.type_string() }}) as source_entity,
    _source_file as source_file,
    _row_number as row_number,
    _batch_id as batch_id,
    _record_key as record_key,
    _quarantine_reasons as reason_codes,
    _loaded_at as loaded_at
from {{ ref('stg_' ~ source_system ~ '__' ~ source_entity ~ '_checked') }}
where _quarantine_reasons is not null
{%- endmacro %}
