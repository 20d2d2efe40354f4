{#- billing.transactions: the amount is signed; purchases, fees and interest must be positive, refunds negative. -#}
{{ stage_entity(
    source('billing', 'billing__transactions'),
    key=['txn_id'],
    columns={
        'txn_id':         'string',
        'account_number': 'string',
        'holding_id':     'string',
        'product_code':   'product_code',
        'txn_ts':         'event_timestamp',
        'amount':         'decimal',
        'currency':       'upper',
        'txn_type':       {'kind': 'code', 'values': ['purchase', 'fee', 'refund', 'interest']},
        'channel':        'channel_code',
    },
    checks={
        'NEGATIVE_AMOUNT': [
            "txn_type in ('purchase', 'fee', 'interest') and amount <= 0",
            "txn_type = 'refund' and amount >= 0",
        ],
    },
) }}
