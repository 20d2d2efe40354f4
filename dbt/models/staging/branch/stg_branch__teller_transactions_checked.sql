{{ stage_entity(
    source('branch', 'branch__teller_transactions'),
    key=['txn_id'],
    date_format='DD/MM/YYYY',
    timestamp_format='DD/MM/YYYY HH:MM',
    columns={
        'txn_id':         'string',
        'account_number': 'string',
        'branch_code':    'branch_code',
        'txn_ts':         'event_timestamp',
        'txn_type':       {'kind': 'code', 'values': ['deposit', 'withdrawal', 'cheque']},
        'amount':         'amount',
        'currency':       'upper',
    },
) }}
