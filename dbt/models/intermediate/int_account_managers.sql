{#-
    Account managers are staff, not customers: each becomes a party of type 'staff' keyed by
    the sales system's account_manager_id, so that "account manager of" is a relationship
    between two parties like any other. Staff are never matched to customer records (the
    sales system gives no personal identifiers for them) and never counted as customers.
    staff id: 'S' + 16 hex of a hash of the account manager id. The name is the one on the
    most recent organisation version that names them.
-#}
with

mentions as (
    select account_manager_id, account_manager_name,
        row_number() over (partition by account_manager_id order by updated_at desc, account_manager_name) as recency
    from {{ ref('stg_sales__organisations') }}
    where account_manager_id is not null
)

select
    {{ dbt.concat(["'S'", "substr(" ~ dbt.hash("account_manager_id") ~ ", 1, 16)"]) }} as staff_party_id,
    account_manager_id,
    account_manager_name
from mentions
where recency = 1
