"""The Dagster home's event log keeps its connections, and stores what Dagster's own stores."""

import dagster as dg
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

from dagster_project import cli
from dagster_project.event_log_storage import KEPT_SHARDS, KeptConnectionsSqliteEventLogStorage


@dg.asset
def numbers() -> int:
    return 3


@dg.asset_check(asset=numbers)
def numbers_positive(numbers: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=numbers > 0)


def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return cli._dagster_home()


def test_runs_are_stored_as_dagsters_own_sqlite_storage_reads_them(tmp_path, monkeypatch):
    home = _home(tmp_path, monkeypatch)
    run_ids = []
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.event_log_storage, KeptConnectionsSqliteEventLogStorage)
        for _ in range(2):
            result = dg.materialize([numbers, numbers_positive], instance=instance)
            assert result.success
            run_ids.append(result.run_id)
        ours = {run_id: [e.dagster_event_type for e in instance.all_logs(run_id)] for run_id in run_ids}
        latest = instance.get_latest_materialization_event(dg.AssetKey("numbers"))
        assert latest.run_id == run_ids[1]
        checks = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("numbers"), "numbers_positive"), limit=10)
        assert [c.run_id for c in checks] == run_ids[::-1]

    plain = SqliteEventLogStorage(str(home / "history" / "runs"))
    assert sorted(plain.get_all_run_ids()) == sorted(run_ids)
    for run_id in run_ids:
        theirs = [e.dagster_event_type for e in plain.get_logs_for_run(run_id)]
        assert theirs == ours[run_id]
        assert theirs.count(dg.DagsterEventType.ASSET_MATERIALIZATION) == 1
        assert theirs.count(dg.DagsterEventType.ASSET_CHECK_EVALUATION) == 1


def test_engines_are_kept_bounded_and_dropped_in_a_forked_child(tmp_path):
    storage = KeptConnectionsSqliteEventLogStorage(str(tmp_path / "runs"))
    first = storage._engine("run_a")
    assert storage._engine("run_a") is first
    for i in range(KEPT_SHARDS + 3):
        storage._engine(f"run_{i}")
    assert len(storage._engines) == KEPT_SHARDS
    assert "run_a" not in storage._engines  # the least recently used went first
    kept = storage._engine(f"run_{KEPT_SHARDS + 2}")
    storage._engines_pid = -1  # as in a child after fork: the parent's pools are not reused
    assert storage._engine(f"run_{KEPT_SHARDS + 2}") is not kept
    assert len(storage._engines) == 1


def test_wipe_deletes_the_runs_with_their_connections_closed(tmp_path, monkeypatch):
    home = _home(tmp_path, monkeypatch)
    with dg.DagsterInstance.get() as instance:
        run_id = dg.materialize([numbers], instance=instance).run_id
        assert (home / "history" / "runs" / f"{run_id}.db").exists()
        instance.event_log_storage.wipe()
        assert not (home / "history" / "runs" / f"{run_id}.db").exists()
        assert instance.all_logs(run_id) == []
        again = dg.materialize([numbers], instance=instance)
        assert instance.get_latest_materialization_event(dg.AssetKey("numbers")).run_id == again.run_id


def test_dagster_yaml_written_upgraded_or_left_alone(tmp_path, monkeypatch):
    config = tmp_path / "dagster_home" / "dagster.yaml"
    config.parent.mkdir()
    config.write_text(cli.EARLIER_DAGSTER_YAML[0])  # what an earlier crm-cif wrote: upgraded
    home = _home(tmp_path, monkeypatch)
    assert config.read_text() == cli.dagster_yaml(home)
    assert f'base_dir: "{home}/history/runs"' in config.read_text()

    moved = cli.dagster_yaml(tmp_path / "elsewhere")  # ours, for a home since moved: rewritten
    config.write_text(moved)
    cli._dagster_home()
    assert config.read_text() == cli.dagster_yaml(home)

    own = "telemetry:\n  enabled: false\n"  # the user's own file (no mark): kept as it is
    config.write_text(own)
    cli._dagster_home()
    assert config.read_text() == own
