{{ config(materialized='table') }}

{#- sales.schemes: Association membership schemes through which members enrol.
    Every raw row, typed and standardised, with its quarantine reasons (macro stage_entity). -#}
{{ stage_entity(
    source('sales', 'sales__schemes'),
    key=['scheme_code'],
    columns={
        'scheme_code':      'string',
        'scheme_name':      'string',
        'association_name': 'string',
        'discount_rate':    'decimal',
        'started_at':       'date',
    },
) }}
