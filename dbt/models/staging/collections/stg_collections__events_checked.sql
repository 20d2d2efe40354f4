{{ stage_entity(
    source('collections', 'collections__events'),
    key=['event_id'],
    columns={
        'event_id':       'string',
        'account_number': 'string',
        'event_type':     {'kind': 'code', 'values': ['late_payment', 'late_fee', 'finance_charge', 'payment_plan']},
        'amount':         'amount',
        'due_date':       'date',
        'event_date':     'event_date',
        'days_past_due':  'integer',
    },
) }}
