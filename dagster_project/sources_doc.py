"""Render docs/sources.md (the file contract for whoever delivers files) from the registry.

The committed docs/sources.md must equal this render (a test checks it), so the document
an outside party reads can never drift from what the pipeline loads.
"""

from __future__ import annotations

from pathlib import Path

from dagster_project.settings import PROJECT_ROOT
from dagster_project.sources import SOURCES, Column, Entity

DOC_PATH = PROJECT_ROOT / "docs" / "sources.md"

_DELIMITERS = {",": "`,` (comma)", ";": "`;` (semicolon)", "|": "`|` (pipe)", "\t": "tab"}
_ENCODINGS = {"utf-8": "UTF-8", "latin-1": "Latin-1 (ISO-8859-1)", "utf-8-sig": "UTF-8 with a byte-order mark"}
_FORMATS = {"csv": "CSV (delimited text, header line)", "jsonl": "JSON Lines (one JSON object per line)",
            "parquet": "Parquet"}
_EXTRACT = {"delta": "delta: new and changed rows only", "full": "full: the whole table every time"}

INTRO = """\
# Source file contracts

<!-- Generated from dagster_project/sources.py by dagster_project/sources_doc.py
     (`crm-cif docs`). Do not edit by hand: a test fails when this file and the registry differ. -->

This is what each source system delivers to crm-cif: where files go, how they are named and
formatted, and what every column means. It is enough for an outside party to deliver files.

## Landing layout and naming

Files are dropped in the landing folder (default `data/landing/`, setting `CRM_CIF_LANDING_DIR`),
one folder per source: `<landing>/<source>/<entity>_<YYYYMMDD>[_<suffix>].<ext>`, e.g.
`branch/customers_20250101.csv`. `YYYYMMDD` is the business day the extract covers; the
optional `_<suffix>` distinguishes several files of one day. The extension is `csv`, `jsonl`
or `parquet` as listed per entity. Files are never modified after delivery.

A file whose name matches no entity below (wrong name, wrong folder, a subfolder, an unknown
source, a link to a file outside the landing folder) is **not loaded**; it is reported in the
ingest run's log and metadata and recorded with the reason in `raw.unmatched_files`.

## Formats

- **CSV**: the first line is the header with the column names; then one record per line
  (LF or CRLF line endings). Fields may be quoted with `"` (a quote inside a quoted field is
  doubled: `""`). A record must fit on one line: quoted line breaks are not supported.
  Columns are matched to the contract by header name (case-insensitive), so their order does
  not matter. Delimiter and encoding per entity below; a UTF-8 byte-order mark is accepted
  (the file is then read as UTF-8). A header line holding none of the contract's column names
  (wrong delimiter, or no header line) makes the file unreadable: nothing from it is loaded.
- **JSON Lines**: one JSON object per line, UTF-8; keys are the column names. Values may be
  strings, numbers, booleans or null.
- **Parquet**: one column per contract column; any Parquet type (it is read as text).
- Empty values: an empty CSV field or JSON `""` is kept as delivered and treated as missing
  in staging; JSON `null`, a missing key or a Parquet null is missing.
- Dates and timestamps must follow the formats given per entity.

## How files are loaded

Each new file is loaded as delivered into the DuckDB table `raw.<source>__<entity>`: every
contract column as text, plus lineage columns `_batch_id`, `_source_file` (path relative to
the landing folder), `_file_sha256`, `_row_number` (the line number in the file: in CSV the
header is line 1, so the first record is line 2; in JSON Lines the first line is 1; in
Parquet the 1-based row index) and `_loaded_at`. Files are processed in file-name order.

- **File ledger** (`raw.file_ledger`): one row per loaded file with its sha256, size,
  business date, status (`loaded`, `empty`, `unreadable`, `failed`), reason, data lines,
  blank lines, rows loaded, rows rejected, and any columns missing from or extra to the
  contract (missing columns load as NULL; extra columns are ignored).
- **Re-delivery**: a file whose content (sha256) is already in the ledger for that entity is
  skipped, under any name. To correct data, deliver a new file with the corrected rows.
- **Rejects** (`raw.rejects`): a line that cannot be parsed at all (wrong number of fields,
  broken quoting, invalid JSON, bytes that are not valid in the file's encoding) is stored
  with source, file, line number, the raw line and the reason; the rest of the file still
  loads. Blank lines carry no data and are only counted. For every file:
  data lines = rows loaded + rows rejected.
- **Bad rows**: rows that parse but hold bad values (missing key, unparseable date or
  number, impossible date, negative amount, unknown code, duplicate key) are loaded to raw
  and then quarantined in staging with reason codes (`staging.stg_quarantine`); they are
  never silently dropped.
- A file that cannot be read at all (empty, no header line, wrong delimiter, not a Parquet file) is recorded
  in the ledger with that status and reason; nothing from it is loaded.
- Each file loads atomically: its rows, rejects and ledger row are committed together, so an
  interrupted load leaves nothing behind and the next run loads the file again.

## Sources

| source | kind | system | entities |
|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _entity_section(e: Entity) -> list[str]:
    out = [f"### `{e.source}.{e.name}`", "", e.description, ""]
    facts = [
        ("File pattern", f"`{e.source}/{e.name}_<YYYYMMDD>[_<suffix>].{e.extension}` "
                         f"(e.g. `{e.source}/{e.file_name('20250101')}`)"),
        ("Format", _FORMATS[e.format]),
    ]
    if e.format == "csv":
        facts.append(("Delimiter", _DELIMITERS.get(e.delimiter, f"`{e.delimiter}`")))
    if e.format != "parquet":
        facts.append(("Encoding", _ENCODINGS.get(e.encoding, e.encoding)))
    facts += [
        ("Date format", f"`{e.date_format}`"),
        ("Timestamp format", f"`{e.timestamp_format}`"),
        ("Extract", _EXTRACT.get(e.extract, e.extract)),
        ("Cadence", "daily" if e.cadence_days == 1 else f"every {e.cadence_days} days"),
        ("Key", ", ".join(f"`{k}`" for k in e.key)),
        ("Identifies a customer by", e.identifies_customer_by or "does not identify a customer"),
        ("Raw table", f"`raw.{e.table}`"),
    ]
    out += ["| | |", "|---|---|"] + [f"| {k} | {_cell(v)} |" for k, v in facts] + [""]
    out += ["| column | type | meaning | identifies a party as | accepted values |", "|---|---|---|---|---|"]
    out += [_column_row(c, e) for c in e.columns] + [""]
    return out


def _column_row(c: Column, e: Entity) -> str:
    name = f"`{c.name}`" + (" (key)" if c.name in e.key else "")
    accepted = ", ".join(f"`{v}`" for v in c.accepted_values)
    role = f"`{c.role}`" if c.role else ""
    return f"| {name} | {c.type} | {_cell(c.description)} | {role} | {accepted} |"


def render_sources_markdown() -> str:
    """The whole docs/sources.md text, rendered from the registry."""
    lines = [INTRO.rstrip("\n")]
    for s in SOURCES:
        lines.append(f"| [{s.name}](#source-{s.name}) | {s.kind} | {_cell(s.system)} | "
                     f"{', '.join(e.name for e in s.entities)} |")
    lines.append("")
    for s in SOURCES:
        lines += [f'<a id="source-{s.name}"></a>', f"## Source `{s.name}` — {s.system}", "",
                  f"Kind: {s.kind}. {s.description}", ""]
        for e in s.entities:
            lines += _entity_section(e)
    return "\n".join(lines).rstrip("\n") + "\n"


def write_sources_markdown(path: Path = DOC_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_sources_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(write_sources_markdown())
