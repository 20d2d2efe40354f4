"""Format readers: turn a chunk of pending files into staged temp tables, all in DuckDB.

Every reader fills the same three temp tables on the connection, so the loader writes them
the same way whatever the format:

- ``_ingest_rows``: ``file_id``, ``_row_number`` and every registry column as VARCHAR;
- ``_ingest_rejects``: ``file_id``, ``line_number``, ``raw_line``, ``reason``;
- and returns per-file :class:`FileStats` (data lines, blank lines, status, drift notes).

Text formats (CSV, JSONL) are split into physical lines in SQL (``string_split`` +
``unnest``), so every line carries its exact 1-based line number by construction. A record
is one line: a quoted field spanning lines is not supported (both halves are rejected with
a clear reason, so nothing is lost silently). We parse CSV lines ourselves instead of
``read_csv`` because DuckDB 2.0's reader, checked on hand-made files: silently truncates
extra fields when ``strict_mode=false``; with ``strict_mode=true`` fails the whole file on
mixed line endings; and on an unterminated quote swallows the following lines and reports
wrong line numbers and raw text in ``store_rejects``. Python only decodes bytes (C speed,
any Python codec: latin-1, utf-8, utf-8 with BOM, ...); no per-row Python.
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from dagster_project.ingest.ledger import quote_ident
from dagster_project.sources import Entity

STAGED_TABLES = ("_ingest_content", "_ingest_meta", "_ingest_lines", "_ingest_parsed",
                 "_ingest_rows", "_ingest_rejects")


@dataclass
class PendingFile:
    """A new file (content not in the ledger) waiting to be loaded."""

    file_id: int
    path: Path
    source_file: str  # relative to landing, forward slashes
    sha256: str
    size: int
    business_date: str | None  # ISO date from the file name
    data: bytes | None = None  # content, kept for text formats only


@dataclass
class FileStats:
    status: str = "loaded"  # loaded | empty | unreadable | failed
    reason: str | None = None
    data_lines: int = 0
    blank_lines: int = 0
    missing_columns: list[str] = field(default_factory=list)
    extra_columns: list[str] = field(default_factory=list)


def _is_utf8(encoding: str) -> bool:
    return codecs.lookup(encoding).name == "utf-8" or encoding.lower().replace("_", "-") == "utf-8-sig"


def decode(data: bytes, encoding: str) -> tuple[str, bool]:
    """Decode file bytes; returns (text, had_invalid_bytes).

    A UTF-8 byte-order mark is dropped whether or not the registry announces it. Invalid
    bytes become U+FFFD and the lines holding them are rejected, not the whole file.
    """
    codec = "utf-8-sig" if _is_utf8(encoding) else encoding
    if data.startswith(codecs.BOM_UTF8) and codec != "utf-8-sig":
        # The BOM says the sender wrote UTF-8 although the contract says otherwise: trust the
        # BOM when the bytes agree, else read the rest in the contract encoding (never let the
        # BOM's bytes glue onto the first column name as "ï»¿account_number").
        try:
            return data.decode("utf-8-sig"), False
        except UnicodeDecodeError:
            data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode(codec), False
    except UnicodeDecodeError:
        return data.decode(codec, errors="replace"), True


def _drop_tables(con: duckdb.DuckDBPyConnection) -> None:
    for name in STAGED_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    for name in ("_ingest_content_arrow", "_ingest_meta_arrow"):
        try:
            con.unregister(name)
        except Exception:  # noqa: BLE001 - not registered
            pass


def _empty_staging(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    cols = ", ".join(f"NULL::VARCHAR AS {quote_ident(c)}" for c in entity.column_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _ingest_rows AS SELECT NULL::INTEGER AS file_id, "
                f"NULL::BIGINT AS _row_number, {cols} LIMIT 0")
    con.execute("CREATE OR REPLACE TEMP TABLE _ingest_rejects AS SELECT NULL::INTEGER AS file_id, "
                "NULL::BIGINT AS line_number, NULL::VARCHAR AS raw_line, NULL::VARCHAR AS reason LIMIT 0")


def _stage_lines(con: duckdb.DuckDBPyConnection, ids: list[int], texts: list[str], bad: list[bool]) -> None:
    """Split decoded contents into physical lines with exact 1-based line numbers.

    The empty piece after a final newline is not a line; a trailing ``\\r`` (CRLF files) is
    dropped, so mixed line endings are fine.
    """
    table = pa.table({"file_id": pa.array(ids, pa.int32()), "content": pa.array(texts, pa.large_string()),
                      "bad_encoding": pa.array(bad, pa.bool_())})
    con.register("_ingest_content_arrow", table)
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _ingest_lines AS
        WITH split AS (
            SELECT file_id, bad_encoding, string_split(content, chr(10)) AS parts
            FROM _ingest_content_arrow
        ), lines AS (
            SELECT file_id, bad_encoding, len(parts) AS n_parts,
                   unnest(parts) AS line, unnest(range(1, len(parts) + 1)) AS line_number
            FROM split
        )
        SELECT file_id, bad_encoding, line_number::BIGINT AS line_number,
               CASE WHEN suffix(line, chr(13)) THEN line[1:-2] ELSE line END AS line
        FROM lines
        WHERE NOT (line_number = n_parts AND line = '')
    """)
    con.unregister("_ingest_content_arrow")


def _line_counts(con: duckdb.DuckDBPyConnection, first_data_line: int) -> dict[int, tuple[int, int]]:
    rows = con.execute(
        "SELECT file_id, count(*) FILTER (WHERE line <> ''), count(*) FILTER (WHERE line = '') "
        "FROM _ingest_lines WHERE line_number >= ? GROUP BY file_id", [first_data_line]).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def _regex_char(ch: str) -> str:
    return "\\x{%02x}" % ord(ch) if ord(ch) < 256 else "\\x{%x}" % ord(ch)


def _parse_header(line: str, delimiter: str) -> list[str]:
    return [h.strip() for h in next(csv.reader([line], delimiter=delimiter, strict=True))]


def _map_columns(entity: Entity, header: list[str]) -> tuple[list[int | None], list[str], list[str]]:
    """Header position (1-based) of every registry column; missing and extra names.

    Names match case-insensitively after trimming; the first of duplicate names wins.
    """
    pos: dict[str, int] = {}
    extra: list[str] = []
    wanted = {c.lower() for c in entity.column_names}
    for i, name in enumerate(header, start=1):
        key = name.lower()
        if key in wanted and key not in pos:
            pos[key] = i
        else:
            extra.append(name if key not in pos else f"{name} (duplicate)")
    idx = [pos.get(c.lower()) for c in entity.column_names]
    missing = [c for c, i in zip(entity.column_names, idx) if i is None]
    return idx, missing, extra


DELIMITER_NAMES = {",": "',' (comma)", ";": "';' (semicolon)", "|": "'|' (pipe)", "\t": "tab"}


def _delimiter_name(d: str) -> str:
    return DELIMITER_NAMES.get(d, repr(d))


def _no_contract_column_reason(source_file: str, entity: Entity, header_line: str) -> str:
    """Why a header with no contract column cannot be loaded: another delimiter, or no header.

    Loading such a file would give rows of NULLs (every column missing), so it is refused
    whole with a message that says what is probably wrong.
    """
    for other in DELIMITER_NAMES:
        if other == entity.delimiter:
            continue
        try:
            _, missing, _ = _map_columns(entity, _parse_header(header_line, other))
        except csv.Error:
            continue
        if len(missing) < len(entity.column_names):
            return (f"{source_file}: line 1: wrong delimiter: the header is separated by "
                    f"{_delimiter_name(other)}, the contract says {_delimiter_name(entity.delimiter)}; "
                    "nothing from this file was loaded")
    return (f"{source_file}: line 1: header line missing: line 1 holds none of the contract's column "
            f"names (expected e.g. {', '.join(entity.column_names[:3])}); nothing from this file was loaded")


def stage_csv(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[PendingFile]) -> dict[int, FileStats]:
    """Stage delimited files: line 1 is the header, data lines from line 2."""
    _drop_tables(con)
    _empty_staging(con, entity)
    stats: dict[int, FileStats] = {}
    ids, texts, bad, metas = [], [], [], []
    for f in files:
        text, had_bad = decode(f.data or b"", entity.encoding)
        header_line = text.split("\n", 1)[0].removesuffix("\r")
        if not text.strip():
            stats[f.file_id] = FileStats("empty", f"{f.source_file}: file is empty: no header line, nothing to load")
            continue
        if not header_line.strip():
            stats[f.file_id] = FileStats("unreadable", f"{f.source_file}: line 1 is blank: the header line "
                                                       "(column names) is missing")
            continue
        try:
            header = _parse_header(header_line, entity.delimiter)
        except csv.Error as exc:
            stats[f.file_id] = FileStats("unreadable", f"{f.source_file}: line 1: header cannot be parsed: {exc}")
            continue
        idx, missing, extra = _map_columns(entity, header)
        if len(missing) == len(entity.column_names):
            stats[f.file_id] = FileStats("unreadable", _no_contract_column_reason(f.source_file, entity, header_line))
            continue
        stats[f.file_id] = FileStats(missing_columns=missing, extra_columns=extra)
        ids.append(f.file_id)
        texts.append(text)
        bad.append(had_bad)
        metas.append((f.file_id, len(header), idx))
    if not ids:
        return stats
    _stage_lines(con, ids, texts, bad)
    meta = pa.table({"file_id": pa.array([m[0] for m in metas], pa.int32()),
                     "n_header": pa.array([m[1] for m in metas], pa.int32()),
                     "col_idx": pa.array([m[2] for m in metas], pa.list_(pa.int32()))})
    con.register("_ingest_meta_arrow", meta)
    con.execute("CREATE OR REPLACE TEMP TABLE _ingest_meta AS SELECT * FROM _ingest_meta_arrow")
    con.unregister("_ingest_meta_arrow")

    d = entity.delimiter
    field_re = f'"(?:[^"]|"")*"|[^{_regex_char(d)}"]*'
    full_re = f"^(?:{field_re})(?:{_regex_char(d)}(?:{field_re}))*$"
    extract_re = f"({field_re}){_regex_char(d)}"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ingest_parsed AS
        WITH fields AS (
            SELECT l.file_id, l.line_number, l.line, m.n_header, m.col_idx,
                   l.bad_encoding AND contains(l.line, chr(65533)) AS bad_bytes,
                   CASE
                       WHEN NOT contains(l.line, '"') THEN string_split(l.line, $delim)
                       WHEN regexp_full_match(l.line, $full_re) THEN list_transform(
                           regexp_extract_all(l.line || $delim, $extract_re, 1),
                           lambda f: CASE WHEN f[1:1] = '"' THEN replace(f[2:-2], '""', '"') ELSE f END)
                   END AS fields
            FROM _ingest_lines l JOIN _ingest_meta m USING (file_id)
            WHERE l.line_number >= 2 AND l.line <> ''
        )
        SELECT *, CASE
            WHEN bad_bytes THEN 'invalid {entity.encoding} byte sequence (bytes that are not {entity.encoding} text)'
            WHEN fields IS NULL THEN 'malformed quoting: unterminated or stray quote character '
                                     || '(a record must fit on one line)'
            WHEN len(fields) <> n_header THEN 'wrong column count: expected ' || n_header
                                     || ' fields as in the header, found ' || len(fields)
        END AS reason
        FROM fields
    """, {"delim": d, "full_re": full_re, "extract_re": extract_re})
    selects = ", ".join(f"fields[col_idx[{i}]] AS {quote_ident(c)}"
                        for i, c in enumerate(entity.column_names, start=1))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ingest_rows AS
        SELECT file_id, line_number AS _row_number, {selects}
        FROM _ingest_parsed WHERE reason IS NULL""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ingest_rejects AS
        SELECT file_id, line_number, line AS raw_line, reason
        FROM _ingest_parsed WHERE reason IS NOT NULL""")
    for fid, (data, blank) in _line_counts(con, 2).items():
        stats[fid].data_lines, stats[fid].blank_lines = data, blank
    return stats


def stage_jsonl(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[PendingFile]) -> dict[int, FileStats]:
    """Stage JSON Lines: one JSON object per line, first line is line 1."""
    _drop_tables(con)
    _empty_staging(con, entity)
    stats: dict[int, FileStats] = {}
    ids, texts, bad = [], [], []
    for f in files:
        text, had_bad = decode(f.data or b"", entity.encoding)
        if not text.strip():
            stats[f.file_id] = FileStats("empty", f"{f.source_file}: file is empty: no lines, nothing to load")
            continue
        stats[f.file_id] = FileStats()
        ids.append(f.file_id)
        texts.append(text)
        bad.append(had_bad)
    if not ids:
        return stats
    _stage_lines(con, ids, texts, bad)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ingest_parsed AS
        SELECT file_id, line_number, line, CASE
            WHEN bad_encoding AND contains(line, chr(65533))
                THEN 'invalid {entity.encoding} byte sequence (bytes that are not {entity.encoding} text)'
            WHEN NOT json_valid(line) THEN 'invalid JSON: the line cannot be parsed'
            WHEN json_type(line::JSON) <> 'OBJECT'
                THEN 'not a JSON object: found ' || lower(json_type(line::JSON))
        END AS reason
        FROM _ingest_lines WHERE line <> ''
    """)
    paths = "[" + ", ".join("'$.\"" + c.replace("'", "''") + "\"'" for c in entity.column_names) + "]"
    selects = ", ".join(f"vals[{i}] AS {quote_ident(c)}" for i, c in enumerate(entity.column_names, start=1))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ingest_rows AS
        SELECT file_id, _row_number, {selects} FROM (
            SELECT file_id, line_number AS _row_number, json_extract_string(line, {paths}) AS vals
            FROM _ingest_parsed WHERE reason IS NULL)""")
    con.execute("""CREATE OR REPLACE TEMP TABLE _ingest_rejects AS
        SELECT file_id, line_number, line AS raw_line, reason
        FROM _ingest_parsed WHERE reason IS NOT NULL""")
    for fid, (data, blank) in _line_counts(con, 1).items():
        stats[fid].data_lines, stats[fid].blank_lines = data, blank
    # Drift: keys seen in the file (distinct key lists first, so this stays cheap).
    keys = con.execute("""
        SELECT file_id, list_distinct(flatten(list(k))) FROM (
            SELECT DISTINCT file_id, json_keys(line) AS k FROM _ingest_parsed WHERE reason IS NULL)
        GROUP BY file_id""").fetchall()
    seen = {fid: set(k) for fid, k in keys}
    for fid in ids:
        present = seen.get(fid, set())
        if present:  # a file of only rejected lines says nothing about its columns
            stats[fid].missing_columns = [c for c in entity.column_names if c not in present]
            stats[fid].extra_columns = sorted(present - set(entity.column_names))
    return stats


def _top_level_columns(schema_rows: list[tuple[str, int | None]]) -> list[str]:
    """Top-level column names from ``parquet_schema`` rows (name, num_children) of one file."""
    names: list[str] = []
    pending = [schema_rows[0][1] or 0]  # children still to read at each depth; root first
    for name, n_children in schema_rows[1:]:
        if len(pending) == 1:
            names.append(name)
        pending[-1] -= 1
        if n_children:
            pending.append(n_children)
        while len(pending) > 1 and pending[-1] == 0:
            pending.pop()
    return names


def stage_parquet(con: duckdb.DuckDBPyConnection, entity: Entity, files: list[PendingFile]) -> dict[int, FileStats]:
    """Stage Parquet files: every column cast to VARCHAR, ``_row_number`` = 1-based row index.

    Files are grouped by their column list and each group is read in one ``read_parquet``
    call; if a group cannot be read, its files are read one by one so one corrupt file does
    not block the others.
    """
    _drop_tables(con)
    _empty_staging(con, entity)
    stats: dict[int, FileStats] = {}
    readable: list[PendingFile] = []
    for f in files:
        if f.size == 0:
            stats[f.file_id] = FileStats("empty", f"{f.source_file}: file is empty (0 bytes), nothing to load")
        else:
            readable.append(f)
    schemas: dict[int, list[str]] = {}
    counts: dict[int, int] = {}
    meta = _parquet_metadata(con, readable, stats)
    for fid, (cols, n_rows) in meta.items():
        schemas[fid], counts[fid] = cols, n_rows
    groups: dict[tuple[str, ...], list[PendingFile]] = {}
    for f in readable:
        if f.file_id in schemas:
            groups.setdefault(tuple(schemas[f.file_id]), []).append(f)
    for cols, group in groups.items():
        lower = {c.lower(): c for c in cols}
        selects = ", ".join(
            f"CAST({quote_ident(lower[c.lower()])} AS VARCHAR) AS {quote_ident(c)}" if c.lower() in lower
            else f"NULL::VARCHAR AS {quote_ident(c)}" for c in entity.column_names)
        missing = [c for c in entity.column_names if c.lower() not in lower]
        extra = [c for c in cols if c.lower() not in {n.lower() for n in entity.column_names}]
        for f in group:
            stats[f.file_id] = FileStats(data_lines=counts[f.file_id], missing_columns=missing, extra_columns=extra)
        _insert_parquet_group(con, group, selects, stats)
    return stats


def _parquet_metadata(con: duckdb.DuckDBPyConnection, files: list[PendingFile],
                      stats: dict[int, FileStats]) -> dict[int, tuple[list[str], int]]:
    """Column list and row count per file, batched; unreadable files get a status instead."""
    out: dict[int, tuple[list[str], int]] = {}
    if not files:
        return out
    paths = [str(f.path) for f in files]
    try:
        schema = con.execute("SELECT file_name, name, num_children FROM parquet_schema(?)", [paths]).fetchall()
        nrows = con.execute("SELECT file_name, num_rows FROM parquet_file_metadata(?)", [paths]).fetchall()
    except duckdb.Error:
        if len(files) == 1:
            f = files[0]
            stats[f.file_id] = FileStats("unreadable", f"{f.source_file}: not a readable Parquet file: "
                                                       f"{_first_line(_last_error(con, f))}")
            return out
        for f in files:  # find the bad one(s)
            out.update(_parquet_metadata(con, [f], stats))
        return out
    rows_by_file: dict[str, list[tuple[str, int | None]]] = {}
    for file_name, name, n_children in schema:
        rows_by_file.setdefault(file_name, []).append((name, n_children))
    counts = {fn: n for fn, n in nrows}
    for f in files:
        key = str(f.path)
        out[f.file_id] = (_top_level_columns(rows_by_file[key]), int(counts[key]))
    return out


def _last_error(con: duckdb.DuckDBPyConnection, f: PendingFile) -> str:
    try:
        con.execute("SELECT * FROM parquet_file_metadata(?)", [str(f.path)]).fetchall()
        con.execute("SELECT count(*) FROM read_parquet(?)", [str(f.path)]).fetchall()
    except duckdb.Error as exc:
        return str(exc)
    return "unknown error"


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def _insert_parquet_group(con: duckdb.DuckDBPyConnection, group: list[PendingFile], selects: str,
                          stats: dict[int, FileStats]) -> None:
    ids = pa.table({"path": pa.array([str(f.path) for f in group]),
                    "file_id": pa.array([f.file_id for f in group], pa.int32())})
    con.register("_ingest_meta_arrow", ids)
    try:
        con.execute(f"""INSERT INTO _ingest_rows BY NAME
            SELECT m.file_id, file_row_number + 1 AS _row_number, {selects}
            FROM read_parquet(?, filename = true, file_row_number = true) p
            JOIN _ingest_meta_arrow m ON m.path = p.filename""", [[str(f.path) for f in group]])
        error = None
    except duckdb.Error as exc:
        error = exc
    finally:
        con.unregister("_ingest_meta_arrow")
    if error is None:
        return
    if len(group) > 1:  # one statement failed as a whole: retry file by file to isolate the bad one
        for f in group:
            _insert_parquet_group(con, [f], selects, stats)
        return
    f = group[0]
    stats[f.file_id] = FileStats("unreadable", f"{f.source_file}: Parquet data cannot be read: "
                                               f"{_first_line(str(error))}")


READERS = {"csv": stage_csv, "jsonl": stage_jsonl, "parquet": stage_parquet}
