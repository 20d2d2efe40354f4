{{ stage_entity(
    source('marketing', 'marketing__campaigns'),
    key=['campaign_code', 'updated_at'],
    columns={
        'campaign_code': 'string',
        'campaign_name': 'string',
        'channel':       'channel_code',
        'start_date':    'date',
        'end_date':      'date',
        'cost':          'amount',
        'currency':      'upper',
        'objective':     {'kind': 'code', 'values': ['acquisition', 'cross_sell', 'retention', 'win_back']},
        'updated_at':    'event_timestamp',
    },
) }}
