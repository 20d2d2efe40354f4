{{ stage_entity(
    source('sales', 'sales__organisations'),
    key=['org_id', 'updated_at'],
    columns={
        'org_id':               'string',
        'org_name':             'name',
        'registration_number':  'string',
        'industry':             'string',
        'employee_count':       'integer',
        'city':                 'string',
        'account_manager_id':   'string',
        'account_manager_name': 'name',
        'is_employer_scheme':   'boolean',
        'updated_at':           'event_timestamp',
    },
) }}
