"""analytics.customer_segments: one row per individual party with every segment it is in.

The as-of date is the latest transaction in the warehouse (as dim_customer's activity window),
so an old extract still reads sensibly and a re-run on the same data gives the same date.
Age groups are fixed bands (``AGE_BANDS``); the preferred channel is the channel of most
customer-chosen touchpoints in the last ``PREFERRED_CHANNEL_DAYS`` days. RFM, lifecycle and
product affinity come from their own modules.
"""

from datetime import date

import duckdb

from dagster_project.analytics.affinity import build_affinity
from dagster_project.analytics.lifecycle import build_lifecycle
from dagster_project.analytics.rfm import build_rfm

# (label, lowest age, highest age); ages in whole years on the as-of date
AGE_BANDS = (("under_18", 0, 17), ("18-24", 18, 24), ("25-34", 25, 34), ("35-44", 35, 44), ("45-54", 45, 54),
             ("55-64", 55, 64), ("65+", 65, 200))
UNKNOWN_AGE = "unknown"
PREFERRED_CHANNEL_DAYS = 180
# Touchpoints the customer did not choose: bank decisions and notices (back office) and email we
# sent or that bounced. Opening or clicking an email is the customer's choice and counts.
NOT_CHOSEN = "channel = 'back_office' or interaction_type in ('email_send', 'email_bounce')"


def warehouse_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The latest transaction date in the warehouse; segments are computed as of that day."""
    as_of = con.execute("select max(occurred_on) from marts.fct_transactions").fetchall()[0][0]
    if as_of is None:
        raise ValueError("marts.fct_transactions is empty: no as-of date for segments")
    return as_of


def age_group_sql(dob: str, as_of: str) -> str:
    bands = " ".join(f"when date_sub('year', {dob}, {as_of}) between {lo} and {hi} then '{label}'"
                     for label, lo, hi in AGE_BANDS)
    return f"case {bands} else '{UNKNOWN_AGE}' end"


def build_preferred_channel(con: duckdb.DuckDBPyConnection, as_of: date, days: int = PREFERRED_CHANNEL_DAYS) -> None:
    """Temp table ``preferred_channel``: most touchpoints wins, then the most recent, then the channel code."""
    con.execute(f"""
        create or replace temp table preferred_channel as
        with counts as (
            select party_id, channel, count(*) as touchpoints, max(occurred_at) as last_at
            from marts.fct_interactions
            where party_id is not null and occurred_on > $as_of - {int(days)} and occurred_on <= $as_of
              and not ({NOT_CHOSEN})
            group by party_id, channel
        )
        select party_id, channel as preferred_channel
        from (select *, row_number() over (partition by party_id order by touchpoints desc, last_at desc, channel) as pick
              from counts)
        where pick = 1
    """, {"as_of": as_of})


def build_customer_segments(con: duckdb.DuckDBPyConnection, as_of: date) -> dict[str, int]:
    """Replace analytics.customer_segments for ``as_of``; returns the lifecycle rules used."""
    build_rfm(con, as_of)
    rules = build_lifecycle(con, as_of)
    build_affinity(con, as_of)
    build_preferred_channel(con, as_of)
    con.execute("create schema if not exists analytics")
    con.execute(f"""
        create or replace table analytics.customer_segments as
        select
            c.party_id,
            cast($as_of as date) as as_of_date,
            r.r as rfm_recency_score,
            r.f as rfm_frequency_score,
            r.m as rfm_monetary_score,
            r.rfm_segment,
            r.recency_days as rfm_recency_days,
            r.frequency as rfm_frequency,
            r.monetary as rfm_monetary,
            l.lifecycle_stage,
            {age_group_sql("c.date_of_birth", "$as_of")} as age_group,
            pc.preferred_channel,
            a.product_affinity_group,
            a.next_best_product
        from marts.dim_customer as c
        left join rfm as r on r.party_id = c.party_id
        left join lifecycle as l on l.party_id = c.party_id
        left join affinity as a on a.party_id = c.party_id
        left join preferred_channel as pc on pc.party_id = c.party_id
        where c.party_type = 'individual'
        order by c.party_id
    """, {"as_of": as_of})
    return rules
