{{ stage_entity(
    source('mobile', 'mobile__events'),
    key=['event_id'],
    columns={
        'event_id':    'string',
        'app_user_id': 'string',
        'device_id':   'string',
        'event_ts':    'event_timestamp',
        'event_type':  {'kind': 'code', 'values': ['login', 'view_product', 'transfer', 'bill_payment', 'support_chat']},
        'screen':      'string',
    },
) }}
