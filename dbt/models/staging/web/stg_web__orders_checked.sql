{{ stage_entity(
    source('web', 'web__orders'),
    key=['order_id'],
    columns={
        'order_id':     'string',
        'user_id':      'string',
        'ordered_at':   'event_timestamp',
        'product_code': 'product_code',
        'quantity':     'integer',
        'amount':       'amount',
        'currency':     'upper',
        'status':       {'kind': 'code', 'values': ['placed', 'completed', 'cancelled']},
    },
) }}
