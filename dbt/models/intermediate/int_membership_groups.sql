{#-
    Membership groups: the association schemes members enrol through (sales schemes), one
    party each. A scheme code seen on a lead or a holding but missing from the scheme list
    still becomes a group (named later, when the list catches up), so no membership is lost.
    group id: 'G' + 16 hex of a hash of the scheme code, stable for as long as the code is.
-#}
with

listed as (
    select scheme_code, max(scheme_name) as scheme_name, max(association_name) as association_name,
        max(discount_rate) as discount_rate, min(started_at) as started_at
    from {{ ref('stg_sales__schemes') }}
    where scheme_code is not null
    group by scheme_code
),

referenced as (
    select scheme_code from {{ ref('stg_marketing__leads') }} where scheme_code is not null
    union
    select scheme_code from {{ ref('int_holdings_current') }} where scheme_code is not null
    union
    select scheme_code from listed
)

select
    {{ dbt.concat(["'G'", "substr(" ~ dbt.hash("r.scheme_code") ~ ", 1, 16)"]) }} as group_party_id,
    r.scheme_code,
    l.scheme_name,
    l.association_name,
    l.discount_rate,
    l.started_at,
    l.scheme_code is not null as is_listed
from referenced as r
left join listed as l on l.scheme_code = r.scheme_code
