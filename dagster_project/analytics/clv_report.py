"""Calibration/holdout validation of the CLV model on the warehouse's own purchases, as markdown.

Fit on the purchases up to ``as_of - holdout_days``, predict the repeat purchase days of the
holdout window for the customers already known then, and compare with what happened: in
aggregate, per customer (MAE, correlation) and by calibration-period frequency (the FHL 2005
"conditional expectations" chart): as a markdown table with text bars for the Dagster UI,
and as a PNG plot (matplotlib, headless) next to the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dagster_project.analytics import clv
from dagster_project.analytics.plots import pyplot
from dagster_project.analytics.clv_customers import fit_models, rfm_table

_BAR_WIDTH = 30


@dataclass(frozen=True)
class Holdout:
    holdout_days: int
    customers: int
    predicted: float
    actual: int
    mae: float
    correlation: float
    by_frequency: pd.DataFrame  # frequency bucket → customers, mean predicted, mean actual

    @property
    def relative_error(self) -> float:
        return self.predicted / self.actual - 1 if self.actual else float("nan")

    def as_metadata(self) -> dict[str, float | int]:
        return {"holdout_days": self.holdout_days, "holdout_customers": self.customers,
                "holdout_predicted_repeat_purchases": round(self.predicted, 1),
                "holdout_actual_repeat_purchases": self.actual,
                "holdout_relative_error": round(self.relative_error, 4),
                "holdout_mae_per_customer": round(self.mae, 4),
                "holdout_correlation": round(self.correlation, 4)}


def holdout_validation(summary: pd.DataFrame, as_of_day: int, holdout_days: int) -> Holdout:
    """Refit on the calibration period and score the holdout window.

    ``summary``: clv_data.purchase_summaries with ``cutoff_day = as_of_day - holdout_days``.
    """
    cutoff = as_of_day - holdout_days
    calibration = rfm_table(summary, cutoff, prefix="cal_")
    if len(calibration) < 2:
        raise ValueError(f"a holdout of {holdout_days} days leaves fewer than two customers to calibrate on")
    fitted = fit_models(calibration)
    rows = clv.compress(calibration["frequency"], calibration["recency"], calibration["T"])
    predicted = clv.expected_transactions(fitted.bgnbd.params, float(holdout_days), *rows.rows.T)[rows.inverse]
    actual = summary.loc[calibration.index, "holdout_purchases"].to_numpy()
    bucket = np.minimum(calibration["frequency"].to_numpy(), 7).astype(int)
    by_frequency = (pd.DataFrame({"bucket": bucket, "predicted": predicted, "actual": actual})
                    .groupby("bucket").agg(customers=("actual", "size"), predicted=("predicted", "mean"),
                                           actual=("actual", "mean")))
    corr = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 and actual.std() > 0 else float("nan")
    return Holdout(holdout_days=holdout_days, customers=len(calibration), predicted=float(predicted.sum()),
                   actual=int(actual.sum()), mae=float(np.abs(predicted - actual).mean()), correlation=corr,
                   by_frequency=by_frequency)


def holdout_markdown(h: Holdout) -> str:
    """Predicted against actual repeat purchases per calibration frequency, with text bars."""
    values = h.by_frequency[["predicted", "actual"]].to_numpy(dtype=float)
    top = max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, 1e-9)

    def bar(value: float) -> str:
        """A text bar; a value the model could not predict (too few customers) has none."""
        return "#" * round(_BAR_WIDTH * value / top) if np.isfinite(value) else "n/a"

    lines = [f"Holdout: the last {h.holdout_days} days. Customers known before it: {h.customers:,}. "
             f"Repeat purchase days predicted {h.predicted:,.1f}, actual {h.actual:,} "
             f"({h.relative_error:+.1%}); per customer MAE {h.mae:.3f}, correlation {h.correlation:.3f}.",
             "",
             "| purchases before (x) | customers | predicted per customer | actual per customer | predicted | actual |",
             "|---|---:|---:|---:|---|---|"]
    for bucket, row in h.by_frequency.iterrows():
        label = f"{bucket}+" if bucket == 7 else str(bucket)
        predicted_bar, actual_bar = bar(row.predicted), bar(row.actual)
        lines.append(f"| {label} | {int(row.customers):,} | {row.predicted:.3f} | {row.actual:.3f} "
                     f"| `{predicted_bar}` | `{actual_bar}` |")
    return "\n".join(lines)


def holdout_plot(h: Holdout, path: Path) -> Path:
    """The conditional-expectations plot: mean predicted vs actual holdout purchases by frequency."""
    plt = pyplot()
    labels = [f"{b}+" if b == 7 else str(b) for b in h.by_frequency.index]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    ax.plot(labels, h.by_frequency["actual"], marker="o", label="actual")
    ax.plot(labels, h.by_frequency["predicted"], marker="s", linestyle="--", label="predicted (BG/NBD)")
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel(f"mean purchases in the {h.holdout_days}-day holdout")
    ax.set_title(f"Holdout: predicted {h.predicted:,.0f} vs actual {h.actual:,} ({h.relative_error:+.1%})")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path
