"""Find landing files per registry entity; report files that match none.

A file that matches no entity is never loaded, but it is listed, so a misnamed delivery is
noticed instead of silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project.sources import SOURCES, Entity


@dataclass
class Discovery:
    files: dict[str, list[Path]] = field(default_factory=dict)  # Entity.table -> files, name order
    unknown: list[Path] = field(default_factory=list)  # files matching no entity
    reasons: dict[Path, str] = field(default_factory=dict)  # unknown file -> why it is not loaded

    def for_entity(self, entity: Entity) -> list[Path]:
        return self.files.get(entity.table, [])

    def unknown_for_source(self, source: str, landing_dir: Path) -> list[Path]:
        """Unknown files under ``<landing>/<source>/`` (or anywhere, for files outside any source)."""
        out = []
        for p in self.unknown:
            parts = p.relative_to(landing_dir).parts
            if len(parts) > 1 and parts[0] == source:
                out.append(p)
        return out


def relpath(path: Path, landing_dir: Path) -> str:
    """Path relative to the landing dir with forward slashes: the ``_source_file`` value."""
    return Path(path).relative_to(landing_dir).as_posix()


def discover(landing_dir: Path | str) -> Discovery:
    """List every file under the landing dir and assign it to the entity whose pattern it matches.

    Only files directly in ``<landing>/<source>/`` can match; anything else (root files,
    subfolders, unknown sources, names matching no pattern) is reported as unknown.
    """
    landing = Path(landing_dir)
    result = Discovery(files={e.table: [] for s in SOURCES for e in s.entities})
    if not landing.is_dir():
        return result
    sources = {s.name: s for s in SOURCES}
    patterns = {name: [(e, e.file_pattern) for e in source.entities] for name, source in sources.items()}
    root = landing.resolve()
    for parts, is_link in sorted(_landing_files(landing)):
        path = landing.joinpath(*parts)
        entity = None
        # a link is followed only to a file inside the landing folder; plain files are inside it
        if len(parts) == 2 and parts[0] in sources and (not is_link or path.resolve().is_relative_to(root)):
            entity = next((e for e, pattern in patterns[parts[0]] if pattern.match(parts[1])), None)
        if entity is None:
            result.unknown.append(path)
            result.reasons[path] = _unknown_reason(parts, sources, path, root)
        else:
            result.files[entity.table].append(path)
    for files in result.files.values():
        files.sort(key=lambda p: p.name)
    return result


def _landing_files(landing: Path) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path parts under the landing dir, is a link) of every file, as ``rglob`` finds them: links to
    files are listed, linked folders are not entered.

    Why not ``rglob`` + ``is_file`` + ``resolve`` per file: every ingest step lists the whole
    landing folder, which holds every file ever delivered (15,038 at a million people and two
    years): 1.24 s a step, 11 steps a run, growing with the history. ``os.scandir`` returns the
    file type with each name, and only links need resolving.
    """
    stack: list[tuple[Path, tuple[str, ...]]] = [(landing, ())]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                parts = (*prefix, entry.name)
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), parts))
                elif entry.is_file():  # follows a link, as Path.is_file does
                    yield parts, entry.is_symlink()


def _unknown_reason(parts: tuple[str, ...], sources: dict, path: Path, root: Path) -> str:
    """Why a landing file is not loaded, in words a sender can act on."""
    if not path.resolve().is_relative_to(root):
        return "a link to a file outside the landing folder: never followed"
    if len(parts) == 1:
        return "in the landing root, not in a source folder"
    if parts[0] not in sources:
        return f"folder '{parts[0]}' is not a known source (known: {', '.join(sorted(sources))})"
    if len(parts) > 2:
        return f"in a subfolder of '{parts[0]}/': files must be directly in the source folder"
    expected = ", ".join(f"{e.name}_<YYYYMMDD>[_<suffix>].{e.extension}" for e in sources[parts[0]].entities)
    return f"name matches no entity of source '{parts[0]}' (expected {expected})"
