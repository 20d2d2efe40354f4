"""The CLV model is fitted on the purchases up to the latest period end and kept between runs (clv_refit.py)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dagster_project.analytics import clv_assets, clv_refit
from dagster_project.analytics.clv_data import day_number


@pytest.mark.parametrize(("as_of", "refit", "expected"), [
    (date(2026, 3, 18), "day", date(2026, 3, 18)),
    (date(2026, 3, 18), "week", date(2026, 3, 15)),   # a Wednesday: the Sunday before
    (date(2026, 3, 16), "week", date(2026, 3, 15)),   # a Monday: yesterday ended the last whole week
    (date(2026, 3, 15), "week", date(2026, 3, 8)),    # a Sunday: its own week may still get late files
    (date(2026, 3, 18), "month", date(2026, 2, 28)),
    (date(2026, 3, 31), "month", date(2026, 2, 28)),  # the month's last day: March is not complete yet
    (date(2026, 4, 1), "month", date(2026, 3, 31)),
    (date(2024, 3, 1), "month", date(2024, 2, 29)),
])
def test_fit_through_is_the_end_of_the_last_whole_period(as_of, refit, expected):
    assert clv_refit.fit_through(as_of, refit) == expected


def test_an_unknown_refit_period_is_named():
    with pytest.raises(ValueError, match="refit must be one of day, week, month; got 'quarter'"):
        clv_refit.fit_through(date(2026, 3, 18), "quarter")


def _purchases(seed: int = 3, people: int = 600) -> pd.DataFrame:
    """Purchase days of ``people`` customers from 2025 on, drawn as BG/NBD assumes: a Poisson rate
    λ ~ Gamma(1.5, 45 days) each, and after every purchase a dropout chance p ~ Beta(1, 4)."""
    rng = np.random.default_rng(seed)
    start, end = day_number(date(2025, 1, 1)), day_number(date(2026, 3, 18))
    rows = []
    for i in range(people):
        day, rate, dropout = float(rng.integers(start, end - 200)), rng.gamma(1.5, 1 / 45), rng.beta(1.0, 4.0)
        while day <= end:
            amount = float(rng.gamma(4, 30))
            rows.append((f"P{i:04d}", int(day), amount, round(amount * 0.3, 2)))
            if rng.random() < dropout:
                break
            day += max(1.0, rng.exponential(1 / rate))
    frame = pd.DataFrame(rows, columns=["party_id", "day", "amount", "margin"])
    return frame.groupby(["party_id", "day"], as_index=False).sum()


def test_the_fit_is_kept_until_a_purchase_inside_its_period_changes(tmp_path, monkeypatch):
    purchases, as_of = _purchases(), date(2026, 3, 18)
    config = clv_assets.ClvConfig()  # refit monthly: fitted through 2026-02-28
    fitted, holdout, through, reused = clv_assets._fit(purchases, as_of, config, tmp_path)
    assert (through, reused) == (date(2026, 2, 28), False)
    assert (tmp_path / clv_refit.FIT_FILE).is_file()
    fits = []
    real_fit = clv_assets.fit_models
    monkeypatch.setattr(clv_assets, "fit_models", lambda rfm: fits.append(len(rfm)) or real_fit(rfm))

    # the next days: new purchases after the period end leave the fit as it was
    later = pd.concat([purchases, pd.DataFrame([("P0001", day_number(date(2026, 3, 19)), 50.0, 15.0)],
                                               columns=purchases.columns)], ignore_index=True)
    kept = clv_assets._fit(later, date(2026, 3, 19), config, tmp_path)
    assert kept[2:] == (date(2026, 2, 28), True) and fits == []
    assert kept[0] == fitted  # the same parameters, log-likelihood and counts, read back exactly
    assert kept[1].as_metadata() == holdout.as_metadata()
    pd.testing.assert_frame_equal(kept[1].by_frequency, holdout.by_frequency)

    # a late purchase dated inside the period: fitted again, on it
    late = pd.concat([later, pd.DataFrame([("P0002", day_number(date(2026, 2, 10)), 70.0, 21.0)],
                                          columns=purchases.columns)], ignore_index=True)
    late = late.sort_values(["party_id", "day"], ignore_index=True)
    refitted = clv_assets._fit(late, date(2026, 3, 19), config, tmp_path)
    assert refitted[2:] == (date(2026, 2, 28), False) and len(fits) == 1
    assert refitted[0] != fitted

    # refit daily: fitted through the as-of date itself
    daily = clv_assets._fit(late, date(2026, 3, 19), clv_assets.ClvConfig(refit="day"), tmp_path)
    assert daily[2:] == (date(2026, 3, 19), False)


def test_a_short_history_is_fitted_through_the_as_of_date(tmp_path):
    purchases = _purchases()
    # nobody bought before the holdout of the period ending 2026-02-28 (it starts 2025-11-30)
    recent = purchases[purchases["day"] >= day_number(date(2025, 12, 1))].reset_index(drop=True)
    fitted, holdout, through, reused = clv_assets._fit(recent, date(2026, 3, 18), clv_assets.ClvConfig(), tmp_path)
    assert (through, reused) == (date(2026, 3, 18), False)
