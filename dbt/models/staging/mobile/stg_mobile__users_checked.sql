{{ config(materialized='table') }}

{#- mobile.users: App registrations; a row on registration and on each profile change.
    Every raw row, typed and standardised, with its quarantine reasons (macro stage_entity). -#}
{{ stage_entity(
    source('mobile', 'mobile__users'),
    key=['app_user_id', 'updated_at'],
    columns={
        'app_user_id':   'string',
        'phone':         'phone',
        'device_id':     'string',
        'email':         'email',
        'full_name':     'name',
        'registered_at': 'event_timestamp',
        'os':            {'kind': 'code', 'values': ['android', 'ios']},
        'updated_at':    'event_timestamp',
    },
) }}
