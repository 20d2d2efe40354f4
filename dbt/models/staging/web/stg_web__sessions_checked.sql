{{ stage_entity(
    source('web', 'web__sessions'),
    key=['session_id'],
    columns={
        'session_id':   'string',
        'user_id':      'string',
        'started_at':   'event_timestamp',
        'ended_at':     'event_timestamp',
        'pages_viewed': 'integer',
        'device_type':  {'kind': 'code', 'values': ['desktop', 'tablet', 'mobile_browser']},
    },
) }}
