"""Every query the app runs. All values travel as parameters (``?``), never inside the SQL text,
so nothing typed in the search box can change a query.

Tables other than marts.dim_customer are optional: the analyst may point the app at a copy that
lacks integration tables, and analytics tables appear only once segments and CLV have run. A
function given a missing table returns None, and the page says "not computed yet".
"""

from __future__ import annotations

import duckdb
import pandas as pd

from dagster_project.app.search_terms import SearchTerm

SEARCH_LIMIT = 25
TIMELINE_LIMIT = 500

_SEARCH_COLUMNS = """
    c.party_id, c.party_type, c.full_name, c.email, c.phone, c.city, c.customer_status, c.customer_since
"""
# Customers first, then prospects, then everything else; the name decides within a group.
_SEARCH_ORDER = """
    order by case c.customer_status when 'active' then 0 when 'inactive' then 1 when 'closed' then 2
                  when 'organisation' then 3 when 'prospect' then 4 else 5 end,
             c.full_name, c.party_id
"""


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def search_customers(con: duckdb.DuckDBPyConnection, term: SearchTerm, tables: set[str],
                     limit: int = SEARCH_LIMIT) -> pd.DataFrame:
    """Parties matching the term, at most ``limit``. A name matches when every word is in the
    golden full name (accents and case ignored), an exact full name first. Emails and phones
    match the golden value or, when the integration tables are there, any identifier the party
    was ever seen with (an old number, a second address); other tokens with digits (an account
    number) match identifiers only."""
    if term.kind == "empty":
        return pd.DataFrame()
    condition, params, order, order_params = _search_condition(term, "integration.party_identifiers" in tables)
    sql = f"select {_SEARCH_COLUMNS} from marts.dim_customer as c where ({condition}) {order} limit ?"
    return _frame(con, sql, params + order_params + [limit])


def _search_condition(term: SearchTerm, with_identifiers: bool) -> tuple[str, list, str, list]:
    """(where condition, its parameters, order by, its parameters) for one kind of search term."""
    if term.kind == "name":
        condition = " and ".join(["contains(strip_accents(lower(coalesce(c.full_name, ''))), ?)"] * len(term.words))
        exact_first = _SEARCH_ORDER.replace("order by", "order by strip_accents(lower(c.full_name)) <> ?,", 1)
        return condition, list(term.words), exact_first, [term.value]
    if term.kind == "party_id":
        return "c.party_id = ?", [term.value], _SEARCH_ORDER, []
    golden = {"email": "c.email = ?", "phone": "c.phone = ?", "identifier": None}[term.kind]
    if term.kind == "phone" and not term.value.startswith("+"):
        golden = "contains(c.phone, ?)"  # a fragment of a number: look inside the stored numbers
    parts, params = ([golden], [term.value]) if golden else ([], [])
    if with_identifiers:
        id_type = {"email": "and i.id_type = 'email'", "phone": "and i.id_type = 'phone'"}.get(term.kind, "")
        parts.append(f"""c.party_id in (select i.party_id from integration.party_identifiers as i
                                         where i.id_value = ? {id_type})""")
        params.append(term.value)
    return (" or ".join(parts) or "false"), params, _SEARCH_ORDER, []


def golden_record(con: duckdb.DuckDBPyConnection, party_id: str, tables: set[str]) -> dict | None:
    """customer_360's row (dim_customer's for parties customer_360 leaves out, e.g. contacts)."""
    for table in ("marts.customer_360", "marts.dim_customer"):
        if table in tables:
            frame = _frame(con, f"select * from {table} where party_id = ?", [party_id])
            if len(frame):
                return _record(frame)
    return None


def latest_row(con: duckdb.DuckDBPyConnection, table: str, party_id: str, tables: set[str]) -> dict | None:
    """The party's row of an analytics table, from its latest as_of_date when it keeps several runs."""
    if table not in tables:
        return None
    has_as_of = "as_of_date" in set(_frame(con, f"select * from {table} limit 0").columns)
    order = "order by as_of_date desc" if has_as_of else ""
    frame = _frame(con, f"select * from {table} where party_id = ? {order} limit 1", [party_id])
    return _record(frame) if len(frame) else {}


def household(con, household_id: str | None, tables: set[str]) -> tuple[dict | None, pd.DataFrame | None]:
    """The household and its members (names, statuses), or (None, None) when not available."""
    if not household_id or "marts.dim_household" not in tables:
        return None, None
    head = _frame(con, "select * from marts.dim_household where household_id = ?", [household_id])
    members = _frame(con, """
        select c.party_id, c.full_name, c.customer_status, c.customer_since, c.date_of_birth
        from marts.dim_customer as c where c.household_id = ? order by c.full_name, c.party_id
    """, [household_id])
    return (_record(head) if len(head) else None), members


def organisation(con, organisation_party_id: str | None, tables: set[str]) -> dict | None:
    if not organisation_party_id or "marts.dim_organisation" not in tables:
        return None
    frame = _frame(con, "select * from marts.dim_organisation where organisation_party_id = ?",
                   [organisation_party_id])
    return _record(frame) if len(frame) else None


def relationships(con, party_id: str, tables: set[str]) -> pd.DataFrame | None:
    """Every relationship the party is on either end of, current first."""
    if "marts.fct_party_relationships" not in tables:
        return None
    return _frame(con, """
        select case when from_party_id = ? then 'this party' else from_party_name end as "from",
               relationship_type,
               case when to_party_id = ? then 'this party' else to_party_name end as "to",
               case when from_party_id = ? then to_party_id else from_party_id end as other_party_id,
               is_current, valid_from, valid_to
        from marts.fct_party_relationships
        where from_party_id = ? or to_party_id = ?
        order by is_current desc, relationship_type, valid_from
    """, [party_id] * 5)


def products(con, party_id: str, tables: set[str]) -> pd.DataFrame | None:
    """Product holdings (integration) with product names, or revenue per product from the marts."""
    names = "reference.products" in tables
    if "integration.int_holdings_current" in tables:
        name_join = "left join reference.products as p on p.product_code = h.product_code" if names else ""
        name_col = "p.product_name" if names else "h.product_code"
        return _frame(con, f"""
            select h.product_code, {name_col} as product_name, h.is_active, h.start_date, h.end_date,
                   h.account_number, h.monthly_fee, h.acquisition_channel
            from integration.int_holdings_current as h {name_join}
            where h.party_id = ?
            order by h.is_active desc, h.start_date desc, h.holding_id
        """, [party_id])
    if "marts.fct_transactions" in tables:
        return _frame(con, """
            select product_code, count(*) as transactions, sum(amount) as amount,
                   min(occurred_on) as first_on, max(occurred_on) as last_on
            from marts.fct_transactions where party_id = ? and product_code is not null
            group by product_code order by last_on desc
        """, [party_id])
    return None


def timeline(con, party_id: str, tables: set[str], limit: int = TIMELINE_LIMIT) -> pd.DataFrame | None:
    """Touchpoints across every channel and department, newest first."""
    if "marts.fct_interactions" not in tables:
        return None
    return _frame(con, """
        select occurred_at, channel, department, interaction_type, outcome, detail, amount, source_system
        from marts.fct_interactions where party_id = ?
        order by occurred_at desc, interaction_id limit ?
    """, [party_id, limit])


def touchpoints_by_channel(con, party_id: str, tables: set[str]) -> pd.DataFrame | None:
    """Touchpoint counts per channel and department (all of them, not only the timeline's last rows)."""
    if "marts.fct_interactions" not in tables:
        return None
    return _frame(con, """
        select channel, department, count(*) as touchpoints, max(occurred_at) as last_at
        from marts.fct_interactions where party_id = ?
        group by channel, department order by touchpoints desc, channel, department
    """, [party_id])


def service_cases(con, party_id: str, tables: set[str]) -> pd.DataFrame | None:
    """Open cases first (complaints before requests), then the closed ones."""
    if "marts.fct_service_cases" not in tables:
        return None
    return _frame(con, """
        select case_id, is_complaint, category, priority, status, channel, opened_at, closed_at,
               escalated, satisfaction_score
        from marts.fct_service_cases where party_id = ?
        order by is_open desc, is_complaint desc, opened_at desc
    """, [party_id])


def _record(frame: pd.DataFrame) -> dict:
    """First row as a dict of plain Python values (NaN/NaT become None)."""
    row = frame.iloc[0]
    return {column: (None if _missing(value) else _plain(value)) for column, value in row.items()}


def _missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value):
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return value.item()
    return value


# --- the segments and CLV page ------------------------------------------------------------------

SEGMENT_COLUMNS = ("rfm_segment", "lifecycle_stage", "preferred_channel", "next_best_product", "age_group",
                   "product_affinity_group")


def _latest_rows(con, table: str) -> str:
    """FROM clause with the table's latest as_of_date only, when it keeps several runs' rows."""
    if "as_of_date" in set(_frame(con, f"select * from {table} limit 0").columns):
        return f"(select * from {table} where as_of_date = (select max(as_of_date) from {table}))"
    return table


def status_counts(con) -> pd.DataFrame:
    """Parties by customer_status (dim_customer is always there)."""
    return _frame(con, """
        select customer_status, count(*) as parties from marts.dim_customer
        where party_type <> 'unidentified' group by customer_status order by parties desc, customer_status
    """)


def segment_counts(con, column: str, tables: set[str]) -> pd.DataFrame | None:
    """Individuals per value of one segment column; None when segments are not computed yet."""
    if column not in SEGMENT_COLUMNS:
        raise ValueError(f"not a segment column: {column}")
    table = "analytics.customer_segments"
    if table not in tables or column not in set(_frame(con, f"select * from {table} limit 0").columns):
        return None
    return _frame(con, f"""
        select coalesce(cast({column} as varchar), '(none)') as {column}, count(*) as parties
        from {_latest_rows(con, table)} group by 1 order by parties desc, 1
    """)


def clv_by_tier(con, tables: set[str]) -> pd.DataFrame | None:
    """Customers, average and total net CLV and average p_alive per value tier."""
    table = "analytics.customer_clv"
    if table not in tables:
        return None
    return _frame(con, f"""
        select value_tier, count(*) as customers,
               round(avg(cast(net_clv as double)), 2) as avg_net_clv,
               round(sum(cast(net_clv as double)), 2) as total_net_clv,
               round(avg(p_alive), 4) as avg_p_alive
        from {_latest_rows(con, table)} group by value_tier order by avg_net_clv desc
    """)


def clv_distribution(con, tables: set[str], bins: int = 20) -> pd.DataFrame | None:
    """Customers per net CLV band (equal-width bands between the 1st and 99th percentile)."""
    table = "analytics.customer_clv"
    if table not in tables:
        return None
    values = _frame(con, f"select cast(net_clv as double) as net_clv, p_alive from {_latest_rows(con, table)}")
    if values.empty:
        return values
    low, high = values["net_clv"].quantile([0.01, 0.99])
    clipped = values["net_clv"].clip(low, high)
    bands = pd.cut(clipped, bins=bins)
    counts = bands.value_counts(sort=False)
    return pd.DataFrame({"net_clv_band": [f"{i.left:,.0f} – {i.right:,.0f}" for i in counts.index],
                         "customers": counts.to_numpy()})


def risk_by_tier(con, tables: set[str]) -> pd.DataFrame | None:
    """Customers per value tier and lifecycle stage: the valuable ones at risk stand out."""
    if "analytics.customer_clv" not in tables or "analytics.customer_segments" not in tables:
        return None
    return _frame(con, f"""
        select v.value_tier, coalesce(s.lifecycle_stage, '(none)') as lifecycle_stage, count(*) as customers,
               avg(avg(cast(v.net_clv as double))) over (partition by v.value_tier) as tier_avg_net_clv
        from {_latest_rows(con, 'analytics.customer_clv')} as v
        left join {_latest_rows(con, 'analytics.customer_segments')} as s on s.party_id = v.party_id
        group by 1, 2 order by tier_avg_net_clv desc, 1, 2
    """)


def top_customers(con, tables: set[str], limit: int = 20) -> pd.DataFrame | None:
    """The most valuable customers by net CLV, with name, tier and churn risk."""
    if "analytics.customer_clv" not in tables:
        return None
    return _frame(con, f"""
        select v.party_id, c.full_name, v.value_tier, v.net_clv, round(1 - v.p_alive, 4) as churn_risk
        from {_latest_rows(con, 'analytics.customer_clv')} as v
        left join marts.dim_customer as c on c.party_id = v.party_id
        order by v.net_clv desc, v.party_id limit ?
    """, [limit])
