{{ stage_entity(
    source('sales', 'sales__opportunities'),
    key=['opportunity_id', 'updated_at'],
    columns={
        'opportunity_id': 'string',
        'org_id':         'string',
        'account_number': 'string',
        'product_code':   'product_code',
        'stage':          {'kind': 'code', 'values': ['open', 'proposal', 'won', 'lost']},
        'amount':         'amount',
        'opened_at':      'event_timestamp',
        'closed_at':      'event_timestamp',
        'owner_id':       'string',
        'updated_at':     'event_timestamp',
    },
) }}
