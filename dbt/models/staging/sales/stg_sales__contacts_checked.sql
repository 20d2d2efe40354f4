{{ stage_entity(
    source('sales', 'sales__contacts'),
    key=['contact_id', 'updated_at'],
    columns={
        'contact_id':   'string',
        'org_id':       'string',
        'first_name':   'name',
        'last_name':    'name',
        'email':        'email',
        'phone':        'phone',
        'job_title':    'string',
        'contact_role': {'kind': 'code', 'values': ['decision_maker', 'user', 'finance']},
        'updated_at':   'event_timestamp',
    },
) }}
