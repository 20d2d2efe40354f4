"""The spare: the serving copy a publish replaced, kept to be patched into the next copy instead of copied.

Why: a daily publish started its temporary file as a byte copy of the copy in place, 3.1 GB for the
analyst copy and 3.6 GB for the restricted one at a million people, every day, for the few tables
that changed. On a VM, copying a file fills fresh page cache, which costs kernel time on every page.
Instead, just before the new copy is swapped in, the copy it replaces gets a second name
(``.<name>.spare``, a hard link: no bytes move), and the next publish renames that spare to its
temporary file and patches it. The spare is one publish older than the copy in place, so its tables
are patched across two days of changes; patches work from any older state (each table's fingerprint
and kept hash sum are stored in the file itself, see fingerprint.py and keyed_patch.py).

Readers: a reader that opened the copy before it was replaced still has that file open. DuckDB
holds a file lock for every open database (shared for a reader, exclusive for a writer), and a lock
belongs to the file, not to its name: the publish opens the renamed spare for writing first, and when
that fails (a reader still holds it), the spare is dropped (the reader keeps its file until it closes
it) and the publish falls back to the byte copy. Nobody can open the spare by its name in between:
only the hidden name points to it, then only the temporary one. A reader inside the publishing
process itself is not seen by the lock; the pipeline holds no connection to a copy across steps.

Disk: each copy is kept twice between publishes. Erasure deletes both spares (``discard``), since
a spare holds the rows of before the erasure (privacy/erasure.py).
"""

import os
import uuid
from pathlib import Path

import duckdb

from dagster_project.serving.policy import literal, quote


def spare_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.spare")


def take(con: duckdb.DuckDBPyConnection, target: Path, tmp: Path) -> bool:
    """Move the spare of ``target`` to ``tmp`` when no reader holds it; False: there is none usable
    (``tmp`` is then left absent)."""
    spare = spare_path(target)
    try:
        os.replace(spare, tmp)
    except FileNotFoundError:
        return False
    if target.exists() and os.path.samefile(tmp, target):
        # a publish that failed between keep() and its swap left the copy in place under both names:
        # patching it would write into the file readers have open
        tmp.unlink()
        return False
    probe = "spare_" + uuid.uuid4().hex[:12]
    try:
        con.execute(f"attach {literal(str(tmp))} as {quote(probe)} (read_write)")
    except duckdb.Error:
        tmp.unlink(missing_ok=True)  # a reader still has it open (or it is unreadable): it keeps its file
        return False
    con.execute(f"detach {quote(probe)}")
    return True


def keep(target: Path) -> None:
    """Give the copy now at ``target`` the spare's name too, before a new copy replaces it."""
    if not target.exists():
        return
    link = target.with_name(f".{target.name}.{uuid.uuid4().hex}.spare.tmp")
    try:
        os.link(target, link)
        os.replace(link, spare_path(target))
    except OSError:
        link.unlink(missing_ok=True)  # a file system without hard links: the next publish copies
        discard(target)


def remove_database(path: Path) -> None:
    """Delete a DuckDB file and its write-ahead log, either or both may be missing."""
    for leftover in (path, path.with_name(path.name + ".wal")):
        leftover.unlink(missing_ok=True)


def discard(target: Path) -> None:
    """Delete the spare of ``target`` (erasure, a fresh publish)."""
    remove_database(spare_path(target))
