"""`crm-cif run` tells people when something failed: exit code, one-screen summary, JSON webhook."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from dagster_project.cli import main
from dagster_project.quality.alerts import post_alert


class _Receiver:
    """A local HTTP receiver on 127.0.0.1 that keeps every JSON body it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.server.timeout = 5
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@dg.asset
def landed():
    raise ValueError("the landing disk is on fire")


@dg.asset
def staged():
    return 1


@dg.asset_check(asset=staged, blocking=True)
def staged_reconciles():
    return dg.AssetCheckResult(passed=False, description="branch.visits batch b1: 3 raw rows but 2 accepted + 0 quarantined")


@dg.asset_check(asset=staged)
def staged_is_fresh():
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN, description="email: LATE")


@dg.asset(deps=[staged])
def published():
    return 1


def _broken_defs():
    job = dg.define_asset_job("crm_cif_pipeline", selection=dg.AssetSelection.all(), executor_def=dg.in_process_executor)
    return dg.Definitions(assets=[landed, staged, published], asset_checks=[staged_reconciles, staged_is_fresh], jobs=[job])


@pytest.fixture
def broken_pipeline(tmp_path, monkeypatch):
    import dagster_project.definitions as definitions

    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    for var in ("CRM_CIF_WAREHOUSE", "CRM_CIF_LANDING_DIR", "CRM_CIF_ALERT_WEBHOOK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(definitions, "build_defs", _broken_defs)


def test_failed_run_exits_non_zero_with_a_summary_and_posts_the_alert(broken_pipeline, monkeypatch, capsys):
    with _Receiver() as receiver:
        monkeypatch.setenv("CRM_CIF_ALERT_WEBHOOK", receiver.url)
        assert main(["run"]) == 1
    err = capsys.readouterr().err
    assert "Failed steps (1):\n  landed: ValueError: the landing disk is on fire" in err
    assert "Not run (upstream failed or blocked) (1):\n  published" in err
    assert "Failed blocking checks (1):\n  staged staged_reconciles: branch.visits batch b1" in err
    assert "Warnings (1):\n  staged staged_is_fresh: email: LATE" in err
    assert "Traceback" not in err.split("Pipeline FAILED")[-1]
    assert len(receiver.received) == 1
    alert = receiver.received[0]
    assert alert["status"] == "failed" and alert["job"] == "crm_cif_pipeline" and len(alert["run_id"]) == 36
    assert alert["failed_steps"] == [{"step": "landed", "error": "ValueError: the landing disk is on fire"}]
    assert alert["skipped_steps"] == ["published"]
    assert {(c["check"], c["severity"]) for c in alert["failed_checks"]} == {("staged_reconciles", "ERROR"),
                                                                            ("staged_is_fresh", "WARN")}


def test_an_unreachable_webhook_is_reported_not_raised(broken_pipeline, monkeypatch, capsys):
    monkeypatch.setenv("CRM_CIF_ALERT_WEBHOOK", "http://127.0.0.1:9/nobody-listens")
    assert main(["run"]) == 1
    assert "webhook http://127.0.0.1:9/nobody-listens not reached" in capsys.readouterr().err


def test_post_alert_sends_json():
    with _Receiver() as receiver:
        assert post_alert(receiver.url, {"run_id": "r1", "status": "failed"}, timeout=5) is None
    assert receiver.received == [{"run_id": "r1", "status": "failed"}]


def test_a_failed_dbt_build_names_its_failing_nodes_and_an_out_of_sync_model_gets_a_hint(tmp_path):
    """dbt's own words reach the run summary: the failing nodes and each message, whitespace
    collapsed, from this invocation's run_results.json only (the step's folder keeps the previous run's)."""
    from datetime import datetime, timedelta, timezone

    from dagster_project.dbt_assets import _run_results_since, dbt_failures
    from dagster_project.quality.alerts import hints_for

    started = datetime(2026, 12, 7, 2, 0, tzinfo=timezone.utc)
    results = {"metadata": {"generated_at": "2026-12-07T02:03:04.123456Z"}, "results": [
        {"unique_id": "model.crm_cif.dim_customer", "status": "error",
         "message": "Compilation Error in model dim_customer\n  The source and target schemas on this incremental "
                    "model are out of sync!\n  They can be reconciled ..."},
        {"unique_id": "model.crm_cif.customer_360", "status": "skipped", "message": None},
        {"unique_id": "test.crm_cif.unique_dim_customer_party_id.1a2b3c", "status": "fail",
         "message": "Got 2 results, configured to fail if != 0"},
        {"unique_id": "model.crm_cif.fct_interactions", "status": "success", "message": "OK"},
    ]}
    path = tmp_path / "run_results.json"
    path.write_text(json.dumps(results))
    failures = dbt_failures(_run_results_since(path, started))
    assert failures == ["dim_customer: Compilation Error in model dim_customer The source and target schemas on this "
                        "incremental model are out of sync! They can be reconciled ...",
                        "unique_dim_customer_party_id: Got 2 results, configured to fail if != 0"]
    assert _run_results_since(path, started + timedelta(hours=1)) == {}  # an earlier invocation's file
    assert _run_results_since(tmp_path / "missing.json", started) == {}
    assert dbt_failures({"results": [{"unique_id": f"model.p.m{i}", "status": "error", "message": "x"}
                                     for i in range(7)]}, limit=5)[-1] == "and 2 more"
    # the hint is found in the failure description, which carries dbt's message
    assert hints_for(["dbt build failed: " + "; ".join(failures)]) == ["An incremental model's columns changed (an upgrade or an edited model): run "
                                    "`crm-cif run --full-refresh` once to rebuild the incremental models."]
