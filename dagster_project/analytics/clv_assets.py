"""The CLV asset: BG/NBD + Gamma-Gamma fitted on the warehouse, per-customer CLV, value tiers.

Writes analytics.customer_clv, analytics.clv_by_acquisition and analytics.clv_model_parameters,
and reports a calibration/holdout validation as metadata (and as a markdown file under
``<data_dir>/analytics/``). Knobs are run config (``ClvConfig``), defaults below. The models are
fitted every ``refit_days`` and every customer is scored on every run (clv_fit_store.py says why).
"""

import time
from datetime import date

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from dagster_project.analytics import clv_data, clv_fit_store
from dagster_project.analytics.clv_customers import (ClvKnobs, Fitted, assign_value_tiers, contact_window_start,
                                                     fit_models, monthly_contact_cost, predict, rfm_table)
from dagster_project.analytics.clv_report import holdout_markdown, holdout_plot, holdout_validation
from dagster_project.analytics.plots import image_markdown
from dagster_project.full_refresh import full_refresh_requested
from dagster_project.settings import get_settings

CURRENT_VALUE_DAYS = 365  # current value = purchase margin of the last 12 months

_INPUTS = [dg.AssetKey(["marts", "fct_transactions"]), dg.AssetKey(["marts", "fct_interactions"]),
           dg.AssetKey(["marts", "dim_customer"]), dg.AssetKey(["staging", "stg_marketing__campaigns"]),
           dg.AssetKey(["reference", "products"]), dg.AssetKey(["reference", "contact_cost_rates"]),
           dg.AssetKey(["reference", "value_tiers"])]


class ClvConfig(dg.Config):
    """horizon_months: CLV horizon; annual_discount_rate: discount per year (applied monthly);
    holdout_days: the last days held out to validate the model; refit_days: fit the models again
    once their fit is this many days old (0: on every run); every run scores every customer."""

    horizon_months: int = 36
    annual_discount_rate: float = 0.10
    holdout_days: int = 90
    refit_days: int = 7


def _spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(["analytics", name], deps=_INPUTS, group_name="analytics", kinds={"python", "duckdb"},
                        description=description)


def _customer_table(con: duckdb.DuckDBPyConnection, knobs: ClvKnobs, as_of: date, summary: pd.DataFrame,
                    acquisition: pd.DataFrame, fitted: Fitted | None) -> tuple[pd.DataFrame, Fitted]:
    """Every customer scored as of ``as_of``, with ``fitted`` or (None) a fit made now."""
    as_of_day = clv_data.day_number(as_of)
    rfm = rfm_table(summary, as_of_day)
    fitted = fitted or clv_fit_store.rounded(fit_models(rfm))
    start = contact_window_start(rfm["first_day"], as_of_day, CURRENT_VALUE_DAYS)
    cost = clv_data.contact_cost_since(con, start, as_of)
    predicted = predict(rfm, fitted, knobs, monthly_contact_cost(cost, start, as_of_day))
    table = rfm.join(predicted).join(acquisition.set_index("party_id"), how="left")
    table["current_value"] = summary["recent_margin"].reindex(table.index, fill_value=0.0)
    table["value_tier"] = assign_value_tiers(table["net_clv"], table["current_value"], clv_data.value_tier_rules(con))
    table["as_of_date"] = as_of
    return table.reset_index(), fitted


def _write(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame, select: str) -> int:
    con.execute("create schema if not exists analytics")
    con.register("_clv_frame", frame)
    try:
        con.execute(f"create or replace table analytics.{name} as {select}")
    finally:
        con.unregister("_clv_frame")
    return con.execute(f"select count(*) from analytics.{name}").fetchall()[0][0]


_CUSTOMER_CLV_SQL = """
    select party_id, as_of_date,
        cast(frequency as integer) as frequency,
        cast(recency as integer) as recency_days,
        cast("T" as integer) as t_days,
        cast(round(monetary_value, 2) as decimal(18, 2)) as monetary_value,
        round(p_alive, 6) as p_alive,
        round(expected_txn_90d, 4) as expected_txn_90d,
        round(expected_txn_12m, 4) as expected_txn_12m,
        cast(round(expected_aov, 2) as decimal(18, 2)) as expected_aov,
        cast(round(clv, 2) as decimal(18, 2)) as clv,
        cast(round(expected_cost_to_serve, 2) as decimal(18, 2)) as expected_cost_to_serve,
        cast(round(net_clv, 2) as decimal(18, 2)) as net_clv,
        acquisition_channel, acquisition_campaign,
        cast(round(acquisition_cost, 2) as decimal(18, 2)) as acquisition_cost,
        cast(round(current_value, 2) as decimal(18, 2)) as current_value,
        value_tier
    from _clv_frame order by party_id
"""

# Per acquisition channel and campaign. CAC spreads a campaign's spend over every customer it
# acquired, so average net CLV is taken over the same customers: one who never bought counts 0.
_BY_ACQUISITION_SQL = """
    -- sums in exact decimals, then one division: a parallel float sum can differ in its last
    -- bit between runs and flip a rounding, and a re-run must write the same table
    with frame as (
        select coalesce(a.acquisition_channel, 'unknown') as acquisition_channel,
            coalesce(a.acquisition_campaign, 'none') as acquisition_campaign,
            a.party_id, c.party_id as purchasing_party_id,
            coalesce(c.net_clv, 0) as net_clv,
            cast(a.acquisition_cost as decimal(18, 6)) as acquisition_cost
        from _clv_frame as a
        left join analytics.customer_clv as c on c.party_id = a.party_id
    )
    select acquisition_channel, acquisition_campaign,
        count(*) as customers_acquired,
        count(purchasing_party_id) as customers_purchasing,
        cast(round(sum(net_clv) / count(*), 2) as decimal(18, 2)) as avg_net_clv,
        cast(round(sum(acquisition_cost) / count(*), 2) as decimal(18, 2)) as cac,
        cast(round(sum(acquisition_cost), 2) as decimal(18, 2)) as acquisition_spend,
        case when sum(acquisition_cost) > 0
             then cast(round(sum(net_clv) / sum(acquisition_cost), 3) as double) end as clv_to_cac
    from frame
    group by all order by acquisition_channel, acquisition_campaign
"""


@dg.multi_asset(
    specs=[
        _spec("customer_clv", "Per individual with a purchase: BG/NBD p_alive and expected purchases, Gamma-Gamma "
                              "order value, discounted CLV (margin), cost to serve, net CLV, CAC, value tier."),
        _spec("clv_by_acquisition", "Per acquisition channel and campaign: customers, average net CLV, CAC, CLV/CAC."),
        _spec("clv_model_parameters", "The fitted BG/NBD and Gamma-Gamma parameters, log-likelihoods and knobs."),
    ],
    name="customer_lifetime_value",
)
def customer_lifetime_value(context: dg.AssetExecutionContext, config: ClvConfig, duckdb: DuckDBResource):
    """Value every customer with BG/NBD + Gamma-Gamma, fitted on purchase days when the fit is due
    (then validated on a holdout), else with the stored fit."""
    if config.refit_days < 0:
        raise dg.Failure(f"CLV: refit_days must be 0 (fit on every run) or more days, not {config.refit_days}")
    knobs = ClvKnobs(config.horizon_months, config.annual_discount_rate)
    data_dir = get_settings().data_dir
    report_dir, kept = data_dir / "analytics", clv_fit_store.fit_path(data_dir)
    full_refresh = full_refresh_requested(duckdb.database, context.run.tags)
    with duckdb.get_connection() as con:
        as_of = clv_data.as_of_date(con)
        as_of_day = clv_data.day_number(as_of)
        summary = clv_data.purchase_summaries(con, clv_data.purchase_days_sql(as_of), as_of_day,
                                              as_of_day - config.holdout_days, as_of_day - CURRENT_VALUE_DAYS)
        if len(summary) < 2:
            raise dg.Failure("CLV: fewer than two individuals with a purchase; nothing to fit")
        acquisition = clv_data.customer_acquisition(con)
        stored = clv_fit_store.load(kept)
        refit = clv_fit_store.refit_reason(stored, as_of, config.refit_days, config.holdout_days, full_refresh)
        started = time.perf_counter()
        # a history too short or small to fit: say which fit and why, not a numpy traceback
        try:
            table, fitted = _customer_table(con, knobs, as_of, summary, acquisition,
                                            None if refit else stored.fitted)
        except ValueError as exc:
            what = (f"the fit on every customer ({refit})" if refit
                    else f"scoring every customer with the fit of {stored.fitted_as_of}")
            raise dg.Failure(f"CLV: {what}: {exc}") from exc
        seconds = time.perf_counter() - started
        holdout = None
        if refit:
            try:
                holdout = holdout_validation(summary, as_of_day, config.holdout_days)
            except ValueError as exc:
                raise dg.Failure(f"CLV: the holdout check, fitted on the history before the last "
                                 f"{config.holdout_days} days: {exc}") from exc
            stored = clv_fit_store.StoredFit(fitted, as_of, holdout.as_metadata())
            clv_fit_store.save(kept, stored)
        counts = {"customer_clv": _write(con, "customer_clv", table, _CUSTOMER_CLV_SQL)}
        counts["clv_by_acquisition"] = _write(con, "clv_by_acquisition", acquisition, _BY_ACQUISITION_SQL)
        counts["clv_model_parameters"] = _write(con, "clv_model_parameters",
                                                clv_fit_store.parameter_rows(stored, knobs),
                                                "select model, parameter, value, fitted_as_of from _clv_frame")
        tiers = dict(con.execute("select value_tier, count(*) from analytics.customer_clv group by 1 order by 1")
                     .fetchall())
        by_acquisition = con.execute("select * from analytics.clv_by_acquisition").df()
    report, plot = report_dir / "clv_holdout.md", report_dir / "clv_holdout.png"
    holdout_meta = {}
    if holdout is not None:
        chart = holdout_markdown(holdout)
        report_dir.mkdir(parents=True, exist_ok=True)
        holdout_plot(holdout, plot)
        report.write_text(f"# CLV model: calibration / holdout (as of {as_of})\n\n![holdout]({plot.name})\n\n{chart}\n")
        holdout_meta = {"holdout_chart": dg.MetadataValue.md(chart),
                        "holdout_plot": dg.MetadataValue.md(image_markdown(plot, "predicted vs actual holdout purchases"))}
    holdout_meta.update({key: dg.MetadataValue.path(str(path))
                         for key, path in (("holdout_report", report), ("holdout_plot_file", plot)) if path.exists()})
    bg, gg = fitted.bgnbd, fitted.gamma_gamma
    fit_note = f"fitted now ({refit})" if refit else f"fit of {stored.fitted_as_of}"
    context.log.info(f"CLV: {len(table)} customers as of {as_of}; {fit_note}; BG/NBD {bg.params}; "
                     f"Gamma-Gamma {gg.params}; holdout {stored.holdout.get('holdout_relative_error', float('nan')):+.1%}")

    yield dg.MaterializeResult(asset_key=["analytics", "customer_clv"], metadata={
        "dagster/row_count": dg.MetadataValue.int(counts["customer_clv"]),
        "as_of_date": dg.MetadataValue.text(str(as_of)),
        "refit": dg.MetadataValue.bool(bool(refit)),
        "refit_reason": dg.MetadataValue.text(refit or "the stored fit is current"),
        "fitted_as_of": dg.MetadataValue.text(str(stored.fitted_as_of)),
        "fit_file": dg.MetadataValue.path(str(kept)),
        "value_tiers": dg.MetadataValue.json(tiers),
        "total_net_clv": dg.MetadataValue.float(round(float(table["net_clv"].sum()), 2)),
        "median_p_alive": dg.MetadataValue.float(round(float(np.median(table["p_alive"])), 4)),
        "fit_and_predict_seconds": dg.MetadataValue.float(round(seconds, 2)),
        **{k: _number(v) for k, v in stored.holdout.items()},
        **holdout_meta,
    })
    yield dg.MaterializeResult(asset_key=["analytics", "clv_by_acquisition"], metadata={
        "dagster/row_count": dg.MetadataValue.int(counts["clv_by_acquisition"]),
        "preview": dg.MetadataValue.md(by_acquisition.head(20).to_markdown(index=False)),
    })
    yield dg.MaterializeResult(asset_key=["analytics", "clv_model_parameters"], metadata={
        "dagster/row_count": dg.MetadataValue.int(counts["clv_model_parameters"]),
        "fitted_as_of": dg.MetadataValue.text(str(stored.fitted_as_of)),
        "refit": dg.MetadataValue.bool(bool(refit)),
        "bg_nbd": dg.MetadataValue.json({k: round(v, 6) for k, v in vars(bg.params).items()}),
        "bg_nbd_log_likelihood": dg.MetadataValue.float(round(bg.log_likelihood, 3)),
        "gamma_gamma": dg.MetadataValue.json({k: round(v, 6) for k, v in vars(gg.params).items()}),
        "customers": dg.MetadataValue.int(int(bg.customers)),
        "distinct_rows": dg.MetadataValue.int(bg.distinct_rows),
    })


def _number(value: float | int) -> dg.MetadataValue:
    """A holdout figure as metadata: whole numbers (days, customers, purchases) as ints."""
    value = float(value)
    return dg.MetadataValue.int(int(value)) if value.is_integer() else dg.MetadataValue.float(value)


CLV_ASSETS = [customer_lifetime_value]
