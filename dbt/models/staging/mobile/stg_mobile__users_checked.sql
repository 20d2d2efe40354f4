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
