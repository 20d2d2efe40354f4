"""The CLV models' fit, kept so daily runs can score with it: in ``<data_dir>/analytics/clv_fit.json``
(beside the pinned identity model, outside the warehouse: a rebuild of the warehouse keeps it, so a
warehouse built day by day still equals one rebuilt in one go) and, for analysts, in
analytics.clv_model_parameters.

Why: BG/NBD and Gamma-Gamma are population models. Their parameters move little from one day to
the next, but fitting them (and refitting on the calibration period for the holdout check) read
every customer's purchase history and took ~5.3 s of the ~14 s CLV step at a million people,
every day. A run fits again when the stored fit is ``refit_days`` old (ClvConfig, default 7;
0 = every run), when there is none, when the holdout length changed, when the data end
before the fit did (a restored warehouse) or on a full refresh (as identity retrains); otherwise
it scores every customer with the stored parameters as of today. The fit is kept with its date
(``fitted_as_of``, the data's as-of date), its log-likelihoods, population and the holdout check
made with it.

Parameters are rounded to six significant digits before they are used, on the day of the fit
too, so the stored rows determine the scores exactly: a re-run scores the same.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from datetime import date
from pathlib import Path

import pandas as pd

from dagster_project.analytics import clv
from dagster_project.analytics.clv_customers import ClvKnobs, Fitted

_FIT_FIELDS = ("log_likelihood", "customers", "distinct_rows", "iterations", "converged")
_MODELS = {"bg_nbd": clv.BgNbdParams, "gamma_gamma": clv.GammaGammaParams}


@dataclasses.dataclass(frozen=True)
class StoredFit:
    fitted: Fitted
    fitted_as_of: date
    holdout: dict[str, float]  # Holdout.as_metadata() of the check made with this fit


def _round(value: float) -> float:
    """Six significant digits (whole numbers as they are): what the table keeps."""
    value = float(value)
    return value if value.is_integer() else float(f"{value:.6g}")


def rounded(fitted: Fitted) -> Fitted:
    """The fit with its parameters as the table keeps them, so a fit day scores as the next days will."""
    def fit(f: clv.Fit) -> clv.Fit:
        params = type(f.params)(*(_round(v) for v in f.params.as_array()))
        return dataclasses.replace(f, params=params)
    return Fitted(fit(fitted.bgnbd), fit(fitted.gamma_gamma))


def _model_values(fitted: Fitted) -> dict[str, dict[str, float]]:
    """model -> its parameters and fit figures: what the file and the table keep of a fit."""
    return {model: {**vars(f.params), **{k: getattr(f, k) for k in _FIT_FIELDS}}
            for model, f in (("bg_nbd", fitted.bgnbd), ("gamma_gamma", fitted.gamma_gamma))}


def parameter_rows(stored: StoredFit, knobs: ClvKnobs) -> pd.DataFrame:
    """model, parameter, value, fitted_as_of: the fit, its holdout check and this run's scoring knobs."""
    rows = [(model, k, float(v)) for model, values in _model_values(stored.fitted).items() for k, v in values.items()]
    rows += [("holdout", k, v) for k, v in stored.holdout.items()]
    rows += [("clv", "horizon_months", knobs.horizon_months), ("clv", "annual_discount_rate", knobs.annual_discount_rate)]
    frame = pd.DataFrame(rows, columns=["model", "parameter", "value"])
    frame["value"] = [_round(v) for v in frame["value"]]
    frame["fitted_as_of"] = stored.fitted_as_of
    return frame


def fit_path(data_dir: Path) -> Path:
    return data_dir / "analytics" / "clv_fit.json"


def save(path: Path, stored: StoredFit) -> None:
    """Write the fit whole or not at all (a crash mid-write leaves the previous fit)."""
    document = {"fitted_as_of": stored.fitted_as_of.isoformat(), "models": _model_values(stored.fitted),
                "holdout": stored.holdout}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.writing")
    partial.write_text(json.dumps(document, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    os.replace(partial, path)


def load(path: Path) -> StoredFit | None:
    """The kept fit, or None when there is none usable (no file, unreadable, a parameter missing or
    not finite): the run then fits."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        fitted_as_of = date.fromisoformat(document["fitted_as_of"])
        fits = {}
        for model, params_type in _MODELS.items():
            values = document["models"][model]
            names = [f.name for f in dataclasses.fields(params_type)] + list(_FIT_FIELDS)
            got = [float(values[n]) for n in names]
            if not all(math.isfinite(v) for v in got):
                return None
            n = len(dataclasses.fields(params_type))
            fits[model] = clv.Fit(params_type(*got[:n]), log_likelihood=got[n], customers=got[n + 1],
                                  distinct_rows=int(got[n + 2]), iterations=int(got[n + 3]),
                                  converged=bool(got[n + 4]))
        holdout = {str(k): float(v) for k, v in document.get("holdout", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return StoredFit(Fitted(fits["bg_nbd"], fits["gamma_gamma"]), fitted_as_of, holdout)


def refit_reason(stored: StoredFit | None, as_of: date, refit_days: int, holdout_days: int,
                 full_refresh: bool = False) -> str | None:
    """Why this run fits the models again, or None: it scores with the stored fit."""
    if refit_days == 0:
        return "refit_days is 0: every run fits"
    if full_refresh:
        return "a full refresh fits again"
    if stored is None:
        return "no stored fit"
    kept_days = stored.holdout.get("holdout_days")
    if kept_days != holdout_days:
        return f"holdout_days changed ({'none' if kept_days is None else f'{kept_days:g}'} -> {holdout_days})"
    if as_of < stored.fitted_as_of:
        return f"the data end ({as_of}) before the stored fit ({stored.fitted_as_of})"
    age = (as_of - stored.fitted_as_of).days
    if age >= refit_days:
        return f"the stored fit is {age} days old (refit_days {refit_days})"
    return None
