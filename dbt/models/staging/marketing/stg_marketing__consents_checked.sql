{{ stage_entity(
    source('marketing', 'marketing__consents'),
    key=['consent_id'],
    columns={
        'consent_id':    'string',
        'subject_type':  {'kind': 'code', 'values': ['email', 'phone']},
        'subject_value': {'kind': 'contact_point', 'type_column': 'subject_type'},
        'purpose':       {'kind': 'code', 'values': ['marketing', 'profiling']},
        'channel':       {'kind': 'code', 'values': ['email', 'sms', 'phone', 'post']},
        'granted':       'boolean',
        'recorded_at':   'event_timestamp',
    },
) }}
