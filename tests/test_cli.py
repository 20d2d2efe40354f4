"""The CLI answers bad input with a one-line message and an exit code, never a traceback."""

import pytest

from dagster_project.cli import main


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    for var in ("CRM_CIF_WAREHOUSE", "CRM_CIF_LANDING_DIR"):
        monkeypatch.delenv(var, raising=False)


def test_generate_rejects_a_too_small_world(tmp_path, capsys):
    assert main(["generate", "--people", "5", "--out", str(tmp_path / "w")]) == 2
    assert "people must be at least 10" in capsys.readouterr().err


def test_generate_rejects_reversed_dates(tmp_path, capsys):
    code = main(["generate", "--people", "50", "--start", "2026-01-01", "--end", "2025-01-01", "--out", str(tmp_path / "w")])
    assert code == 2
    assert "end must not be before start" in capsys.readouterr().err


def test_generate_rejects_a_bad_date(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "--start", "2026-13-01"])
    assert exit_info.value.code == 2
    assert "not a date (YYYY-MM-DD): '2026-13-01'" in capsys.readouterr().err


def test_generate_writes_a_small_world(tmp_path, capsys):
    out = tmp_path / "w"
    assert main(["generate", "--people", "30", "--start", "2026-01-01", "--end", "2026-03-31", "--out", str(out)]) == 0
    assert "Sample world of 30 people" in capsys.readouterr().out
    assert any((out / "landing" / "branch").iterdir())
    assert (out / "truth" / "persons.parquet").exists()


def test_sql_and_summary_without_a_warehouse(tmp_path, capsys):
    assert main(["sql", "select 1"]) == 1
    assert "No warehouse at" in capsys.readouterr().err
    assert main(["summary"]) == 0
    assert "run `crm-cif run`" in capsys.readouterr().out


def test_sql_reports_a_bad_query(tmp_path, capsys):
    import duckdb

    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    assert main(["sql", "select * from nowhere"]) == 1
    assert "query failed" in capsys.readouterr().err


def test_dagster_instance_runs_one_writer_at_a_time(tmp_path, monkeypatch):
    import dagster as dg

    from dagster_project.cli import _dagster_home

    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    home = _dagster_home()
    assert home == tmp_path / "dagster_home"
    with dg.DagsterInstance.get() as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 1
        assert config.pool_config.default_pool_limit == 1
