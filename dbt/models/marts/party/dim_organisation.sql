{#-
    One row per organisation (a business account in the sales system, a party of type
    organisation): its details from the latest version, its account manager, and how many
    people are known to work there (current employee_of) and are customers.
-#}
with

organisations as (
    select ids.party_id, o.*,
        row_number() over (partition by ids.party_id order by o.org_id) as record_order
    from {{ latest_versions(ref('stg_sales__organisations'), 'org_id') }} as o
    join {{ source('integration', 'party_identifiers') }} as ids on ids.id_type = 'org_id' and ids.id_value = o.org_id
),

relationships as (
    select * from {{ ref('int_party_relationships') }} where is_current
),

employees as (
    select r.to_party_id as organisation_party_id,
        count(*) as known_employee_count,
        count(case when c.is_customer then 1 end) as customer_employee_count,
        count(case when c.customer_status in ('active', 'inactive') then 1 end) as current_customer_employee_count
    from relationships as r
    join {{ ref('dim_customer') }} as c on c.party_id = r.from_party_id
    where r.relationship_type = 'employee_of'
    group by r.to_party_id
),

contacts as (
    select org_id, count(*) as contact_count
    from {{ ref('int_party_records') }}
    where source_system = 'sales' and source_entity = 'contacts' and org_id is not null
    group by org_id
),

sponsored as (
    select sponsor_party_id, count(*) as sponsored_active_holdings
    from {{ ref('int_holdings_current') }}
    where is_active and sponsor_party_id is not null
    group by sponsor_party_id
),

managers as (
    select r.to_party_id as organisation_party_id, min(r.from_party_id) as account_manager_party_id
    from relationships as r
    where r.relationship_type = 'account_manager_of'
    group by r.to_party_id
)

select
    o.party_id as organisation_party_id,
    o.org_id,
    o.org_name,
    o.registration_number,
    o.industry,
    o.city,
    o.employee_count as reported_employee_count,
    o.is_employer_scheme,
    m.account_manager_party_id,
    am.account_manager_id,
    am.account_manager_name,
    coalesce(ct.contact_count, 0) as contact_count,
    coalesce(e.known_employee_count, 0) as known_employee_count,
    coalesce(e.customer_employee_count, 0) as customer_employee_count,
    coalesce(e.current_customer_employee_count, 0) as current_customer_employee_count,
    coalesce(s.sponsored_active_holdings, 0) as sponsored_active_holdings,
    o.updated_at as last_updated_at
from organisations as o
left join managers as m on m.organisation_party_id = o.party_id
left join {{ ref('int_account_managers') }} as am on am.staff_party_id = m.account_manager_party_id
left join employees as e on e.organisation_party_id = o.party_id
left join contacts as ct on ct.org_id = o.org_id
left join sponsored as s on s.sponsor_party_id = o.party_id
where o.record_order = 1
