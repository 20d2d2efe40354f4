{#- The current period of every customer in dim_customer_history equals dim_customer: same
    parties, same golden values and household. Returns the parties that differ. -#}
{%- set columns = ['party_type', 'first_name', 'last_name', 'full_name', 'date_of_birth', 'email', 'phone',
                   'address_line', 'city', 'postcode', 'household_id'] -%}
select
    coalesce(c.party_id, h.party_id) as party_id,
    case when c.party_id is null then 'missing in dim_customer'
         when h.party_id is null then 'no current period'
         else 'values differ' end as problem
from {{ ref('dim_customer') }} as c
full outer join (
    select * from {{ ref('dim_customer_history') }} where is_current
) as h on h.party_id = c.party_id
where c.party_id is null
    or h.party_id is null
    {%- for column in columns %}
    or (c.{{ column }} is null and h.{{ column }} is not null)
    or (c.{{ column }} is not null and h.{{ column }} is null)
    or c.{{ column }} <> h.{{ column }}
    {%- endfor %}
