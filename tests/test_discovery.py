"""Landing discovery lists files as it always did, links included, without resolving every path.

A hand-made landing folder: a delivery, a link to it under another delivery name (inside the
folder: loaded), a link to a file outside (never followed), a dangling link, a linked folder
(never entered), a subfolder and a root file (unknown places).
"""

import os
from pathlib import Path

from dagster_project.ingest.discovery import discover


def test_discovery_follows_links_only_inside_the_landing_folder(tmp_path: Path):
    landing, elsewhere = tmp_path / "landing", tmp_path / "elsewhere"
    (landing / "collections" / "archive").mkdir(parents=True)
    elsewhere.mkdir()
    (landing / "collections" / "events_20250101.csv").write_text("x")
    (landing / "collections" / "archive" / "events_20250102.csv").write_text("x")
    (elsewhere / "events_20250103.csv").write_text("x")
    (landing / "notes.txt").write_text("n")
    os.symlink(landing / "collections" / "events_20250101.csv", landing / "collections" / "events_20250104.csv")
    os.symlink(elsewhere / "events_20250103.csv", landing / "collections" / "events_20250105.csv")
    os.symlink(tmp_path / "missing.csv", landing / "collections" / "events_20250106.csv")
    os.symlink(elsewhere, landing / "collections" / "linked")

    found = discover(landing)

    assert {table: [p.name for p in files] for table, files in found.files.items() if files} == {
        "collections__events": ["events_20250101.csv", "events_20250104.csv"]}
    assert {p.relative_to(landing).as_posix(): found.reasons[p] for p in found.unknown} == {
        "collections/archive/events_20250102.csv":
            "in a subfolder of 'collections/': files must be directly in the source folder",
        "collections/events_20250105.csv": "a link to a file outside the landing folder: never followed",
        "notes.txt": "in the landing root, not in a source folder",
    }
