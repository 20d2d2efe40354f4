{#-
    Membership groups: the association schemes members enrol through (sales schemes), one
    party each. A scheme code seen on a lead or a holding but missing from the scheme list
    still becomes a group (named later, when the list catches up), so no membership is lost.
    The names are the scheme's latest period in hist_schemes (the list is a full extract: a
    scheme dropped from it keeps its last name but is no longer is_listed).
    group id: 'G' + 16 hex of a hash of the scheme code, stable for as long as the code is.
-#}
with

latest_periods as (
    select scheme_code, scheme_name, association_name, discount_rate, started_at, is_current,
        row_number() over (partition by scheme_code order by valid_from desc) as period_rank
    from {{ ref('hist_schemes') }}
    where scheme_code is not null
),

listed as (
    select scheme_code, scheme_name, association_name, discount_rate, started_at, is_current
    from latest_periods
    where period_rank = 1
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
    coalesce(l.is_current, false) as is_listed
from referenced as r
left join listed as l on l.scheme_code = r.scheme_code
