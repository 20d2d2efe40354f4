{{ config(materialized='table') }}

{#- sales.account_plans: Key-account plans with yearly target values.
    Every raw row, typed and standardised, with its quarantine reasons (macro stage_entity). -#}
{{ stage_entity(
    source('sales', 'sales__account_plans'),
    key=['plan_id'],
    columns={
        'plan_id':            'string',
        'org_id':             'string',
        'plan_year':          'integer',
        'target_value':       'amount',
        'account_manager_id': 'string',
    },
) }}
