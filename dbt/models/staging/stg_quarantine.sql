{{ config(materialized='table') }}

{#- Every quarantined raw row of every source entity, with its reason codes, so nothing is
    silently dropped: per entity, raw rows = accepted rows + rows here (test rows_reconcile).
    One entry per registry entity (tests/test_dbt_staging.py checks the list is complete). -#}
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
{% if not loop.last %}union all{% endif %}
{%- endfor %}
