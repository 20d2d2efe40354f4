"""Ingest assets materialize in-process against a temporary warehouse; the landing sensor."""

from __future__ import annotations


import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from dagster_project.ingest.assets import build_ingest_assets
from dagster_project.ingest.sensors import build_landing_sensor
from dagster_project.settings import get_settings
from dagster_project.sources import ENTITIES, SOURCES


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    for var in ("CRM_CIF_LANDING_DIR", "CRM_CIF_WAREHOUSE"):
        monkeypatch.delenv(var, raising=False)
    landing = tmp_path / "landing"
    (landing / "callcentre").mkdir(parents=True)
    (landing / "web").mkdir(parents=True)
    header = "call_id|caller_phone|account_number|agent_id|started_at|wait_seconds|duration_seconds|" \
             "reason_code|resolution|first_contact_resolved"
    (landing / "callcentre" / "calls_20250101.csv").write_text(
        f"{header}\nC1|0803|AC1|A1|2025-01-01T09:00:00|5|60|card|resolved|true\nC2|bad\n")
    (landing / "callcentre" / "calls_20250102.csv").write_text(
        f"{header}\nC3|0803|AC1|A1|2025-01-02T09:00:00|5|60|card|resolved|true\n")
    (landing / "callcentre" / "unexpected.csv").write_text("x\n")
    (landing / "web" / "orders_20250101.jsonl").write_text('{"order_id": "O1"}\n{"order_id": "O2"}\n')
    return tmp_path


def resources():
    return {"duckdb": DuckDBResource(database=str(get_settings().warehouse_path))}


def metadata_by_asset(result):
    return {ev.materialization.asset_key.to_user_string(): {k: v.value for k, v in ev.materialization.metadata.items()}
            for ev in result.get_asset_materialization_events()}


def test_one_multi_asset_per_source_with_entity_specs():
    assets = build_ingest_assets()
    assert [a.op.name for a in assets] == [f"ingest_{s.name}" for s in SOURCES]
    keys = {k.to_user_string() for a in assets for k in a.keys}
    assert keys == {f"raw/{e.table}" for e in ENTITIES}
    spec = next(s for a in assets for s in a.specs if s.key == dg.AssetKey(["raw", "web__orders"]))
    assert (spec.group_name, spec.kinds) == ("raw", {"duckdb"})


def test_materialize_reports_metadata_and_rerun_is_noop(world):
    (world / "landing" / "crm").mkdir()
    (world / "landing" / "crm" / "calls_20250101.csv").write_text("x\n")  # an unknown source folder
    result = dg.materialize(build_ingest_assets(), resources=resources())
    assert result.success
    md = metadata_by_asset(result)
    assert len(md) == len(ENTITIES)
    calls = md["raw/callcentre__calls"]
    assert {k: calls[k] for k in ("files_loaded", "files_skipped", "rows_loaded", "rows_rejected",
                                  "dagster/row_count", "unknown_files_in_source")} == {
        "files_loaded": 2, "files_skipped": 0, "rows_loaded": 2, "rows_rejected": 1,
        "dagster/row_count": 2, "unknown_files_in_source": 1}
    assert md["raw/web__orders"]["rows_loaded"] == 2
    assert md["raw/branch__customers"]["dagster/row_count"] == 0  # table exists before any file

    again = metadata_by_asset(dg.materialize(build_ingest_assets(), resources=resources()))
    calls2 = again["raw/callcentre__calls"]
    assert (calls2["files_loaded"], calls2["files_skipped"], calls2["rows_loaded"], calls2["dagster/row_count"]) \
        == (0, 2, 0, 2)
    assert calls2["skipped"] == ("- `callcentre/calls_20250101.csv`: content already loaded (same sha256)\n"
                                 "- `callcentre/calls_20250102.csv`: content already loaded (same sha256)")

    con = duckdb.connect(str(get_settings().warehouse_path), read_only=True)
    try:
        batch = con.execute("SELECT DISTINCT _batch_id FROM raw.callcentre__calls").fetchall()
        assert batch == [(result.run_id,)]
        assert con.execute("SELECT source_file, line_number, raw_line FROM raw.rejects").fetchall() == [
            ("callcentre/calls_20250101.csv", 3, "C2|bad")]
        unmatched = con.execute("SELECT source_file, reason FROM raw.unmatched_files ORDER BY 1").fetchall()
        assert [f for f, _ in unmatched] == ["callcentre/unexpected.csv", "crm/calls_20250101.csv"]
        assert unmatched[1][1].startswith("folder 'crm' is not a known source")
    finally:
        con.close()


def test_subset_materializes_only_selected_entity(world):
    result = dg.materialize(build_ingest_assets(), resources=resources(), selection="raw/web__orders")
    assert list(metadata_by_asset(result)) == ["raw/web__orders"]


def test_landing_sensor_requests_run_only_on_change(world):
    job = dg.define_asset_job("ingest_job", selection=dg.AssetSelection.groups("raw"))
    sensor = build_landing_sensor(job)
    defs = dg.Definitions(assets=build_ingest_assets(), jobs=[job], sensors=[sensor], resources=resources())
    ctx = dg.build_sensor_context(cursor=None, definitions=defs)
    first = sensor(ctx)
    assert isinstance(first, dg.RunRequest)
    assert first.run_key == ctx.cursor
    again = sensor(dg.build_sensor_context(cursor=ctx.cursor, definitions=defs))
    assert isinstance(again, dg.SkipReason)
    new = world / "landing" / "web" / "orders_20250102.jsonl"
    new.write_text('{"order_id": "O3"}\n')
    third = sensor(dg.build_sensor_context(cursor=ctx.cursor, definitions=defs))
    assert isinstance(third, dg.RunRequest) and third.run_key != first.run_key
    assert not get_settings().warehouse_path.exists()  # the sensor never touches the warehouse
