{{ stage_entity(
    source('email', 'email__events'),
    key=['event_id'],
    columns={
        'event_id':      'string',
        'email_address': 'email',
        'campaign_code': 'string',
        'event_type':    {'kind': 'code', 'values': ['send', 'open', 'click', 'bounce', 'unsubscribe']},
        'event_ts':      'event_timestamp',
    },
) }}
