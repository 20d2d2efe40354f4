{{ stage_entity(
    source('billing', 'billing__holdings'),
    key=['holding_id', 'updated_at'],
    columns={
        'holding_id':           'string',
        'account_number':       'string',
        'payer_account_number': 'string',
        'product_code':         'product_code',
        'sponsor_org_id':       'string',
        'scheme_code':          'string',
        'acquisition_channel':  'channel_code',
        'campaign_code':        'string',
        'start_date':           'event_date',
        'end_date':             'event_date',
        'status':               {'kind': 'code', 'values': ['active', 'closed']},
        'monthly_fee':          'amount',
        'updated_at':           'event_timestamp',
    },
) }}
