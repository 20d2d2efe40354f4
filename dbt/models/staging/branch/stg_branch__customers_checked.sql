{{ config(materialized='table') }}

{#- branch.customers: Customer master records; a row is written when a customer is opened or any attribute changes (address move, new phone, surname change).
    Every raw row, typed and standardised, with its quarantine reasons (macro stage_entity). -#}
{{ stage_entity(
    source('branch', 'branch__customers'),
    key=['account_number', 'updated_at'],
    date_format='DD/MM/YYYY',
    timestamp_format='DD/MM/YYYY HH:MM',
    columns={
        'account_number': 'string',
        'title':          'string',
        'first_name':     'name',
        'last_name':      'name',
        'date_of_birth':  'birth_date',
        'address_line':   'string',
        'city':           'string',
        'postcode':       'string',
        'phone':          'phone',
        'email':          'email',
        'branch_code':    'branch_code',
        'opened_date':    'event_date',
        'status':         {'kind': 'code', 'values': ['active', 'closed']},
        'close_reason':   {'kind': 'code', 'values': ['competitor', 'moved', 'deceased', 'other']},
        'updated_at':     'event_timestamp',
    },
) }}
