{#-
    "Exactly how many customers": one row per measure, each with its definition. The customer
    measures are counts of dim_customer's customer_status, so they reconcile with it by
    construction (people = customers + prospects; customers = active + lapsed + former), and
    the party measures count the party model (int_parties). as_of is the reference date of
    the activity window (the latest transaction in the warehouse).
-#}
{%- set window = var("customer_active_days", 180) -%}
{%- set measures = [
    ('people', 'individual', "party_type = 'individual'",
     'Distinct people: individuals after identity resolution, customers and prospects.'),
    ('customers', 'individual', "party_type = 'individual' and customer_status in ('active', 'inactive', 'closed')",
     'People who have ever held a product (customer_status active, inactive or closed).'),
    ('current_customers', 'individual', "party_type = 'individual' and customer_status in ('active', 'inactive')",
     'Customers holding at least one product now (active + lapsed).'),
    ('active_customers', 'individual', "party_type = 'individual' and customer_status = 'active'",
     'Customers holding a product who paid within the last ' ~ window ~ ' days (customer_status active).'),
    ('lapsed_customers', 'individual', "party_type = 'individual' and customer_status = 'inactive'",
     'Customers holding a product with no revenue in the last ' ~ window ~ ' days (customer_status inactive).'),
    ('former_customers', 'individual', "party_type = 'individual' and customer_status = 'closed'",
     'Customers who held products and hold none now (customer_status closed).'),
    ('prospects', 'individual', "party_type = 'individual' and customer_status = 'prospect'",
     'People registered somewhere (lead, web, app, sales contact) who never held a product.'),
    ('contact_only', 'unidentified', "customer_status = 'contact'",
     'Contact points (a phone, an email) seen on touchpoints that no registered record claims.'),
] -%}
with

customers as (
    select * from {{ ref('dim_customer') }}
),

parties as (
    select * from {{ ref('int_parties') }}
),

households as (
    select * from {{ ref('dim_household') }}
),

reference_date as (
    select max(occurred_on) as as_of from {{ ref('fct_transactions') }}
),

counts as (
    {%- for measure, party_type, condition, definition in measures %}
    select {{ loop.index }} as measure_order, '{{ measure }}' as measure, '{{ party_type }}' as party_type,
        count(*) as value, '{{ definition }}' as definition
    from customers where {{ condition }}
    union all
    {%- endfor %}
    select 20, 'households', 'household', count(*),
        'Households: individuals sharing a normalised golden address (a person living alone is one).'
    from households
    union all
    select 21, 'customer_households', 'household', count(*),
        'Households with at least one member holding a product now.'
    from households where current_customer_member_count > 0
    union all
    select 30, 'organisations', 'organisation', count(*),
        'Organisations: business accounts in the sales system.'
    from parties where party_type = 'organisation'
    union all
    select 40, 'membership_groups', 'membership_group', count(*),
        'Membership groups: association schemes members enrol through.'
    from parties where party_type = 'membership_group'
    union all
    select 41, 'scheme_members', 'individual', count(distinct from_party_id),
        'People who are members of at least one membership group now.'
    from {{ ref('int_party_relationships') }} where relationship_type = 'member_of' and is_current
)

select
    cast(c.measure_order as integer) as measure_order,
    c.measure,
    c.party_type,
    cast(c.value as bigint) as value,
    c.definition,
    rd.as_of
from counts as c
cross join reference_date as rd
