"""RFM: recency, frequency and monetary quintile scores, and the named segment they fall in.

Who is scored: every individual with at least one revenue transaction (marts.fct_transactions,
``counts_as_revenue``). Recency and frequency read *purchases* only: fees and interest are
charged by the bank and keep coming after a customer stops buying, so they say nothing about
behaviour. Monetary is net revenue (purchases, fees and interest, less refunds): what the
customer is worth. Frequency and monetary count the last ``RFM_WINDOW_DAYS`` before the as-of
date, so a long-standing customer's old habits do not hide that they buy less now.

Scores are quintiles by rank: ``1 + floor(5 * (rank - 1) / n)`` with ties at their lowest
rank, so equal values always get equal scores (many customers share a purchase count) and the
worst group is always 1. A customer who never bought has the worst recency. The segment is the
first rule of seed ``rfm_segments`` (in ``rule_order``) whose score ranges hold the customer.
"""

from datetime import date

import duckdb

RFM_WINDOW_DAYS = 365
SEGMENTS_SEED = "reference.rfm_segments"


def _quintile(order_by: str) -> str:
    return f"cast(1 + floor(5.0 * (rank() over (order by {order_by}) - 1) / count(*) over ()) as integer)"


def build_rfm(con: duckdb.DuckDBPyConnection, as_of: date, window_days: int = RFM_WINDOW_DAYS) -> int:
    """Create temp table ``rfm`` (party_id, recency_days, frequency, monetary, r, f, m, rfm_segment); returns rows."""
    con.execute(f"""
        create or replace temp table rfm as
        with revenue as (
            select t.party_id,
                max(case when t.transaction_type = 'purchase' then t.occurred_on end) as last_purchase_on,
                count(case when t.transaction_type = 'purchase' and t.occurred_on > $window_start then 1 end) as frequency,
                coalesce(sum(case when t.occurred_on > $window_start then t.amount end), 0) as monetary
            from marts.fct_transactions as t
            join marts.dim_customer as c on c.party_id = t.party_id and c.party_type = 'individual'
            where t.counts_as_revenue and t.occurred_on <= $as_of
            group by t.party_id
        ),
        scored as (
            select party_id,
                date_diff('day', last_purchase_on, $as_of) as recency_days,
                frequency,
                cast(monetary as decimal(18, 2)) as monetary,
                {_quintile("date_diff('day', last_purchase_on, $as_of) desc nulls first")} as r,
                {_quintile("frequency")} as f,
                {_quintile("monetary")} as m
            from revenue
        ),
        named as (
            select s.party_id, s.r, s.f, s.m, rules.segment,
                row_number() over (partition by s.party_id order by rules.rule_order) as match_order
            from scored as s
            join {SEGMENTS_SEED} as rules
                on s.r between rules.r_min and rules.r_max
                and s.f between rules.f_min and rules.f_max
                and s.m between rules.m_min and rules.m_max
        )
        select s.*, n.segment as rfm_segment
        from scored as s
        left join named as n on n.party_id = s.party_id and n.match_order = 1
    """, {"as_of": as_of, "window_start": date.fromordinal(as_of.toordinal() - window_days)})
    return con.execute("select count(*) from rfm").fetchall()[0][0]


def segment_of(rules: list[dict], r: int, f: int, m: int) -> str | None:
    """The first rule holding (r, f, m): the same rule as the SQL, for checking a seed's coverage."""
    for rule in sorted(rules, key=lambda x: int(x["rule_order"])):
        if (int(rule["r_min"]) <= r <= int(rule["r_max"]) and int(rule["f_min"]) <= f <= int(rule["f_max"])
                and int(rule["m_min"]) <= m <= int(rule["m_max"])):
            return rule["segment"]
    return None
