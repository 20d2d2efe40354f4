{{ stage_entity(
    source('callcentre', 'callcentre__calls'),
    key=['call_id'],
    columns={
        'call_id':                'string',
        'caller_phone':           'phone',
        'account_number':         'string',
        'agent_id':               'string',
        'started_at':             'event_timestamp',
        'wait_seconds':           'integer',
        'duration_seconds':       'integer',
        'reason_code':            {'kind': 'code', 'values': ['balance', 'card', 'loan', 'complaint', 'technical', 'sales', 'other']},
        'resolution':             {'kind': 'code', 'values': ['resolved', 'transferred', 'callback', 'abandoned']},
        'first_contact_resolved': 'boolean',
    },
) }}
