"""The CLV models are fitted when their fit is due and every customer is scored on every run.

On a copy of the session's built warehouse and its kept fit (its first run fitted the models): a
run with the fit current scores with the kept parameters, exactly as the fit day did; a forged
parameter shows that those are what score; an old fit, a changed holdout, data ending before the
fit, refit_days 0, a full refresh and a missing, broken or incomplete fit file each fit again, and
a fit again gives the first run's table back.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.analytics import clv_fit_store
from dagster_project.analytics.clv import BgNbdParams, Fit, GammaGammaParams
from dagster_project.analytics.clv_assets import CLV_ASSETS
from dagster_project.analytics.clv_customers import ClvKnobs, Fitted
from dagster_project.analytics.clv_fit_store import StoredFit, refit_reason


@pytest.fixture
def warehouse(built_world, tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))  # the fit and its report go here, not to the world
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, copy)
    (tmp_path / "analytics").mkdir()
    shutil.copyfile(clv_fit_store.fit_path(built_world.root), clv_fit_store.fit_path(tmp_path))
    return str(copy)


def _edit_fit(warehouse: str, edit) -> None:
    path = clv_fit_store.fit_path(Path(warehouse).parent)
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document))


def _older(days: int):
    def edit(document):
        document["fitted_as_of"] = (date.fromisoformat(document["fitted_as_of"]) - timedelta(days=days)).isoformat()
    return edit


def _materialize(warehouse: str, tags: dict | None = None, **config):
    return dg.materialize(CLV_ASSETS, resources={"duckdb": DuckDBResource(database=warehouse)},
                          run_config={"ops": {"customer_lifetime_value": {"config": config}}} if config else None,
                          tags=tags, raise_on_error=False)


def _run(warehouse: str, tags: dict | None = None, **config) -> dict:
    result = _materialize(warehouse, tags, **config)
    assert result.success, [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    [event] = [e for e in result.get_asset_materialization_events()
               if e.materialization.asset_key.path == ["analytics", "customer_clv"]]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _query(warehouse: str, sql: str, *params):
    con = duckdb.connect(warehouse)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


def _scores(warehouse: str) -> list[tuple]:
    return _query(warehouse, "select * from analytics.customer_clv order by party_id")


def _as_of(warehouse: str) -> date:
    return _query(warehouse, "select max(occurred_on) from marts.fct_transactions")[0][0]


def test_a_current_fit_scores_as_the_fit_day_did(warehouse):
    fitted_on, first = _scores(warehouse), _query(warehouse, "select * from analytics.clv_model_parameters order by all")
    assert {row[-1] for row in first} == {_as_of(warehouse)}  # every row dated by the fit's data
    meta = _run(warehouse)
    assert meta["refit"] is False and meta["fitted_as_of"] == str(_as_of(warehouse))
    assert meta["holdout_days"] == 90 and "holdout_relative_error" in meta  # the fit's check, as stored
    assert _scores(warehouse) == fitted_on  # the stored, rounded parameters are the ones the fit day used
    assert _query(warehouse, "select * from analytics.clv_model_parameters order by all") == first


def test_the_stored_parameters_are_what_scores(warehouse):
    fitted_on = _scores(warehouse)
    _edit_fit(warehouse, lambda d: d["models"]["bg_nbd"].update(r=d["models"]["bg_nbd"]["r"] * 3))
    assert _run(warehouse)["refit"] is False
    forged = _scores(warehouse)
    assert len(forged) == len(fitted_on) and forged != fitted_on
    expected = "select sum(expected_txn_90d) from analytics.customer_clv"
    assert _query(warehouse, expected)[0][0] > sum(row[7] for row in fitted_on)  # 3x the rate: more purchases
    r = _query(warehouse, "select value from analytics.clv_model_parameters where parameter = 'r'")
    assert r == [(round(json.loads(clv_fit_store.fit_path(Path(warehouse).parent).read_text())["models"]["bg_nbd"]["r"], 6),)]
    # once the fit is a week old it is fitted again, and the first run's scores come back
    _edit_fit(warehouse, _older(7))
    meta = _run(warehouse)
    assert meta["refit"] is True and meta["refit_reason"] == "the stored fit is 7 days old (refit_days 7)"
    assert _scores(warehouse) == fitted_on


def _remove(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("change, config, tags, reason", [
    (_older(2), {"refit_days": 2}, None, "the stored fit is 2 days old (refit_days 2)"),
    (None, {"refit_days": 0}, None, "refit_days is 0: every run fits"),
    (None, {"holdout_days": 60}, None, "holdout_days changed (90 -> 60)"),
    (_older(-1), {}, None, "the data end ({as_of}) before the stored fit ({after})"),
    (None, {}, {"crm_cif/full_refresh": "true"}, "a full refresh fits again"),
    (lambda d: d["models"]["gamma_gamma"].pop("gamma"), {}, None, "no stored fit"),
    (lambda d: d["models"]["bg_nbd"].update(a=float("nan")), {}, None, "no stored fit"),
    ("missing", {}, None, "no stored fit"),
    ("broken", {}, None, "no stored fit"),
])
def test_a_fit_is_due(warehouse, change, config, tags, reason):
    as_of = _as_of(warehouse)
    path = clv_fit_store.fit_path(Path(warehouse).parent)
    if change == "missing":
        path.unlink()
    elif change == "broken":
        path.write_text(path.read_text()[:40])
    elif change is not None:
        _edit_fit(warehouse, change)
    meta = _run(warehouse, tags, **config)
    assert meta["refit"] is True
    assert meta["refit_reason"] == reason.format(as_of=as_of, after=as_of + timedelta(days=1))
    assert meta["fitted_as_of"] == str(as_of)
    assert meta["holdout_days"] == config.get("holdout_days", 90)
    assert _query(warehouse, "select distinct fitted_as_of from analytics.clv_model_parameters") == [(as_of,)]
    assert clv_fit_store.load(path).fitted_as_of == as_of


def test_a_negative_refit_days_is_refused(warehouse):
    result = _materialize(warehouse, refit_days=-1)
    [failure] = [e.step_failure_data.error.message for e in result.all_events if e.is_step_failure]
    assert "refit_days must be 0 (fit on every run) or more days, not -1" in failure


def _fit(params, log_likelihood=-1234.5678901) -> Fit:
    return Fit(params, log_likelihood=log_likelihood, customers=625109.0, distinct_rows=4321, iterations=17,
               converged=True)


def test_the_fit_file_and_the_table_round_trip(con, tmp_path):
    fitted = Fitted(_fit(BgNbdParams(0.2435678912, 7.123456789, 0.5, 2.25)), _fit(GammaGammaParams(4.1, 3.0, 15123.456789)))
    stored = StoredFit(clv_fit_store.rounded(fitted), date(2026, 10, 31), {"holdout_days": 90, "holdout_correlation": 0.6789})
    assert stored.fitted.bgnbd.params == BgNbdParams(0.243568, 7.12346, 0.5, 2.25)
    assert stored.fitted.gamma_gamma.params == GammaGammaParams(4.1, 3.0, 15123.5)
    path = tmp_path / "analytics" / "clv_fit.json"
    clv_fit_store.save(path, stored)
    assert [p.name for p in path.parent.iterdir()] == ["clv_fit.json"]  # nothing half-written left
    back = clv_fit_store.load(path)
    assert back.fitted_as_of == date(2026, 10, 31)
    assert back.fitted.bgnbd.params == stored.fitted.bgnbd.params
    assert back.fitted.gamma_gamma.params == stored.fitted.gamma_gamma.params
    assert back.fitted.bgnbd == stored.fitted.bgnbd and back.fitted.gamma_gamma == stored.fitted.gamma_gamma
    assert back.holdout == {"holdout_days": 90, "holdout_correlation": 0.6789}
    # the table: six significant digits, whole numbers exact, every row dated by the fit
    con.register("_rows", clv_fit_store.parameter_rows(back, ClvKnobs(36, 0.1)))
    rows = {(m, p): (v, d) for m, p, v, d in con.execute("select * from _rows").fetchall()}
    assert rows[("bg_nbd", "log_likelihood")] == (-1234.57, date(2026, 10, 31))
    assert rows[("bg_nbd", "customers")][0] == 625109 and rows[("gamma_gamma", "iterations")][0] == 17
    assert rows[("bg_nbd", "r")][0] == 0.243568 and rows[("holdout", "holdout_days")][0] == 90
    assert (rows[("clv", "horizon_months")][0], rows[("clv", "annual_discount_rate")][0]) == (36, 0.1)


def test_refit_reason():
    fitted = Fitted(_fit(BgNbdParams(1, 1, 1, 1)), _fit(GammaGammaParams(1, 2, 1)))
    stored = StoredFit(fitted, date(2026, 10, 1), {"holdout_days": 90})
    assert refit_reason(stored, date(2026, 10, 7), 7, 90) is None
    assert refit_reason(stored, date(2026, 10, 1), 1, 90) is None
    assert refit_reason(stored, date(2026, 10, 8), 7, 90) == "the stored fit is 7 days old (refit_days 7)"
    assert refit_reason(stored, date(2026, 10, 2), 1, 90) == "the stored fit is 1 days old (refit_days 1)"
    assert refit_reason(stored, date(2026, 9, 30), 7, 90) == "the data end (2026-09-30) before the stored fit (2026-10-01)"
    assert refit_reason(stored, date(2026, 10, 2), 7, 30) == "holdout_days changed (90 -> 30)"
    assert refit_reason(stored, date(2026, 10, 1), 0, 90) == "refit_days is 0: every run fits"
    assert refit_reason(None, date(2026, 10, 1), 7, 90) == "no stored fit"
    assert refit_reason(stored, date(2026, 10, 2), 7, 90, full_refresh=True) == "a full refresh fits again"
