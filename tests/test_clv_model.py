"""The BG/NBD and Gamma-Gamma fits against Fader, Hardie & Lee (2005) on CDNOW, and their numerics.

The CDNOW sample ships inside the `lifetimes` wheel (a test-only dependency); its files are
read from the installed package directory without importing the package.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special

from dagster_project.analytics import clv

CALIBRATION_END = pd.Timestamp("1997-09-30")  # week 39 of the 78 in the CDNOW sample
HOLDOUT_END = pd.Timestamp("1998-06-30")


def cdnow_file(name: str) -> Path:
    spec = importlib.util.find_spec("lifetimes")  # locates the package, does not import it
    assert spec is not None and spec.submodule_search_locations, "lifetimes (test extra) is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / name


@cache
def cdnow_summary() -> pd.DataFrame:
    """2,357 customers: x (repeat purchase days), t_x, T in weeks, zbar mean repeat spend."""
    return pd.read_csv(cdnow_file("cdnow_customers_summary_with_transactions.csv"))


@cache
def cdnow_days() -> pd.DataFrame:
    """CDNOW_sample.txt as one row per customer and purchase day (same-day orders summed)."""
    raw = pd.read_csv(cdnow_file("CDNOW_sample.txt"), sep=r"\s+", header=None,
                      names=["master_id", "customer", "date", "cds", "value"], dtype={"date": str})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw.groupby(["customer", "date"], as_index=False)["value"].sum()


def sig3(value: float) -> float:
    return float(f"{value:.3g}")


def test_bgnbd_reproduces_fader_hardie_lee_2005():
    s = cdnow_summary()
    fit = clv.fit_bgnbd(s["x"], s["t_x"], s["T"])
    p = fit.params
    assert fit.converged
    assert [sig3(v) for v in (p.r, p.alpha, p.a, p.b)] == [0.243, 4.41, 0.793, 2.43]
    assert np.allclose([p.r, p.alpha, p.a, p.b], [0.243, 4.414, 0.793, 2.426], rtol=2e-3)
    assert round(fit.log_likelihood, 1) == -9582.4
    assert fit.customers == 2357


def test_gamma_gamma_reproduces_fader_hardie_lee_2005():
    s = cdnow_summary()
    fit = clv.fit_gamma_gamma(s["x"], s["zbar"])
    p = fit.params
    assert fit.converged and fit.customers == 946  # customers with repeat purchases
    assert [sig3(v) for v in (p.p, p.q, p.gamma)] == [6.25, 3.74, 15.4]
    assert np.allclose([p.p, p.q, p.gamma], [6.25, 3.74, 15.44], rtol=2e-3)


def test_weighted_distinct_rows_fit_like_expanded_rows():
    s = cdnow_summary()
    rows = clv.compress(s["x"], s["t_x"], s["T"])
    assert len(rows.rows) == 1016 and rows.weights.sum() == 2357
    weighted = clv.fit_bgnbd(*rows.rows.T, weights=rows.weights)
    expanded = clv.fit_bgnbd(s["x"], s["t_x"], s["T"])
    assert weighted.distinct_rows == 1016
    assert np.allclose(weighted.params.as_array(), expanded.params.as_array(), rtol=1e-5)
    assert weighted.log_likelihood == pytest.approx(expanded.log_likelihood, abs=1e-6)
    # and the inverse index maps every customer back to its row
    assert np.array_equal(rows.rows[rows.inverse], np.column_stack([s["x"], s["t_x"], s["T"]]).astype(float))


def test_compress_of_fractional_rows_is_np_unique_over_rows():
    """The lexsort path for fractional values gives np.unique's rows, order, counts and inverse."""
    s = cdnow_summary().query("x > 0")
    x, m = s["x"].to_numpy(dtype=float), s["zbar"].to_numpy(dtype=float).round(0)  # rounded: many repeats
    got = clv.compress(x, m)
    rows, inverse, counts = np.unique(np.column_stack([x, m]), axis=0, return_inverse=True, return_counts=True)
    assert len(rows) < len(x)
    assert np.array_equal(got.rows, rows) and np.array_equal(got.weights, counts.astype(float))
    assert np.array_equal(got.inverse, inverse.reshape(-1))
    manual = clv.compress(np.array([2.0, 1.0, 2.0, 1.0]), np.array([0.5, 9.25, 0.5, 3.0]))
    assert manual.rows.tolist() == [[1.0, 3.0], [1.0, 9.25], [2.0, 0.5]]
    assert manual.weights.tolist() == [1.0, 1.0, 2.0] and manual.inverse.tolist() == [2, 1, 2, 0]


def test_gamma_gamma_weights_equal_repeated_rows():
    repeat = cdnow_summary().query("x > 0").head(300)
    x, m = repeat["x"].to_numpy(), repeat["zbar"].to_numpy()
    w = np.arange(300) % 4 + 1
    weighted = clv.fit_gamma_gamma(x, m, weights=w)
    expanded = clv.fit_gamma_gamma(np.repeat(x, w), np.repeat(m, w))
    assert np.allclose(weighted.params.as_array(), expanded.params.as_array(), rtol=1e-5)
    assert weighted.log_likelihood == pytest.approx(expanded.log_likelihood, abs=1e-8)


def _central_difference(f, x0: np.ndarray, rel_step: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(x0)
    for i in range(len(x0)):
        h = rel_step * x0[i]
        up, down = x0.copy(), x0.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("at", [(0.243, 4.414, 0.793, 2.426), (1.7, 30.0, 2.5, 0.4)])
def test_bgnbd_gradient_matches_finite_differences(at):
    s = cdnow_summary()
    data = (s["x"], s["t_x"], s["T"])
    analytic = clv.bgnbd_gradient(clv.BgNbdParams(*at), *data)
    numeric = _central_difference(lambda v: clv.bgnbd_log_likelihood(clv.BgNbdParams(*v), *data), np.array(at))
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("at", [(6.25, 3.74, 15.44), (1.2, 8.0, 300.0)])
def test_gamma_gamma_gradient_matches_finite_differences(at):
    s = cdnow_summary()
    repeat = s[s["x"] > 0]
    data = (repeat["x"], repeat["zbar"])
    analytic = clv.gamma_gamma_gradient(clv.GammaGammaParams(*at), *data)
    numeric = _central_difference(lambda v: clv.gamma_gamma_log_likelihood(clv.GammaGammaParams(*v), *data),
                                  np.array(at))
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-4)


def test_no_overflow_at_ten_thousand_purchases():
    s = cdnow_summary()
    x = np.append(s["x"].to_numpy(float), [10_000, 10_000])
    tx = np.append(s["t_x"].to_numpy(float), [38.859, 5.0])  # still buying / stopped long ago
    T = np.append(s["T"].to_numpy(float), [38.86, 38.86])
    params = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    assert np.isfinite(clv.bgnbd_log_likelihood(params, x, tx, T))
    assert np.all(np.isfinite(clv.bgnbd_gradient(params, x, tx, T)))
    fit = clv.fit_bgnbd(x, tx, T)
    assert fit.converged and np.all(np.isfinite(fit.params.as_array()))
    alive = clv.probability_alive(params, x[-2:], tx[-2:], T[-2:])
    assert alive[0] > 0.9 and alive[1] < 1e-100  # 10,000 purchases, then silence: gone
    expected = clv.expected_transactions(params, 1.0, x[-2:], tx[-2:], T[-2:])
    rate = (params.r + 10_000) / (params.alpha + 38.86)  # posterior mean purchases per week
    assert np.all(np.isfinite(expected))
    assert 0.9 * rate < expected[0] < rate and expected[1] < 1e-100


def test_expected_transactions_equal_the_untransformed_formula():
    """Euler's transformation of ₂F₁ gives the textbook formula where that one is safe (small x)."""
    p = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    x, tx, T = np.array([0.0, 1, 2, 5, 7]), np.array([0.0, 1.7, 30.4, 20.0, 37.0]), np.full(5, 38.86)
    for t in (1.0, 13.0, 39.0, 52.0):
        z = t / (p.alpha + T + t)
        textbook = ((p.a + p.b + x - 1) / (p.a - 1)
                    * (1 - ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x)
                       * special.hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z))
                    / (1 + (x > 0) * p.a / np.maximum(p.b + x - 1, 1e-12) * ((p.alpha + T) / (p.alpha + tx)) ** (p.r + x)))
        assert np.allclose(clv.expected_transactions(p, t, x, tx, T), textbook, rtol=1e-10)


def test_probability_alive_and_expectations_behave():
    p = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    assert clv.probability_alive(p, [0], [0], [38.86])[0] == 1.0  # no repeat purchase: no chance to drop out
    assert np.all(clv.expected_transactions(p, 0.0, [0, 3], [0, 20], [38, 38]) == 0)
    horizons = [clv.expected_transactions(p, t, [3], [20], [38])[0] for t in (4, 13, 26, 52)]
    assert horizons == sorted(horizons) and horizons[0] > 0


def test_expected_average_value_shrinks_toward_the_population_mean():
    g = clv.GammaGammaParams(6.25, 3.74, 15.44)
    x, m = np.array([0, 1, 2, 10, 100]), np.array([0.0, 40.0, 40.0, 40.0, 40.0])
    weight = g.p * x / (g.p * x + g.q - 1)
    expected = weight * m + (1 - weight) * g.population_mean
    assert np.allclose(clv.expected_average_value(g, x, m), expected)
    assert clv.expected_average_value(g, [0], [0])[0] == pytest.approx(6.25 * 15.44 / 2.74)


def test_discounted_clv_sums_monthly_expectations():
    p = clv.BgNbdParams(0.243, 4.414 * 7, 0.793, 2.426)  # α in days
    x, tx, T = np.array([0.0, 4.0]), np.array([0.0, 200.0]), np.array([272.0, 272.0])
    undiscounted = clv.discounted_clv(p, x, tx, T, value_per_transaction=[10.0, 10.0], months=12,
                                      annual_discount_rate=0.0)
    assert np.allclose(undiscounted, 10 * clv.expected_transactions(p, 12 * clv.DAYS_PER_MONTH, x, tx, T))
    discounted = clv.discounted_clv(p, x, tx, T, value_per_transaction=[10.0, 10.0], months=12,
                                    annual_discount_rate=0.10)
    assert np.all(discounted < undiscounted) and np.all(discounted > undiscounted / 1.1)
    assert clv.discount_factors(12, 0.10)[-1] == pytest.approx(1 / 1.1)


def test_monthly_expectations_are_the_differences_of_the_cumulative_ones():
    """Each month's figure is exactly E[Y(end of month)] - E[Y(end of previous month)], also for
    customers sharing (x, T) but not t_x, whose hypergeometric factor is computed once."""
    p = clv.BgNbdParams(0.243, 4.414 * 7, 0.793, 2.426)
    x = np.array([0.0, 4.0, 4.0, 4.0, 1.0, 25.0])
    tx = np.array([0.0, 200.0, 90.0, 200.0, 3.0, 270.0])
    T = np.array([272.0, 272.0, 272.0, 272.0, 5.0, 272.0])
    monthly = clv.monthly_expected_transactions(p, 6, x, tx, T)
    assert monthly.shape == (6, 6)
    cumulative = [clv.expected_transactions(p, m * clv.DAYS_PER_MONTH, x, tx, T) for m in range(1, 7)]
    assert np.array_equal(monthly[0], cumulative[0])
    for m in range(1, 6):
        assert np.array_equal(monthly[m], cumulative[m] - cumulative[m - 1])
    assert np.array_equal(monthly[:, 1], monthly[:, 3])  # same history, same figures
    assert monthly[0, 2] < monthly[0, 1]  # a customer quiet since day 90 is less likely alive
    assert np.all(monthly > 0)


def test_cdnow_calibration_holdout():
    """Fit on weeks 1-39, predict weeks 40-78 of the transactions themselves.

    Measured: 1,653.4 repeat purchase days predicted against 1,882 actual (-12.1%), per
    customer correlation 0.626 and MAE 0.785 purchases. The under-prediction is the model's,
    not the code's: lifetimes' BetaGeoFitter gives the same 1,653.4 on these parameters
    (checked to 1e-12 while building this). The tolerance (-15% to -9%) fails on a drift of
    a few per cent either way, and the per-customer figures must stay where measured.
    """
    days = cdnow_days()
    first = days.groupby("customer")["date"].min()
    calibration = days[days["date"] <= CALIBRATION_END].groupby("customer")["date"]
    x = calibration.size() - 1
    tx = (calibration.max() - first).dt.days / 7
    T = (CALIBRATION_END - first).dt.days / 7
    summary = cdnow_summary().set_index("ID")
    assert (x == summary["x"]).all() and np.allclose(T, summary["T"], atol=0.005)  # the published summary
    fit = clv.fit_bgnbd(x, tx, T)
    in_holdout = (days["date"] > CALIBRATION_END) & (days["date"] <= HOLDOUT_END)
    actual = days[in_holdout].groupby("customer").size().reindex(x.index, fill_value=0).to_numpy()
    predicted = clv.expected_transactions(fit.params, (HOLDOUT_END - CALIBRATION_END).days / 7, x, tx, T)
    assert actual.sum() == 1882
    assert -0.15 < predicted.sum() / actual.sum() - 1 < -0.09
    assert np.corrcoef(predicted, actual)[0, 1] > 0.6
    assert np.abs(predicted - actual).mean() < 0.8


def test_gamma_gamma_without_repeat_buyers_says_why():
    """A history too short for anyone to buy twice: a clear error, not numpy's ZeroDivisionError."""
    with pytest.raises(ValueError, match="no customer bought more than once"):
        clv.fit_gamma_gamma([0, 0, 1], [0.0, 10.0, 0.0])
