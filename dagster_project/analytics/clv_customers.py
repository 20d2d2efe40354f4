"""Per-customer CLV figures from purchase days: the model's inputs, predictions, costs and value tiers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dagster_project.analytics import clv


@dataclass(frozen=True)
class ClvKnobs:
    """horizon_months: CLV horizon; annual_discount_rate: money's time value (monthly compounding)."""

    horizon_months: int = 36
    annual_discount_rate: float = 0.10


def rfm_table(summary: pd.DataFrame, end_day: int, prefix: str = "") -> pd.DataFrame:
    """The model's inputs per party, in days, from purchase-day aggregates (clv_data.purchase_summaries;
    ``prefix`` picks a period's columns, e.g. ``cal_``; parties without a purchase day in it are left out).

    frequency = purchase days after the first, recency = last - first, T = end - first;
    monetary_value = mean amount of the repeat purchase days (0 when none, as in FHL 2005:
    the first purchase is the acquisition, not a sample of the repeat spend);
    margin_rate = margin ÷ amount over all the customer's purchases.
    """
    p = summary[summary[f"{prefix}days"] > 0]
    first, days, total = p[f"{prefix}first_day"].astype("int64"), p[f"{prefix}days"], p[f"{prefix}amount"]
    repeat = (days - 1).astype(float)
    return pd.DataFrame({
        "first_day": first,
        "frequency": repeat,
        "recency": (p[f"{prefix}last_day"] - first).astype(float),
        "T": (end_day - first).astype(float),
        "monetary_value": np.where(repeat > 0, (total - p[f"{prefix}first_amount"]) / repeat.where(repeat > 0, 1.0),
                                   0.0),
        "margin_rate": p[f"{prefix}margin"] / total,
    })


@dataclass(frozen=True)
class Fitted:
    bgnbd: clv.Fit
    gamma_gamma: clv.Fit


def fit_models(rfm: pd.DataFrame) -> Fitted:
    """BG/NBD on distinct (x, t_x, T) and Gamma-Gamma on distinct (x, mean spend), each weighted."""
    rows = clv.compress(rfm["frequency"], rfm["recency"], rfm["T"])
    bg = clv.fit_bgnbd(*rows.rows.T, weights=rows.weights)
    repeat = rfm[rfm["frequency"] > 0]
    spend = clv.compress(repeat["frequency"], repeat["monetary_value"])
    gg = clv.fit_gamma_gamma(*spend.rows.T, weights=spend.weights)
    return Fitted(bg, gg)


def predict(rfm: pd.DataFrame, fitted: Fitted, knobs: ClvKnobs, monthly_contact_cost: pd.Series) -> pd.DataFrame:
    """p_alive, expected purchases (90 days, 12 months), expected order value, CLV and cost to serve.

    clv = Σ_m E[purchases in month m] × E[order value] × margin_rate / (1+d)^m over the horizon.
    expected_cost_to_serve = the customer's monthly contact cost × Σ_m P(alive in month m) /
    (1+d)^m, with P(alive in month m) ≈ E[purchases in month m] ÷ E[purchases in month 1 |
    alive]: contacts stop when the customer drops out, like purchases. (The approximation
    ignores that fast buyers drop out sooner, so it slightly understates how long a customer
    stays; it is the same discounting as the margin.)
    """
    bg = fitted.bgnbd.params
    rows = clv.compress(rfm["frequency"], rfm["recency"], rfm["T"])
    x, tx, T = rows.rows.T
    months = max(knobs.horizon_months, 12)
    monthly = clv.monthly_expected_transactions(bg, months, x, tx, T)  # (months, distinct rows)
    alive = clv.probability_alive(bg, x, tx, T)
    first_month_if_alive = np.divide(monthly[0], alive, out=np.zeros_like(alive), where=alive > 0)
    alive_by_month = np.divide(monthly, first_month_if_alive, out=np.tile(alive, (months, 1)),
                               where=first_month_if_alive > 0)
    discount = clv.discount_factors(months, knobs.annual_discount_rate)[: knobs.horizon_months]
    i = rows.inverse
    aov = clv.expected_average_value(fitted.gamma_gamma.params, rfm["frequency"], rfm["monetary_value"])
    margin_per_purchase = aov * rfm["margin_rate"].to_numpy()
    value = (discount @ monthly[: knobs.horizon_months])[i] * margin_per_purchase
    alive_months = (discount @ alive_by_month[: knobs.horizon_months])[i]
    cost = monthly_contact_cost.reindex(rfm.index, fill_value=0.0).to_numpy() * alive_months
    return pd.DataFrame({
        "p_alive": alive[i],
        "expected_txn_90d": clv.expected_transactions(bg, 90.0, x, tx, T)[i],
        "expected_txn_12m": monthly[:12].sum(axis=0)[i],
        "expected_aov": aov,
        "clv": value,
        "expected_cost_to_serve": cost,
        "net_clv": value - cost,
    }, index=rfm.index)


def contact_window_start(first_day: pd.Series, as_of_day: int, lookback_days: int = 365) -> pd.Series:
    """The day after which a customer's contacts count: ``lookback_days`` back, or the first purchase if later."""
    return np.maximum(first_day, as_of_day - lookback_days)


def monthly_contact_cost(cost_since_start: pd.Series, start: pd.Series, as_of_day: int) -> pd.Series:
    """Contact cost per month since each customer's window start (``contact_window_start``).

    At least one month is assumed observed, so a customer who joined last week is not
    extrapolated from a few days. A customer without contacts costs 0.
    """
    observed_months = np.maximum((as_of_day - start) / clv.DAYS_PER_MONTH, 1.0)
    return cost_since_start.reindex(start.index, fill_value=0.0) / observed_months


def assign_value_tiers(net_clv: pd.Series, current_value: pd.Series, rules: pd.DataFrame) -> pd.Series:
    """First rule (best tier first) whose percentile floors on future AND current value both hold.

    Percentiles are ranks among the modelled customers (ties share their average rank), so
    the tiers are relative: the top of this customer base, whatever the currency or scale.
    """
    future = net_clv.rank(pct=True, method="average")
    current = current_value.rank(pct=True, method="average")
    tier = pd.Series(pd.NA, index=net_clv.index, dtype="object")
    for rule in rules.sort_values("tier_order").itertuples():
        hit = tier.isna() & (future >= rule.min_future_percentile) & (current >= rule.min_current_percentile)
        tier[hit] = rule.value_tier
    return tier.fillna(rules.sort_values("tier_order")["value_tier"].iloc[-1])
