"""Per-customer CLV building blocks on hand-made purchases: RFM, contact cost rate, value tiers, predictions."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pytest

from dagster_project.analytics import clv
from dagster_project.analytics.clv_customers import (ClvKnobs, Fitted, assign_value_tiers, contact_window_start,
                                                     monthly_contact_cost, predict, rfm_table)
from dagster_project.analytics.clv_data import contact_cost_since, purchase_summaries

PURCHASES = pd.DataFrame({
    "party_id": ["A", "A", "A", "B", "C", "C"],
    "day": [100, 110, 130, 120, 90, 200],
    "amount": [50.0, 20.0, 40.0, 70.0, 10.0, 30.0],
    "margin": [15.0, 6.0, 12.0, 7.0, 4.0, 12.0],
})


def _summary(end_day: int, cutoff_day: int, recent_after_day: int) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("purchases", PURCHASES)
    return purchase_summaries(con, "purchases", end_day, cutoff_day, recent_after_day)


def test_rfm_table_counts_repeat_purchase_days_up_to_the_end():
    summary = _summary(end_day=150, cutoff_day=105, recent_after_day=115)
    rfm = rfm_table(summary, end_day=150)
    assert list(rfm.index) == ["A", "B", "C"]
    assert rfm.loc["A"].to_dict() == {"first_day": 100, "frequency": 2.0, "recency": 30.0, "T": 50.0,
                                      "monetary_value": 30.0, "margin_rate": pytest.approx(0.3)}
    assert rfm.loc["B", ["frequency", "recency", "T", "monetary_value"]].tolist() == [0.0, 0.0, 30.0, 0.0]
    assert rfm.loc["C", ["frequency", "T"]].tolist() == [0.0, 60.0]  # day 200 is after the end
    assert rfm.loc["C", "margin_rate"] == pytest.approx(0.4)
    # the calibration period (up to day 105): B bought first on day 120, so it is not in it
    calibration = rfm_table(summary, 105, prefix="cal_")
    assert calibration[["first_day", "frequency", "recency", "T", "monetary_value"]].to_dict("index") == {
        "A": {"first_day": 100, "frequency": 0.0, "recency": 0.0, "T": 5.0, "monetary_value": 0.0},
        "C": {"first_day": 90, "frequency": 0.0, "recency": 0.0, "T": 15.0, "monetary_value": 0.0}}
    assert calibration["margin_rate"].to_dict() == {"A": pytest.approx(0.3), "C": pytest.approx(0.4)}
    assert summary["holdout_purchases"].to_dict() == {"A": 2, "B": 1, "C": 0}  # days in (105, 150]
    assert summary["recent_margin"].to_dict() == {"A": 12.0, "B": 7.0, "C": 0.0}  # after day 115
    assert _summary(end_day=200, cutoff_day=105, recent_after_day=115)["holdout_purchases"].to_dict() == {
        "A": 2, "B": 1, "C": 1}


def test_monthly_contact_cost_over_the_observed_months():
    first_day = pd.Series({"A": 100, "B": 715, "C": 50})
    start = contact_window_start(first_day, as_of_day=730, lookback_days=365)
    assert start.to_dict() == {"A": 365, "B": 715, "C": 365}
    cost = pd.Series({"A": 3000.0, "B": 15.0, "Z": 50.0})  # Z: not a modelled customer
    monthly = monthly_contact_cost(cost, start, as_of_day=730)
    assert monthly["A"] == pytest.approx(3000.0 / (365 / clv.DAYS_PER_MONTH))  # a full year observed
    assert monthly["B"] == pytest.approx(15.0)  # 15 days observed count as one month
    assert monthly["C"] == 0.0 and "Z" not in monthly.index


def test_contact_cost_counts_service_contacts_after_each_start_day_only():
    con = duckdb.connect()
    con.execute("""
        create schema marts; create schema reference;
        create table reference.contact_cost_rates (channel_code varchar, cost_per_contact decimal(18, 2));
        insert into reference.contact_cost_rates values ('branch', 12.50), ('call_centre', 4.00);
        create table marts.fct_interactions (party_id varchar, channel varchar, department varchar, occurred_on date);
        insert into marts.fct_interactions values
            ('A', 'branch', 'operations', date '1971-01-01'),    -- day 365: the start day itself, left out
            ('A', 'branch', 'operations', date '1971-01-02'),    -- day 366
            ('A', 'call_centre', 'service', date '1971-06-01'),
            ('A', 'call_centre', 'service', date '1971-06-01'),  -- two calls on one day count twice
            ('A', 'email', 'service', date '1971-06-02'),        -- no rate: costs nothing
            ('A', 'branch', 'marketing', date '1971-06-03'),     -- not a service department
            ('A', 'branch', 'operations', date '1972-01-01'),    -- after as_of
            ('B', 'branch', 'operations', date '1971-01-02'),    -- before B's first purchase
            ('B', 'call_centre', 'service', date '1971-12-30'),
            (null, 'branch', 'operations', date '1971-06-01'),
            ('Z', 'branch', 'operations', date '1971-06-01');   -- not a modelled customer
    """)
    cost = contact_cost_since(con, pd.Series({"A": 365, "B": 715, "C": 365}), date(1971, 12, 31))
    assert cost.sort_index().to_dict() == {"A": 12.5 + 4.0 + 4.0, "B": 4.0}


def test_value_tiers_need_both_future_and_current_value():
    rules = pd.DataFrame({"tier_order": [1, 2, 3], "value_tier": ["platinum", "gold", "bronze"],
                          "min_future_percentile": [0.8, 0.5, 0.0], "min_current_percentile": [0.5, 0.0, 0.0]})
    index = list("ABCDEFGHIJ")
    net_clv = pd.Series([100, 90, 80, 70, 60, 50, 40, 30, 20, 10], index=index, dtype=float)
    current = pd.Series([5, 9, 1, 1, 1, 1, 1, 1, 1, 10], index=index, dtype=float)
    tiers = assign_value_tiers(net_clv, current, rules)
    # A, B: top 20% future and above-median current; C: top future but low current → gold
    assert tiers.to_dict() == {"A": "platinum", "B": "platinum", "C": "gold", "D": "gold", "E": "gold",
                               "F": "gold", "G": "bronze", "H": "bronze", "I": "bronze", "J": "bronze"}


def test_predictions_add_up():
    rfm = pd.DataFrame({"frequency": [0.0, 5.0, 5.0], "recency": [0.0, 300.0, 40.0], "T": [100.0, 320.0, 320.0],
                        "monetary_value": [0.0, 80.0, 80.0], "margin_rate": [0.3, 0.3, 0.5]},
                       index=["new", "regular", "quiet"])
    bg = clv.BgNbdParams(r=1.5, alpha=45.0, a=0.4, b=25.0)
    gg = clv.GammaGammaParams(p=4.0, q=3.0, gamma=150.0)
    fitted = Fitted(clv.Fit(bg, 0.0, 3, 3, 0, True), clv.Fit(gg, 0.0, 2, 2, 0, True))
    knobs = ClvKnobs(horizon_months=24, annual_discount_rate=0.0)
    cost = pd.Series({"regular": 100.0, "quiet": 100.0})
    out = predict(rfm, fitted, knobs, cost)
    aov = clv.expected_average_value(gg, rfm["frequency"], rfm["monetary_value"])
    horizon = clv.expected_transactions(bg, 24 * clv.DAYS_PER_MONTH, rfm["frequency"], rfm["recency"], rfm["T"])
    assert np.allclose(out["clv"], horizon * aov * rfm["margin_rate"])  # no discounting: sum of the months
    assert np.allclose(out["expected_txn_12m"],
                       clv.expected_transactions(bg, 12 * clv.DAYS_PER_MONTH, rfm["frequency"], rfm["recency"], rfm["T"]))
    assert out.loc["new", "expected_cost_to_serve"] == 0.0
    # the quiet customer is less likely alive, so it costs less to serve and is worth less
    assert out.loc["quiet", "p_alive"] < out.loc["regular", "p_alive"]
    assert 0 < out.loc["quiet", "expected_cost_to_serve"] < out.loc["regular", "expected_cost_to_serve"] < 24 * 100
    assert np.allclose(out["net_clv"], out["clv"] - out["expected_cost_to_serve"])


def test_holdout_plot_is_a_png_and_inlines_as_markdown(tmp_path):
    import pandas as pd

    from dagster_project.analytics.clv_report import Holdout, holdout_plot
    from dagster_project.analytics.plots import image_markdown

    by_frequency = pd.DataFrame({"customers": [10, 5, 2], "predicted": [0.2, 0.9, 2.1], "actual": [0.25, 0.8, 2.0]},
                                index=pd.Index([0, 1, 7], name="bucket"))
    h = Holdout(holdout_days=90, customers=17, predicted=10.3, actual=10, mae=0.1, correlation=0.9,
                by_frequency=by_frequency)
    png = holdout_plot(h, tmp_path / "plots" / "holdout.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5_000
    assert image_markdown(png, "x").startswith("![x](data:image/png;base64,iVBORw0KGgo")
