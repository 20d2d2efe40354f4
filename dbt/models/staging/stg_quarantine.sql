{#- Every quarantined raw row of every source entity, with its reason codes, so nothing is
    silently dropped: per entity, raw rows = accepted rows + rows here (test rows_reconcile).
    One entry per registry entity (tests/test_dbt_staging.py checks the list is complete).

    Incremental (append): the _checked models only ever append the rows of new raw batches, and a
    row's reasons never change once staged (macros/staging/stage_entity.sql), so a run adds the
    quarantined rows loaded after the newest `loaded_at` here. Each staging run stages every raw
    batch loaded before it, in load order, so no batch loaded earlier can arrive later. The filter
    is a constant, so each _checked table's scan skips the row groups of older batches: rebuilt
    whole, this model read the quarantined rows of ~60 M staged rows every run (2.7-5.8 s of node
    time in a new day's staging at a million people; 0.1 s now). A full refresh of a _checked
    model must rebuild this one too: dbt's `model+` selection includes it, as does
    `crm-cif run --full-refresh`. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
) }}
{%- set watermark = fact_watermark() %}
{%- set entities = [
    ('branch', 'customers'), ('branch', 'visits'), ('branch', 'teller_transactions'),
    ('web', 'users'), ('web', 'sessions'), ('web', 'orders'),
    ('mobile', 'users'), ('mobile', 'events'),
    ('callcentre', 'calls'),
    ('email', 'events'),
    ('marketing', 'campaigns'), ('marketing', 'leads'), ('marketing', 'consents'),
    ('sales', 'organisations'), ('sales', 'contacts'), ('sales', 'opportunities'),
    ('sales', 'proposals'), ('sales', 'account_plans'), ('sales', 'schemes'),
    ('service', 'cases'),
    ('credit', 'limit_changes'),
    ('collections', 'events'),
    ('billing', 'holdings'), ('billing', 'transactions'),
] %}

{% for source_system, source_entity in entities %}
{{ quarantined_rows(source_system, source_entity) }}
{%- if is_incremental() %}
    and _loaded_at > {{ watermark }}
{%- endif %}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
