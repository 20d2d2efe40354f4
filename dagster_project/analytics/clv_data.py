"""What the CLV model reads from the warehouse: purchase days, contact costs, acquisition costs.

A *purchase* is a billing row of type ``purchase`` (``counts_as_revenue``) of an individual
(``dim_customer.party_type = 'individual'``): the act the customer chooses to repeat. Fees and
interest follow from the products held, not from a decision to buy again, and refunds undo a
purchase, so none of them drives the repeat-purchase model. Purchases on one day are one
purchase occasion (the model's time unit is a day). Margin = amount × the product's
``margin_rate`` (seed products; the catalogue's average rate when the product is unknown).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pandas as pd

# Touchpoints that cost money to serve a customer: everything the service and operations
# departments handle (calls, cases, branch visits, teller transactions, web and app sessions).
SERVICE_DEPARTMENTS = ("service", "operations")

# The model counts days as days since this date (the SQL below: date_diff('day', date '1970-01-01', ...)).
EPOCH = date(1970, 1, 1)


def day_number(d: date) -> int:
    return (d - EPOCH).days


def day_date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


def as_of_date(con: duckdb.DuckDBPyConnection) -> date:
    """The latest transaction in the warehouse: "now" for the model, so an old extract reads sensibly."""
    return con.execute("select max(occurred_on) from marts.fct_transactions").fetchall()[0][0]


def purchase_days_sql(as_of: date) -> str:
    """SQL relation: one row per individual and purchase day up to ``as_of``: party_id, day (days since
    EPOCH), amount, margin (decimals, summed exactly)."""
    return f"""(
        with catalogue as (  -- a decimal, so margins sum exactly: double sums would depend on the threads' order
            select cast(avg(margin_rate) as decimal(18, 10)) as average_rate from reference.products
        )
        select t.party_id,
               cast(date_diff('day', date '1970-01-01', t.occurred_on) as bigint) as day,
               sum(t.amount) as amount,
               sum(cast(t.amount as decimal(38, 2)) * coalesce(p.margin_rate, catalogue.average_rate)) as margin
        from marts.fct_transactions as t
        join marts.dim_customer as c on c.party_id = t.party_id and c.party_type = 'individual'
        left join reference.products as p on p.product_code = t.product_code
        cross join catalogue
        where t.counts_as_revenue and t.transaction_type = 'purchase' and t.amount > 0
            and t.occurred_on <= date '{as_of.isoformat()}'
        group by t.party_id, t.occurred_on
    )"""


def purchase_summaries(con: duckdb.DuckDBPyConnection, days: str, end_day: int, cutoff_day: int,
                       recent_after_day: int) -> pd.DataFrame:
    """Per party with a purchase day up to ``end_day``, in one pass over the purchase days ``days``
    (an SQL relation with party_id, day, amount, margin; e.g. purchase_days_sql):

    - first_day, last_day, days, amount, first_amount (of the first day), margin over the days up to
      ``end_day`` (the fit), and the same prefixed ``cal_`` over those up to ``cutoff_day`` (the
      holdout's calibration; NULL / 0 for a party first seen after it): what rfm_table reads;
    - ``holdout_purchases``: purchase days in (cutoff_day, end_day];
    - ``recent_margin``: the margin of the purchase days after ``recent_after_day`` (current value).

    Why aggregates and not the purchase days: at a million people the days are 10 M rows, 7 s to
    fetch into pandas and 5 s more to group there, for 0.6 M customers' figures. Amounts stay
    decimal until summed, so the sums do not depend on the order DuckDB's threads add them in.
    """
    cal = "day <= $cutoff"
    return con.execute(f"""
        select party_id,
            min(day) as first_day, max(day) as last_day, count(*) as days,
            cast(sum(amount) as double) as amount, cast(arg_min(amount, day) as double) as first_amount,
            cast(sum(margin) as double) as margin,
            min(day) filter (where {cal}) as cal_first_day, max(day) filter (where {cal}) as cal_last_day,
            count(*) filter (where {cal}) as cal_days,
            cast(sum(amount) filter (where {cal}) as double) as cal_amount,
            cast(arg_min(amount, day) filter (where {cal}) as double) as cal_first_amount,
            cast(sum(margin) filter (where {cal}) as double) as cal_margin,
            count(*) filter (where day > $cutoff) as holdout_purchases,
            cast(coalesce(sum(margin) filter (where day > $recent), 0) as double) as recent_margin
        from {days} as purchase_days
        where day <= $end
        group by party_id
        order by party_id
    """, {"end": end_day, "cutoff": cutoff_day, "recent": recent_after_day}).df().set_index("party_id")


def customer_acquisition(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per individual customer: acquisition channel and campaign, and what acquiring them cost.

    CAC of a campaign-acquired customer = the campaign's spend (latest version of the campaign
    row) ÷ the customers credited to that campaign. A customer without a campaign (walk-in,
    referral, self-service sign-up) costs one contact of the acquisition channel (seed
    contact_cost_rates): the onboarding contact; no other spend is attributed to them.
    """
    return con.execute("""
        with campaigns as (
            select campaign_code, cast(cost as double) as cost,
                   row_number() over (partition by campaign_code order by updated_at desc, _loaded_at desc) as version
            from staging.stg_marketing__campaigns
        ),
        customers as (
            select party_id, acquisition_channel, acquisition_campaign
            from marts.dim_customer
            where party_type = 'individual' and is_customer
        ),
        acquired as (
            select acquisition_campaign, count(*) as customers from customers
            where acquisition_campaign is not null group by acquisition_campaign
        )
        select c.party_id, c.acquisition_channel, c.acquisition_campaign,
               case when c.acquisition_campaign is not null then coalesce(k.cost, 0) / a.customers
                    else coalesce(cast(r.cost_per_contact as double), 0) end as acquisition_cost
        from customers as c
        left join acquired as a on a.acquisition_campaign = c.acquisition_campaign
        left join campaigns as k on k.campaign_code = c.acquisition_campaign and k.version = 1
        left join reference.contact_cost_rates as r on r.channel_code = c.acquisition_channel
    """).df()


def contact_cost_since(con: duckdb.DuckDBPyConnection, start_day: pd.Series, as_of: date) -> pd.Series:
    """Per party of ``start_day`` (days since 1970-01-01): cost of its service and operations
    contacts on the days after its start day, up to ``as_of`` (seed contact_cost_rates).

    Summed in DuckDB, one row per party back: fetching a row per party and day (10 M at a
    million people) and filtering them in pandas took 23 of the CLV step's 38 s.
    """
    departments = ", ".join(f"'{d}'" for d in SERVICE_DEPARTMENTS)
    starts = pd.DataFrame({"party_id": start_day.index, "start_day": start_day.to_numpy(dtype="int64")})
    earliest = day_date(starts["start_day"].min()) if len(starts) else as_of
    con.register("_clv_contact_start", starts)
    try:
        cost = con.execute(f"""
            select i.party_id, cast(sum(coalesce(r.cost_per_contact, 0)) as double) as cost
            from marts.fct_interactions as i
            join _clv_contact_start as s on s.party_id = i.party_id
            left join reference.contact_cost_rates as r on r.channel_code = i.channel
            where i.department in ({departments})
              and i.occurred_on > ? and i.occurred_on <= ?
              and date_diff('day', date '1970-01-01', i.occurred_on) > s.start_day
            group by i.party_id
        """, [earliest, as_of]).df()
    finally:
        con.unregister("_clv_contact_start")
    return cost.set_index("party_id")["cost"]


def value_tier_rules(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Seed value_tiers, best tier first."""
    return con.execute("""
        select tier_order, value_tier, cast(min_future_percentile as double) as min_future_percentile,
               cast(min_current_percentile as double) as min_current_percentile
        from reference.value_tiers order by tier_order
    """).df()
