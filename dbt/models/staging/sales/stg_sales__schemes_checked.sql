{{ stage_entity(
    source('sales', 'sales__schemes'),
    key=['scheme_code'],
    columns={
        'scheme_code':      'string',
        'scheme_name':      'string',
        'association_name': 'string',
        'discount_rate':    'decimal',
        'started_at':       'date',
    },
    full_extract=true,
) }}
