"""Segment rules on hand-made tables, with exact expected values: RFM scores and names,
lifecycle stages, age groups, preferred channel, product affinity and next best product, key
accounts, and the membership history's idempotence. The rules are the project's own seeds."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from itertools import product

import duckdb
import pytest

from dagster_project.analytics.affinity import build_affinity
from dagster_project.analytics.key_accounts import build_key_accounts
from dagster_project.analytics.lifecycle import build_lifecycle
from dagster_project.analytics.membership import held_on, write_membership
from dagster_project.analytics.rfm import build_rfm, segment_of
from dagster_project.analytics.segments import age_group_sql, build_customer_segments, build_preferred_channel
from dagster_project.settings import PROJECT_ROOT

AS_OF = date(2026, 6, 30)
SEEDS = PROJECT_ROOT / "seeds"
SEED_TYPES = {
    "products": "product_code varchar, product_name varchar, category varchar, is_credit boolean, margin_rate decimal(9,4), "
                "typical_monthly_fee decimal(18,2)",
    "rfm_segments": "rule_order integer, segment varchar, r_min integer, r_max integer, f_min integer, f_max integer, "
                    "m_min integer, m_max integer, description varchar",
    "lifecycle_rules": "parameter varchar, days integer, description varchar",
    "product_affinity": "priority integer, category varchar, affinity_group varchar, cross_sell boolean, need varchar",
    "key_account_criteria": "criterion varchar, threshold decimal(18,2), description varchar",
}
TABLES = {
    "marts.dim_customer": "party_id varchar, party_type varchar, date_of_birth date, first_seen_at timestamp",
    "marts.fct_transactions": "party_id varchar, holding_id varchar, occurred_on date, amount decimal(18,2), "
                              "transaction_type varchar, counts_as_revenue boolean",
    "marts.fct_interactions": "party_id varchar, channel varchar, department varchar, interaction_type varchar, "
                              "occurred_at timestamp, occurred_on date, outcome varchar",
    "integration.int_holdings_current": "holding_id varchar, party_id varchar, product_code varchar, start_date date, "
                                        "end_date date, sponsor_party_id varchar",
    "marts.dim_organisation": "organisation_party_id varchar, org_id varchar, org_name varchar, reported_employee_count bigint",
    "integration.party_identifiers": "id_type varchar, id_value varchar, party_id varchar",
    "staging.stg_sales__opportunities": "opportunity_id varchar, org_id varchar, stage varchar, amount decimal(18,2), "
                                        "opened_at timestamp, closed_at timestamp, updated_at timestamp",
    "staging.stg_sales__account_plans": "plan_id varchar, org_id varchar, plan_year bigint, target_value decimal(18,2)",
}


def ago(days: int) -> date:
    return AS_OF - timedelta(days=days)


@pytest.fixture
def wh() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse: the real seeds, and empty inputs with the columns the segments read."""
    con = duckdb.connect()
    for schema in ("marts", "integration", "reference", "staging"):
        con.execute(f"create schema {schema}")
    for seed, columns in SEED_TYPES.items():
        con.execute(f"create table reference.{seed} ({columns})")
        con.execute(f"insert into reference.{seed} select * from read_csv('{SEEDS / seed}.csv', header = true, all_varchar = true)")
    for table, columns in TABLES.items():
        con.execute(f"create table {table} ({columns})")
    yield con
    con.close()


def insert(con, table: str, *rows: tuple) -> None:
    width = len(TABLES[table].split(", "))
    for row in rows:
        padded = tuple(row) + (None,) * (width - len(row))
        con.execute(f"insert into {table} values ({', '.join('?' * width)})", padded)


def people(con, *ids: str, dob: date | None = date(1980, 1, 1)) -> None:
    insert(con, "marts.dim_customer", *[(p, "individual", dob, datetime(2020, 1, 1)) for p in ids])


def purchases(con, party: str, days_ago: list[int], amount: float, kind: str = "purchase", revenue: bool = True) -> None:
    insert(con, "marts.fct_transactions", *[(party, None, ago(d), amount, kind, revenue) for d in days_ago])


# --- RFM ------------------------------------------------------------------------------------

def _seed_rules() -> list[dict]:
    with open(SEEDS / "rfm_segments.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_rfm_seed_names_every_score_combination_and_every_segment():
    rules = _seed_rules()
    named = {(r, f, m): segment_of(rules, r, f, m) for r, f, m in product(range(1, 6), repeat=3)}
    assert None not in named.values()
    assert set(named.values()) == {"Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention",
                                   "About to sleep", "At risk", "Can't lose them", "Hibernating", "Lost"}
    assert [named[k] for k in [(5, 5, 5), (5, 5, 3), (5, 1, 5), (4, 1, 1), (5, 2, 1), (3, 2, 5), (3, 1, 1),
                               (1, 5, 5), (2, 4, 3), (2, 2, 2), (1, 2, 5)]] == [
        "Champions", "Loyal", "New", "Promising", "Potential loyalist", "Need attention", "About to sleep",
        "Can't lose them", "At risk", "Hibernating", "Lost"]


def test_rfm_scores_are_rank_quintiles_ties_together_and_named_by_the_seed(wh):
    people(wh, *"ABCDEFGHIJ")
    insert(wh, "marts.dim_customer", ("ORG", "organisation", None, datetime(2020, 1, 1)))
    purchases(wh, "A", [0], 100)
    purchases(wh, "A", [-3], 5000)                       # after the as-of date: ignored
    purchases(wh, "B", [1] * 10, 1000)
    purchases(wh, "C", [10] * 8, 500)
    purchases(wh, "C", [9], -500, kind="refund")         # monetary is net of refunds
    purchases(wh, "D", [20, 20], 100)
    purchases(wh, "D", [400], 99999)                     # outside the 365-day window: only recency could see it
    purchases(wh, "E", [30] * 5, 100)
    purchases(wh, "F", [60], 100)
    purchases(wh, "G", [200] * 9, 2000)
    purchases(wh, "H", [250] * 6, 50)
    purchases(wh, "I", [300], 100)
    purchases(wh, "J", [5], 50, kind="fee")              # revenue but never a purchase: worst recency
    purchases(wh, "J", [5], 1_000_000, kind="deposit", revenue=False)
    purchases(wh, "ORG", [1], 10**6)                     # organisations are not scored
    assert build_rfm(wh, AS_OF) == 10
    got = {row[0]: row[1:] for row in wh.execute(
        "select party_id, recency_days, frequency, monetary, r, f, m, rfm_segment from rfm order by 1").fetchall()}
    assert {p: v[3:] for p, v in got.items()} == {
        "A": (5, 1, 1, "New"),
        "B": (5, 5, 5, "Champions"),
        "C": (4, 4, 4, "Champions"),
        "D": (4, 3, 3, "Loyal"),
        "E": (3, 3, 4, "Loyal"),
        "F": (3, 1, 1, "About to sleep"),
        "G": (2, 5, 5, "Can't lose them"),
        "H": (2, 4, 3, "At risk"),
        "I": (1, 1, 1, "Lost"),
        "J": (1, 1, 1, "Lost"),
    }
    assert got["C"][:3] == (10, 8, 3500)  # the refund is revenue, not a purchase
    assert got["D"][:3] == (20, 2, 200)
    assert got["J"][:3] == (None, 0, 50)


# --- lifecycle ------------------------------------------------------------------------------

def _lifecycle_world(wh) -> None:
    people(wh, *[f"L{i}" for i in range(1, 13)])
    insert(wh, "marts.dim_customer", ("ORG", "organisation", None, datetime(2020, 1, 1)))
    wh.execute("update marts.dim_customer set first_seen_at = ? where party_id = 'L2'", [datetime(2025, 12, 1)])
    wh.execute("update marts.dim_customer set first_seen_at = ? where party_id in ('L1', 'L11')", [datetime(2026, 6, 20)])
    insert(wh, "marts.fct_interactions", ("L1", "web", "marketing", "lead_captured", datetime(2026, 5, 31), date(2026, 5, 31)))
    h = "integration.int_holdings_current"
    insert(wh, h, ("h3", "L3", "CUR_STD", date(2020, 1, 1), date(2026, 3, 1)))
    insert(wh, h, ("h4a", "L4", "CUR_STD", date(2020, 1, 1), date(2026, 1, 1)), ("h4b", "L4", "SAV_EASY", date(2026, 4, 1)))
    insert(wh, h, ("h5a", "L5", "CUR_STD", date(2020, 1, 1), date(2026, 3, 1)), ("h5b", "L5", "CUR_PREM", date(2026, 3, 10)))
    insert(wh, h, ("h6", "L6", "CUR_STD", date(2026, 5, 1)))
    for party in ("L7", "L8", "L9"):
        insert(wh, h, (f"h{party}", party, "CUR_STD", date(2019, 1, 1)))
    insert(wh, h, ("h10", "L10", "CUR_STD", date(2025, 11, 1)))
    insert(wh, h, ("h11", "L11", "CUR_STD", date(2026, 7, 15)))  # starts after the as-of date
    insert(wh, h, ("h12a", "L12", "CUR_STD", date(2020, 1, 1), date(2024, 1, 1)), ("h12b", "L12", "CUR_STD", date(2024, 6, 1)))
    insert(wh, "marts.fct_transactions",
           ("L5", None, date(2026, 6, 1), 10, "purchase", True), ("L7", None, date(2026, 5, 1), 10, "purchase", True),
           ("L8", None, date(2026, 2, 1), 10, "purchase", True), ("L8", None, date(2026, 6, 1), 10, "interest", True),
           ("L9", None, date(2025, 10, 1), 10, "purchase", True), ("L12", None, date(2026, 6, 20), 10, "purchase", True))


def _stages(wh) -> dict[str, str]:
    return dict(wh.execute("select party_id, lifecycle_stage from lifecycle").fetchall())


def test_lifecycle_stages_follow_the_seed_rules(wh):
    _lifecycle_world(wh)
    build_lifecycle(wh, AS_OF)
    assert _stages(wh) == {
        "L1": "prospect",        # lead captured 30 days ago
        "L2": "lost_prospect",   # first seen 211 days ago, never a customer
        "L3": "attrited",        # closed everything
        "L4": "won_back",        # held nothing for 90 days, came back 90 days ago
        "L5": "active",          # a product switch after 9 days is no win-back; bought 29 days ago
        "L6": "new",             # first holding 60 days ago
        "L7": "active",          # bought 60 days ago
        "L8": "at_risk",         # bought 149 days ago; interest charged since is not behaviour
        "L9": "lapsed",          # bought 272 days ago
        "L10": "lapsed",         # never bought, customer for 241 days
        "L11": "prospect",       # the first holding starts after the as-of date
        "L12": "active",         # won back two years ago, bought 10 days ago
    }


def test_lifecycle_thresholds_are_read_from_the_seed(wh):
    _lifecycle_world(wh)
    wh.execute("update reference.lifecycle_rules set days = 150 where parameter = 'at_risk_after_days'")
    wh.execute("update reference.lifecycle_rules set days = 100 where parameter = 'won_back_min_gap_days'")
    build_lifecycle(wh, AS_OF)
    stages = _stages(wh)
    # L4: a 90-day gap is no win-back under a 100-day minimum, and it never bought since 2020
    assert (stages["L8"], stages["L4"]) == ("active", "lapsed")


def test_lifecycle_without_a_threshold_fails_loudly(wh):
    wh.execute("delete from reference.lifecycle_rules where parameter = 'new_customer_days'")
    with pytest.raises(ValueError, match="new_customer_days"):
        build_lifecycle(wh, AS_OF)


# --- age, channel, affinity -----------------------------------------------------------------

def test_age_groups_use_whole_years_on_the_as_of_date():
    dobs = [date(2008, 7, 1), date(2008, 6, 30), date(1961, 7, 1), date(1961, 6, 30), None]
    got = [duckdb.execute(f"select {age_group_sql('$dob', '$as_of')}", {"dob": d, "as_of": AS_OF}).fetchall()[0][0]
           for d in dobs]
    assert got == ["under_18", "18-24", "55-64", "65+", "unknown"]


def test_preferred_channel_counts_chosen_touchpoints_in_the_window(wh):
    def touch(party, channel, days, kind="visit", department="operations", hour=12):
        when = datetime.combine(ago(days), datetime.min.time()) + timedelta(hours=hour)
        insert(wh, "marts.fct_interactions", (party, channel, department, kind, when, when.date(), "done"))

    for d in (1, 2, 3):
        touch("P1", "mobile", d)
    touch("P1", "web", 1), touch("P1", "web", 2)
    touch("P2", "web", 5), touch("P2", "web", 6), touch("P2", "branch", 7), touch("P2", "branch", 4)  # tie: latest wins
    touch("P3", "email", 1, "email_send"), touch("P3", "email", 2, "email_send"), touch("P3", "branch", 9)
    for _ in range(5):
        touch("P4", "mobile", 200)                                                       # outside 180 days
    touch("P4", "web", 100)
    touch("P5", "back_office", 3, "credit_limit_decision", "credit")
    touch("P6", "web", 3), touch("P6", "branch", 3)                                      # full tie: channel code
    touch("P7", "email", 2, "email_open")
    build_preferred_channel(wh, AS_OF)
    assert dict(wh.execute("select * from preferred_channel").fetchall()) == {
        "P1": "mobile", "P2": "branch", "P3": "branch", "P4": "web", "P6": "branch", "P7": "email"}


def test_affinity_groups_and_next_best_product(wh):
    people(wh, *[f"A{i}" for i in range(1, 10)])
    wh.execute("update marts.dim_customer set date_of_birth = null where party_id = 'A6'")
    wh.execute("update marts.dim_customer set date_of_birth = ? where party_id = 'A7'", [date(2009, 1, 1)])  # 17
    h = "integration.int_holdings_current"
    since = date(2020, 1, 1)
    holdings = {"A1": ["MORT_HOME", "CUR_STD"], "A2": ["CUR_STD"], "A3": ["CARD_CLASSIC", "CUR_STD"],
                "A4": ["SAV_EASY", "CUR_STD"], "A7": ["CUR_STD"], "A8": ["CUR_STD"],
                "A9": ["CARD_CLASSIC", "CUR_STD", "INS_HOME"]}
    insert(wh, h, *[(f"{p}-{code}", p, code, since) for p, codes in holdings.items() for code in codes])
    insert(wh, h, ("A5-INS_LIFE", "A5", "INS_LIFE", since, date(2026, 1, 1)))  # held insurance, holds nothing now
    insert(wh, "marts.fct_interactions", ("A8", "back_office", "credit", "credit_limit_decision",
                                          datetime(2026, 6, 1), date(2026, 6, 1), "refused"))
    build_affinity(wh, AS_OF)
    got = {p: (g, nbp) for p, g, nbp in wh.execute("select * from affinity").fetchall()}
    assert got == {
        "A1": ("homeowner", None),            # mortgage holders hold nothing A1 lacks
        "A2": ("transactor", "CARD_CLASSIC"),  # most held by current-account holders, a new category
        "A3": ("borrower", "INS_HOME"),
        "A4": ("saver", None),
        "A5": ("insured", "CARD_CLASSIC"),     # ever-held insurance; ties on holders go to the product code
        "A6": (None, "CUR_STD"),               # no group: the product most customers hold
        "A7": ("transactor", "INS_HOME"),      # 17: no credit product
        "A8": ("transactor", "INS_HOME"),      # refused a credit limit a month ago: no credit product
        "A9": ("borrower", None),
    }


# --- key accounts and membership history ----------------------------------------------------

def _organisations(wh) -> None:
    insert(wh, "marts.dim_organisation", ("O1", "ORG1", "Big Staff Ltd", 2000), ("O2", "ORG2", "Deal Maker Plc", 10),
           ("O3", "ORG3", "Almost Ltd", 1999), ("O4", "ORG4", "Scheme Sponsor Ltd", 50))
    insert(wh, "integration.party_identifiers", *[("org_id", f"ORG{i}", f"O{i}") for i in range(1, 5)])
    opp = "staging.stg_sales__opportunities"
    insert(wh, opp,
           ("X1", "ORG2", "open", 4_000_000, datetime(2026, 1, 5), None, datetime(2026, 1, 5)),
           ("X1", "ORG2", "won", 4_000_000, datetime(2026, 1, 5), datetime(2026, 3, 1), datetime(2026, 3, 1)),
           ("X2", "ORG2", "won", 5_000_000, datetime(2024, 1, 5), datetime(2025, 6, 1), datetime(2025, 6, 1)),  # > 365 days
           ("X3", "ORG3", "proposal", 7_499_999, datetime(2026, 2, 1), None, datetime(2026, 2, 1)))
    insert(wh, "staging.stg_sales__account_plans", ("KP1", "ORG2", 2026, 8_000_000), ("KP0", "ORG2", 2025, 1),
           ("KP3", "ORG3", 2026, 1_000_000))
    insert(wh, "integration.int_holdings_current", ("S1", "E1", "CUR_STD", date(2025, 1, 1), None, "O4"))
    insert(wh, "marts.fct_transactions", ("E1", "S1", date(2026, 2, 1), 3_000_000, "purchase", True),
           ("E1", "S1", date(2025, 9, 1), 2_000_000, "fee", True))


def test_key_accounts_meet_any_criterion_and_compare_plan_with_actual(wh):
    _organisations(wh)
    build_key_accounts(wh, AS_OF)
    got = {r[0]: r[1:] for r in wh.execute(
        "select party_id, is_key_account, criteria_met, attributed_revenue_12m, won_value_12m, open_pipeline_value, "
        "plan_year, target_value, actual_won_value, actual_revenue, actual_value, attainment "
        "from analytics.key_accounts order by 1").fetchall()}
    assert got["O1"][:2] == (True, "reported_employee_count")
    assert got["O2"] == (True, "won_value_12m", 0, 4_000_000, 0, 2026, 8_000_000, 4_000_000, 0, 4_000_000, 0.5)
    assert got["O3"] == (False, None, 0, 0, 7_499_999, 2026, 1_000_000, 0, 0, 0, 0.0)
    assert got["O4"][:4] == (True, "attributed_revenue_12m", 5_000_000, 0)
    assert got["O4"][5:] == (None, None, 0, 3_000_000, 3_000_000, None)  # no plan: revenue this year, no attainment


def test_membership_history_replaces_a_date_and_keeps_what_each_date_held(wh):
    _lifecycle_world(wh)
    _organisations(wh)
    wh.execute("create schema if not exists analytics")
    wh.execute("create table analytics.customer_clv as select * from (values ('L1', 'gold'), ('L2', 'silver')) "
               "as t(party_id, value_tier)")
    tables = ("select * from analytics.segment_membership_changes order by all",
              "select * from analytics.segment_membership_runs order by all")
    states = []
    for as_of in (AS_OF, AS_OF):
        build_customer_segments(wh, as_of)
        build_key_accounts(wh, as_of)
        first = write_membership(wh, as_of)
        states.append([wh.execute(sql).fetchall() for sql in tables])
    assert states[0] == states[1]  # a re-run of the date leaves both tables as they were
    held_then = set(wh.execute(held_on(AS_OF)).fetchall())
    assert len(held_then) == first
    earlier = ago(30)  # the as-of date moves back: a run date before the one held
    build_customer_segments(wh, earlier)
    build_key_accounts(wh, earlier)
    held_earlier = write_membership(wh, earlier)
    assert set(wh.execute(held_on(AS_OF)).fetchall()) == held_then  # the later date still holds what it held
    assert len(wh.execute(held_on(earlier)).fetchall()) == held_earlier
    assert dict(wh.execute("select * from analytics.segment_membership_runs").fetchall()) == {
        earlier: held_earlier, AS_OF: first}
    assert wh.execute("select count(*) from analytics.segment_membership_changes where as_of_date = ?",
                      [earlier]).fetchall() == [(held_earlier,)]  # the first run date: every membership enters
    stage = f"select segment from ({{}}) where party_id = 'L6' and segment_type = 'lifecycle'"
    assert wh.execute(stage.format(held_on(AS_OF))).fetchall() == [("new",)]
    assert wh.execute(stage.format(held_on(earlier))).fetchall() == [("new",)]
    by_type = dict(wh.execute(f"select segment_type, count(*) from ({held_on(AS_OF)}) group by 1").fetchall())
    # 12 people; L1's lead is its only chosen touchpoint; 9 held a product by then; 5 have revenue; 4 organisations
    assert by_type == {"lifecycle": 12, "age_group": 12, "preferred_channel": 1, "product_affinity": 9, "rfm": 5,
                       "key_account": 4, "value_tier": 2}


def test_segment_plot_is_a_png_with_one_panel_per_segment_type(tmp_path):
    from dagster_project.analytics.plots import bar_charts_png

    png = bar_charts_png({"RFM segment": [("Champions", 12), ("Lost", 3)], "lifecycle stage": [("active", 9), (None, 1)]},
                         tmp_path / "segments.png", "Segments")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image  # pillow comes with matplotlib

    assert Image.open(png).size == (1000, 400)  # two 5-inch panels, 4 inches high, 100 dpi
