"""After a crash: release what a killed run still holds in the Dagster instance.

Every warehouse step claims the one ``duckdb_warehouse`` pool slot. A run killed mid-step
(SIGKILL, power loss) never gives it back, so the next run would wait for that slot forever.
Before each CLI run, runs that hold a slot or still look started but whose process is gone
are marked failed and their slots freed. "Gone" is judged by the pid recorded in the run's
latest event, on this host: the CLI's instance lives in the local data folder.
"""

from __future__ import annotations

import os


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _last_pid(instance, run_id: str) -> int | None:
    for entry in reversed(instance.all_logs(run_id)):
        event = entry.dagster_event
        if event is not None and event.pid is not None:
            return event.pid
    return None


def release_dead_runs(instance) -> list[str]:
    """Mark runs whose process died as failed and free their pool slots; returns their run ids."""
    import dagster as dg

    storage = instance.event_log_storage
    candidates: set[str] = set()
    for key in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(key)
        candidates |= info.active_run_ids | {step.run_id for step in info.pending_steps}
    unfinished = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]
    candidates |= {run.run_id for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished))}
    released = []
    for run_id in sorted(candidates):
        pid = _last_pid(instance, run_id)
        if pid is None or pid == os.getpid() or _alive(pid):
            continue
        storage.free_concurrency_slots_for_run(run_id)
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message=f"process {pid} is gone (killed or crashed); released by crm-cif")
        released.append(run_id)
    return released
