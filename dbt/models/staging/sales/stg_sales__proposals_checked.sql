{{ stage_entity(
    source('sales', 'sales__proposals'),
    key=['proposal_id'],
    columns={
        'proposal_id':    'string',
        'opportunity_id': 'string',
        'sent_at':        'event_timestamp',
        'proposed_value': 'amount',
        'status':         {'kind': 'code', 'values': ['sent', 'accepted', 'rejected']},
    },
) }}
