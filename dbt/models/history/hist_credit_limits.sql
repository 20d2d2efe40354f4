{#-
    Credit limits as SCD type 2, one row per account x credit product and limit period: an
    approved limit change holds from its effective_date until the next approved change of the
    same account and product takes effect. A change names the account and the card product,
    not the holding, and one account can hold two cards, so the key is both. Refused
    requests change nothing. Business time is effective_date; requested_at (when the customer
    asked) and loaded_at (when we learnt of it) are kept. Two approvals effective the same day:
    the later request wins, then the later delivery. A change approved again at the same limit
    extends the period.
-#}
with

approved as (
    select * from {{ ref('stg_credit__limit_changes') }}
    where decision = 'approved'
),

periods as (
    select * from {{ scd2_periods(
        'approved', ['account_number', 'product_code'], 'effective_date', ['new_limit'],
        carried_columns=['change_id', 'old_limit', 'requested_limit', 'requested_at', 'reason'],
        tie_breakers=['requested_at desc', '_loaded_at desc', '_source_file desc', '_row_number desc'],
    ) }} as p
)

select
    p.account_number,
    holders.party_id,
    p.product_code,
    p.new_limit as credit_limit,
    p.old_limit as previous_limit,
    p.requested_limit,
    p.change_id,
    p.reason,
    p.requested_at,
    p.valid_from,
    p.valid_to,
    p.is_current,
    p.last_stated_at,
    p.version_count,
    p.loaded_at
from periods as p
left join {{ source('integration', 'party_identifiers') }} as holders
    on holders.id_type = 'account_number' and holders.id_value = p.account_number
