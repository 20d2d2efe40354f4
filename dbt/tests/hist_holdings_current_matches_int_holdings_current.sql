{#- The current holding history is the current holding state (int_holdings_current): same
    holdings, holders, payers, dates and status. Returns the holdings where they disagree. -#}
select coalesce(h.holding_id, c.holding_id) as holding_id
from (select * from {{ ref('hist_holdings') }} where is_current) as h
full outer join {{ ref('int_holdings_current') }} as c on c.holding_id = h.holding_id
where h.holding_id is null or c.holding_id is null
    or {{ values_differ('h.party_id', 'c.party_id') }}
    or {{ values_differ('h.payer_party_id', 'c.payer_party_id') }}
    or {{ values_differ('h.product_code', 'c.product_code') }}
    or {{ values_differ('h.start_date', 'c.start_date') }}
    or {{ values_differ('h.end_date', 'c.end_date') }}
    or h.is_active <> c.is_active
