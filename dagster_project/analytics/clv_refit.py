"""How often the CLV model is fitted again, and the fit kept between runs.

Why: BG/NBD and Gamma-Gamma describe the population (purchase rates, dropout, spend), which moves
slowly; refitting them, and the calibration/holdout check, on every daily run cost 9 of the CLV
step's 29 s at a million people for parameters that change in the fourth digit. As CLV tools do in
production, the model is fitted on the purchases up to the end of the last whole period before
the as-of date's own (``refit``: week or month; ``day`` fits every run on everything) and every run
scores every customer as of its own as-of date with those parameters. The fit and its holdout check are kept in a file beside the
holdout report (``clv_fit.json``) under a key over everything they read: the purchase days,
amounts and margins up to the period end, and the knobs. A run whose key matches reuses them;
late purchases dated inside the period change the key and the model is fitted again. The fit is
a pure function of those inputs (compressed, order-free), so a kept fit equals a fresh one and a
warehouse built day by day equals one built in one go.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from dagster_project.analytics import clv
from dagster_project.analytics.clv_customers import Fitted
from dagster_project.analytics.clv_report import Holdout

REFIT_PERIODS = ("day", "week", "month")
FIT_FILE = "clv_fit.json"
# Part of the key: raise it when the fitting or holdout code changes what it computes.
FIT_VERSION = 1


def fit_through(as_of: date, refit: str) -> date:
    """The last day the model is fitted on: for ``week`` and ``month``, the end of the last whole
    week (Monday to Sunday) or month before the one ``as_of`` falls in, whose data is complete (the
    as-of period's own files may still come late); for ``day``, ``as_of`` itself (fitted every run)."""
    if refit == "day":
        return as_of
    if refit == "week":
        return as_of - timedelta(days=as_of.weekday() + 1)
    if refit == "month":
        return as_of.replace(day=1) - timedelta(days=1)
    raise ValueError(f"refit must be one of {', '.join(REFIT_PERIODS)}; got {refit!r}")


def has_two_customers(purchases: pd.DataFrame, end_day: int) -> bool:
    """Whether purchases up to ``end_day`` come from two parties or more (a fit needs two)."""
    ids = purchases.loc[purchases["day"] <= end_day, "party_id"].to_numpy()
    return len(ids) > 1 and bool((ids != ids[0]).any())


def inputs_key(purchases: pd.DataFrame, end_day: int, holdout_days: int) -> str:
    """sha256 over what the fit and the holdout read: each party's purchase days, amounts and margins
    up to ``end_day`` (rows in party and day order; the ids themselves do not enter the fit)."""
    p = purchases[purchases["day"] <= end_day]
    ids = p["party_id"].to_numpy()
    starts = np.ones(len(ids), dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    digest = hashlib.sha256(f"v{FIT_VERSION} end {end_day} holdout {holdout_days} rows {len(p)}".encode())
    for column in (starts, p["day"].to_numpy(np.int64), p["amount"].to_numpy(np.float64),
                   p["margin"].to_numpy(np.float64)):
        digest.update(np.ascontiguousarray(column).tobytes())
    return digest.hexdigest()


def _plain(value):
    """A JSON-ready value: numpy scalars (a fit's iteration count, its convergence flag) as Python ones."""
    return value.item() if isinstance(value, np.generic) else value


def _fit_json(fit: clv.Fit) -> dict:
    return {**{k: _plain(v) for k, v in asdict(fit).items() if k != "params"},
            "params": {k: _plain(v) for k, v in asdict(fit.params).items()}}


def _fit_from(data: dict, params_type) -> clv.Fit:
    return clv.Fit(params=params_type(**data["params"]), **{k: v for k, v in data.items() if k != "params"})


def save(folder: Path, key: str, fitted_through: date, fitted: Fitted, holdout: Holdout) -> None:
    """Keep the fit (written to a temp file and renamed: a crash leaves the previous one or none)."""
    frame = holdout.by_frequency.reset_index()
    data = {
        "key": key,
        "fitted_through": fitted_through.isoformat(),
        "bgnbd": _fit_json(fitted.bgnbd),
        "gamma_gamma": _fit_json(fitted.gamma_gamma),
        "holdout": {**{k: _plain(getattr(holdout, k)) for k in ("holdout_days", "customers", "predicted", "actual",
                                                                  "mae", "correlation")},
                    "by_frequency": {c: frame[c].tolist() for c in frame.columns}},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FIT_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load(folder: Path, key: str) -> tuple[Fitted, Holdout] | None:
    """The kept fit and holdout when they were made from the same inputs (``key``); else None."""
    try:
        data = json.loads((folder / FIT_FILE).read_text(encoding="utf-8"))
        if data["key"] != key:
            return None
        fitted = Fitted(_fit_from(data["bgnbd"], clv.BgNbdParams), _fit_from(data["gamma_gamma"], clv.GammaGammaParams))
        h = dict(data["holdout"])
        by_frequency = pd.DataFrame(h.pop("by_frequency")).set_index("bucket")
        return fitted, Holdout(**h, by_frequency=by_frequency)
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none kept, or unreadable: fit again
