{{ config(materialized='table') }}

{#- web.users: Registered web users; a row on registration and on each profile change.
    Every raw row, typed and standardised, with its quarantine reasons (macro stage_entity). -#}
{{ stage_entity(
    source('web', 'web__users'),
    key=['user_id', 'updated_at'],
    columns={
        'user_id':          'string',
        'username':         'string',
        'email':            'email',
        'first_name':       'name',
        'last_name':        'name',
        'phone':            'phone',
        'date_of_birth':    'birth_date',
        'registered_at':    'event_timestamp',
        'marketing_opt_in': 'boolean',
        'updated_at':       'event_timestamp',
    },
) }}
