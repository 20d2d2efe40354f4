{{ stage_entity(
    source('credit', 'credit__limit_changes'),
    key=['change_id'],
    columns={
        'change_id':       'string',
        'account_number':  'string',
        'product_code':    'product_code',
        'old_limit':       'amount',
        'requested_limit': 'amount',
        'new_limit':       'amount',
        'decision':        {'kind': 'code', 'values': ['approved', 'refused']},
        'requested_at':    'event_timestamp',
        'effective_date':  'date',
        'reason':          'string',
    },
) }}
