{#- customer_360 holds exactly the parties of dim_customer that are not bare contacts: returns each
    party missing from it, and each row of a party dim_customer does not have or calls a contact.
    (Was a GX row-count check on the whole table; the GX suite now reads only the rows written
    since its last pass, as dim_customer's does.) -#}
select
    coalesce(c.party_id, p.party_id) as party_id,
    case when p.party_id is null then 'customer or prospect missing from customer_360'
         when c.party_id is null then 'not a party of dim_customer'
         else 'a bare contact in customer_360' end as problem
from {{ ref('dim_customer') }} as c
full outer join {{ ref('customer_360') }} as p on p.party_id = c.party_id
where (p.party_id is null and c.customer_status <> 'contact')
    or (p.party_id is not null and (c.party_id is null or c.customer_status = 'contact'))
