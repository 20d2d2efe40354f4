{{ stage_entity(
    source('marketing', 'marketing__leads'),
    key=['lead_id'],
    columns={
        'lead_id':                    'string',
        'first_name':                 'name',
        'last_name':                  'name',
        'email':                      'email',
        'phone':                      'phone',
        'campaign_code':              'string',
        'scheme_code':                'string',
        'referred_by_account_number': 'string',
        'captured_at':                'event_timestamp',
    },
) }}
