"""Telling people when a run went wrong: a one-screen summary and an optional JSON webhook.

The CLI (`crm-cif run`) calls these after its run, so every headless run alerts. Runs started
from the Dagster UI show failed steps and checks in the UI itself; they do not post the webhook.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

WEBHOOK_TIMEOUT_SECONDS = 10
MAX_MESSAGE = 300  # characters of a step's error in the summary and the alert: one screen


@dataclass
class FailedCheck:
    asset: str
    check: str
    severity: str  # ERROR blocks what is downstream; WARN only reports
    description: str


@dataclass
class RunOutcome:
    run_id: str
    job: str
    success: bool
    failed_steps: dict[str, str] = field(default_factory=dict)  # step -> first line of the root error
    skipped_steps: list[str] = field(default_factory=list)
    failed_checks: list[FailedCheck] = field(default_factory=list)

    @property
    def blocking_failures(self) -> list[FailedCheck]:
        return [c for c in self.failed_checks if c.severity == "ERROR"]

    @property
    def ok(self) -> bool:
        """Warnings (a late source) do not make a run fail; a failed step or ERROR check does."""
        return self.success and not self.blocking_failures

    @property
    def status(self) -> str:
        if not self.ok:
            return "failed"
        return "succeeded_with_warnings" if self.failed_checks else "succeeded"

    def to_alert(self) -> dict:
        return {"run_id": self.run_id, "job": self.job, "status": self.status,
                "failed_steps": [{"step": s, "error": m} for s, m in self.failed_steps.items()],
                "skipped_steps": self.skipped_steps,
                "failed_checks": [asdict(c) for c in self.failed_checks]}


def _first_line(error) -> str:
    lines = error.message.strip().splitlines()
    return lines[0] if lines else error.cls_name or "unknown error"


def _innermost(error):
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def _root_message(error) -> str:
    """The innermost cause: Dagster wraps user errors in 'Error occurred while executing op'.

    An error raised while handling another (a failed ROLLBACK after a COMMIT that hit a full
    disk) hides the first one: that one is shown first.
    """
    if error is None:
        return "unknown error"
    error = _innermost(error)
    message = _first_line(error)
    if getattr(error, "context", None) is not None:
        message = f"{_first_line(_innermost(error.context))} (then: {message})"
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 1] + "…"


def outcome_of(result, job: str) -> RunOutcome:
    """Collect what failed from an ExecuteInProcessResult.

    A blocking check that failed also fails its step: it is listed with the checks, not the steps.
    Steps that never started (upstream failed or a blocking check stopped them) are "not run".
    """
    outcome = RunOutcome(run_id=result.run_id, job=job, success=result.success)
    started = set()
    for event in result.all_events:
        if event.is_step_start:
            started.add(event.step_key)
        elif event.is_step_failure:
            error = event.step_failure_data.error
            if error is None or error.cls_name != "DagsterAssetCheckFailedError":
                outcome.failed_steps[event.step_key] = _root_message(error)
    outcome.skipped_steps = sorted(set(result.job_def.graph.node_names()) - started)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            outcome.failed_checks.append(FailedCheck(
                evaluation.asset_key.to_user_string(), evaluation.check_name, evaluation.severity.value,
                evaluation.description or ""))
    return outcome


# Errors people can fix themselves, and what to do about them.
HINTS = {
    "No space left on device": "A disk is full: free space where the warehouse and data folder live "
                               "(CRM_CIF_WAREHOUSE, CRM_CIF_DATA_DIR), then re-run; what was committed stays.",
    "Read-only file system": "A folder the run writes to is read-only: the warehouse and data folder must be writable.",
    "Permission denied": "Permission denied: check who may write the warehouse and data folder.",
    # dbt's on_schema_change='fail': the model's columns differ from its table (an upgrade, an edited model)
    "are out of sync": "An incremental model's columns changed (an upgrade or an edited model): run "
                       "`crm-cif run --full-refresh` once to rebuild the incremental models.",
}


def hints_for(messages: list[str]) -> list[str]:
    return [hint for needle, hint in HINTS.items() if any(needle in m for m in messages)]


def render_outcome(outcome: RunOutcome, dagster_home: str, max_lines: int = 8) -> str:
    """A one-screen account of what failed and where to look (empty when all went well)."""
    if outcome.status == "succeeded":
        return ""
    head = "Run FAILED" if not outcome.ok else "Run succeeded with warnings"
    lines = [f"{head}: job {outcome.job}, run {outcome.run_id}"]

    def section(title: str, items: list[str]) -> None:
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {item}" for item in items[:max_lines])
            if len(items) > max_lines:
                lines.append(f"  ... and {len(items) - max_lines} more")

    section("Failed steps", [f"{s}: {m}" for s, m in outcome.failed_steps.items()])
    section("Not run (upstream failed or blocked)", outcome.skipped_steps)
    section("Failed blocking checks", [f"{c.asset} {c.check}: {c.description}" for c in outcome.blocking_failures])
    section("Warnings", [f"{c.asset} {c.check}: {c.description}" for c in outcome.failed_checks if c.severity != "ERROR"])
    lines.extend(hints_for([*outcome.failed_steps.values()]))
    lines.append(f"Where to look: `crm-cif dev` (Dagster UI, run {outcome.run_id[:8]}), `crm-cif quality`, "
                 f"Dagster home {dagster_home}")
    return "\n".join(lines)


def post_alert(url: str, alert: dict, timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> str | None:
    """POST the alert as JSON; returns an error message instead of raising (an alert must not crash the run)."""
    request = urllib.request.Request(url, data=json.dumps(alert).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status >= 300:
                return f"webhook {url} answered HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"webhook {url} not reached: {exc}"
    return None
