{#-
    The state behind tests checked only for the rows loaded since they last passed
    (tests/generic/unique_since_last_pass.sql, relationships_since_last_pass.sql): one row per
    tested table and column in `<target schema>.dbt_test_watermarks` (test_key, passed_through),
    and for relationships the parent's keys in `<target schema>.dbt_test_kept__<test key>`,
    written at the end of each dbt invocation for the windowed tests that passed in it.
-#}

{% macro windowed_test_watermarks() -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema,
                                  identifier='dbt_test_watermarks', type='table')) }}
{%- endmacro %}


{#- The key a windowed test is recorded under: the tested table and column. -#}
{% macro windowed_test_key(schema, identifier, column_name) -%}
    {{ return((schema ~ '.' ~ identifier ~ '.' ~ column_name) | lower) }}
{%- endmacro %}


{#- The column name relationships_since_last_pass is recorded under: apart from a windowed
    uniqueness test on the same column. -#}
{% macro windowed_relationships_column(column_name) -%}
    {{ return(column_name ~ '.relationships') }}
{%- endmacro %}


{#- Where relationships_since_last_pass keeps the parent's keys of its last pass. -#}
{% macro windowed_test_kept_keys(model, column_name) -%}
    {%- set key = windowed_test_key(model.schema, model.identifier, column_name) -%}
    {{ return(api.Relation.create(database=target.database, schema=target.schema,
                                  identifier='dbt_test_kept__' ~ (key | replace('.', '__')), type='table')) }}
{%- endmacro %}


{#- The newest load time the tested table held when this test last passed; none = check the whole
    table (nothing recorded, `--full-refresh`, var full_data_tests, or parse time). -#}
{% macro windowed_test_since(model, column_name) -%}
    {%- if not execute or flags.FULL_REFRESH or var('full_data_tests', false) -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set watermarks = windowed_test_watermarks() -%}
    {%- if adapter.get_relation(database=watermarks.database, schema=watermarks.schema,
                                identifier=watermarks.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set key = windowed_test_key(model.schema, model.identifier, column_name) -%}
    {%- set found = run_query("select max(passed_through) from " ~ watermarks
                              ~ " where test_key = '" ~ key ~ "'").columns[0].values()[0] -%}
    {{ return(found) }}
{%- endmacro %}


{#- on-run-end: for each windowed test that passed in this invocation, record the newest load time
    its table holds now, the newest `written_at` (no model of the invocation writes it after its tests ran). -#}
{% macro record_windowed_test_passes(results) -%}
    {%- if execute -%}
    {%- set watermarks = windowed_test_watermarks() -%}
    {%- set statements = [] -%}
    {%- for result in results -%}
        {%- set node = result.node -%}
        {#- singular tests have no test_metadata -#}
        {%- if node.resource_type == 'test' and result.status == 'pass' and node.test_metadata is defined
               and node.test_metadata is not none
               and node.test_metadata.name in ('unique_since_last_pass', 'relationships_since_last_pass') -%}
            {%- set kwargs = node.test_metadata.kwargs -%}
            {%- set tested = graph.nodes.get(node.attached_node) -%}
            {%- set column_name = kwargs.get('column_name') or node.column_name -%}
            {%- set relation = api.Relation.create(database=tested.database, schema=tested.schema,
                                                   identifier=tested.alias) -%}
            {%- if node.test_metadata.name == 'relationships_since_last_pass' -%}
                {%- set column_name = windowed_relationships_column(column_name) -%}
                {%- set written_at = kwargs.get('written_at', 'refreshed_at') -%}
                {#- the parent: the test's other dependency (a model or a seed), or the table itself -#}
                {%- set parent_ids = node.depends_on.nodes | reject('equalto', node.attached_node) | list -%}
                {%- set parent = graph.nodes.get(parent_ids[0]) if parent_ids else tested -%}
                {%- set kept = windowed_test_kept_keys(relation, column_name) -%}
                {%- do statements.append("drop table if exists " ~ kept) -%}
                {%- do statements.append("create table " ~ kept ~ " as select distinct " ~ kwargs.get('field')
                                         ~ " as parent_key from " ~ api.Relation.create(database=parent.database,
                                         schema=parent.schema, identifier=parent.alias) ~ " where " ~ kwargs.get('field')
                                         ~ " is not null") -%}
            {%- else -%}
                {%- set written_at = kwargs.get('written_at', '_loaded_at') -%}
            {%- endif -%}
            {%- set key = windowed_test_key(tested.schema, tested.alias, column_name) -%}
            {%- do statements.append("delete from " ~ watermarks ~ " where test_key = '" ~ key ~ "'") -%}
            {%- do statements.append("insert into " ~ watermarks ~ " select '" ~ key ~ "', max(" ~ written_at
                                     ~ ") from " ~ relation) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if statements -%}
        {%- do run_query("create table if not exists " ~ watermarks
                         ~ " (test_key " ~ dbt.type_string() ~ ", passed_through " ~ dbt.type_timestamp() ~ ")") -%}
        {%- for statement in statements -%}
            {%- do run_query(statement) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- endif -%}
{%- endmacro %}
