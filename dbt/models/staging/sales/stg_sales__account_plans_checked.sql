{{ stage_entity(
    source('sales', 'sales__account_plans'),
    key=['plan_id'],
    columns={
        'plan_id':            'string',
        'org_id':             'string',
        'plan_year':          'integer',
        'target_value':       'amount',
        'account_manager_id': 'string',
    },
) }}
