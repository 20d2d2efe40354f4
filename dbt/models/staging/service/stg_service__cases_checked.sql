{{ stage_entity(
    source('service', 'service__cases'),
    key=['case_id', 'updated_at'],
    columns={
        'case_id':            'string',
        'customer_ref':       {'kind': 'contact_point', 'type_column': 'customer_ref_type'},
        'customer_ref_type':  {'kind': 'code', 'values': ['account_number', 'email', 'phone']},
        'channel':            'channel_code',
        'category':           {'kind': 'code', 'values': ['billing', 'card', 'loan', 'fees', 'service_quality', 'technical', 'other']},
        'is_complaint':       'boolean',
        'priority':           {'kind': 'code', 'values': ['low', 'medium', 'high']},
        'opened_at':          'event_timestamp',
        'closed_at':          'event_timestamp',
        'escalated':          'boolean',
        'satisfaction_score': 'integer',
        'status':             {'kind': 'code', 'values': ['open', 'closed']},
        'updated_at':         'event_timestamp',
    },
) }}
