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
