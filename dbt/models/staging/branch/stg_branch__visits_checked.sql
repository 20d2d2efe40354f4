{{ stage_entity(
    source('branch', 'branch__visits'),
    key=['visit_id'],
    date_format='DD/MM/YYYY',
    timestamp_format='DD/MM/YYYY HH:MM',
    columns={
        'visit_id':       'string',
        'account_number': 'string',
        'branch_code':    'branch_code',
        'visit_ts':       'event_timestamp',
        'purpose':        {'kind': 'code', 'values': ['enquiry', 'deposit', 'withdrawal', 'account_opening', 'complaint', 'advice']},
        'outcome':        {'kind': 'code', 'values': ['served', 'referred', 'left_before_served']},
    },
) }}
