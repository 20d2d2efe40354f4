"""What the two serving copies of one run compute alike, computed by the first and reused by the second.

Why: at a million people the restricted copy repeated the analyst copy's work on every table
without personal columns (the facts above all): the same warehouse hash scans for the fingerprints
and the same row-by-row comparison for the patch, ~25 s of its ~50 s. Within one run nothing writes
the served schemas between the two copies (both wait for every served asset), so:

- a table's source summary (columns, row count, hash sum; fingerprint.py) is the same for both;
- a patch (patch.py) depends only on the copy's previous rows and the rows wanted now. When both
  copies held the same fingerprint for a table and want the same one now (equal fingerprints mean
  the same select list over the same warehouse rows), the rows to delete and to insert are the
  same, so the second copy applies the first one's plan, and its own counts are checked again.

A copy with no previous file of its own (the first publish, a full build) starts from a byte copy
of a copy this run already published, when its level may hold everything that one holds (it keeps
every kind of personal data: the restricted copy from the analyst copy, never the other way): its
tables without personal columns then carry over by fingerprint instead of being written again.

Kept per run id in the process; a new run starts afresh (its warehouse may differ).
"""

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunShared:
    summaries: dict[tuple[str, str, str, bool], object] = field(default_factory=dict)  # (catalog, schema, table, cursor) -> fingerprint.SourceSummary
    kept_sums: dict[tuple, int] = field(default_factory=dict)  # a keyed table's hash sum over kept columns (keyed_patch.kept_hash_sum)
    # (schema, table, previous fingerprint, new fingerprint) -> patch plan, or None: rewrite the table whole
    patches: dict[tuple[str, str, str, str], object] = field(default_factory=dict)
    published: dict[str, Path] = field(default_factory=dict)  # level -> copy this run published


class PerRun:
    """One ``RunShared`` for the latest run id; that of an earlier run is forgotten."""

    def __init__(self) -> None:
        self.run_id: str | None = None
        self.shared = RunShared()

    def for_run(self, run_id: str) -> RunShared:
        if run_id != self.run_id:
            self.run_id, self.shared = run_id, RunShared()
        return self.shared
