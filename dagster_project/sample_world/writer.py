"""Turn an entity's rows into daily files exactly as the registry describes, with bad rows.

Bad rows are *extra* rows (copies of good rows with one defect), so every good row still
arrives and the truth stays simple: accepted = the good rows. Each bad row has exactly one
defect that one staging rule catches; the copy gets a fresh key so it cannot also trip
DUPLICATE_KEY, except the intended exact re-sends. Line numbers follow raw._row_number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..sources import Entity
from .entities import RECORD_KEYS, EntityData
from .render import ymd

AMOUNT_COLUMNS = {"amount", "cost", "old_limit", "requested_limit", "new_limit", "monthly_fee", "target_value",
                  "proposed_value"}
SEED_CODE_COLUMNS = {"product_code", "branch_code", "channel"}
BAD_DATES = {"iso": ("2025-02-31", "2025-13-40"), "branch": ("31/02/2025", "32/13/2025")}
BAD_TIMESTAMPS = {"iso": ("2025-13-40T10:00:00", "2025-02-31T09:30:00"), "branch": ("31/02/2025 10:15", "32/01/2025 09:00")}


@dataclass
class Written:
    files: int = 0
    delivered: int = 0
    rejected: int = 0
    quarantined: int = 0
    bad_rows: list[tuple] = field(default_factory=list)  # (source, entity, file, line, expected, reason)
    record_map: pa.Table | None = None


def _kinds(e: Entity, data: EntityData) -> list[tuple[str, list[str]]]:
    """Defect kinds possible for an entity, each with the columns it may hit."""
    kinds: list[tuple[str, list[str]]] = []
    if e.format != "parquet":
        kinds.append(("MALFORMED", []))
    dates = [c.name for c in e.columns if c.type in ("date", "timestamp") and c.name not in e.key]
    if dates:
        kinds.append(("BAD_DATE", dates))
    amounts = [c.name for c in e.columns if c.type == "decimal" and c.name in AMOUNT_COLUMNS]
    if amounts and data.neg_ok is not None and data.neg_ok.any():
        kinds.append(("NEGATIVE_AMOUNT", amounts))
    # txn_type decides which amount sign is valid: an unknown type there could also read as a
    # sign error, so it is never the corrupted code (one defect, one reason)
    codes = [c.name for c in e.columns if (c.accepted_values or c.name in SEED_CODE_COLUMNS)
             and not (e.table == "billing__transactions" and c.name == "txn_type")]
    if codes:
        kinds.append(("UNKNOWN_CODE", codes))
    kinds.append(("MISSING_KEY", [e.key[0]]))
    kinds.append(("DUPLICATE_KEY", []))
    return kinds


def write_entity(data: EntityData, landing: Path, rate: float, rng: np.random.Generator, end_day: int) -> Written:
    e = data.entity
    n = len(data)
    out = Written()
    style = "branch" if e.date_format.startswith("DD") else "iso"
    # ---- plan the bad rows
    nb = int(rng.binomial(n, rate)) if n and rate > 0 else 0
    kinds = _kinds(e, data)
    kind = rng.integers(0, len(kinds), nb)
    src = rng.integers(0, max(n, 1), nb)
    neg = np.array([kinds[k][0] == "NEGATIVE_AMOUNT" for k in kind], bool)
    if neg.any():
        ok_rows = np.flatnonzero(data.neg_ok)
        src[neg] = ok_rows[rng.integers(0, len(ok_rows), int(neg.sum()))]
    col_pick = rng.integers(0, 1 << 30, nb)
    bad_day = data.day[src].copy() if nb else np.zeros(0, np.int64)
    dup = np.array([kinds[k][0] == "DUPLICATE_KEY" for k in kind], bool)
    bad_day[dup] = np.minimum(bad_day[dup] + rng.choice([0, 0, 1, 2, 3], int(dup.sum())), end_day)
    # ---- order every row by delivery day, then time; a copy sorts after its original
    all_src = np.concatenate([np.arange(n), src])
    all_day = np.concatenate([data.day, bad_day])
    all_ts = np.concatenate([data.ts, data.ts[src] if nb else np.zeros(0, np.int64)])
    is_bad = np.concatenate([np.zeros(n, np.int8), np.ones(nb, np.int8)])
    order = np.lexsort((is_bad, all_ts, all_day))
    rows = all_src[order]
    bad_pos = np.flatnonzero(order >= n)
    bad_id = order[bad_pos] - n
    # ---- render and apply the defects
    cols = {name: data.columns[name].render(rows) for name in e.column_names}
    overlays: dict[str, tuple[list[int], list[str | None]]] = {}
    malformed: list[int] = []
    reasons: dict[int, tuple[str, str]] = {}

    def put(col: str, pos: int, value: str | None) -> None:
        overlays.setdefault(col, ([], []))
        overlays[col][0].append(pos)
        overlays[col][1].append(value)

    key0 = e.key[0]
    key_vals = cols[key0].take(pa.array(bad_pos)).to_pylist() if nb else []
    col_types = {c.name: c.type for c in e.columns}
    needed = {c for k in kind for c in kinds[k][1]}
    orig = {c: cols[c].take(pa.array(bad_pos)).to_pylist() for c in needed if nb}
    for j, (pos, b) in enumerate(zip(bad_pos.tolist(), bad_id.tolist())):
        name, targets = kinds[kind[b]]
        if name == "DUPLICATE_KEY":
            reasons[pos] = ("quarantined", "DUPLICATE_KEY")
            continue
        if name == "MISSING_KEY":
            put(key0, pos, "")
            reasons[pos] = ("quarantined", "MISSING_KEY")
            continue
        put(key0, pos, f"{key_vals[j]}X{b}")
        if name == "MALFORMED":
            malformed.append(pos)
            reasons[pos] = ("rejected", "MALFORMED")
            continue
        col = targets[col_pick[b] % len(targets)]
        if name == "BAD_DATE":
            table = BAD_TIMESTAMPS if col_types[col] == "timestamp" else BAD_DATES
            put(col, pos, table[style][b % 2])
            reasons[pos] = ("quarantined", "BAD_TIMESTAMP" if col_types[col] == "timestamp" else "BAD_DATE")
        elif name == "NEGATIVE_AMOUNT":
            v = orig[col][j]
            put(col, pos, "-" + v if v and v.strip("0.") else "-125.00")
            reasons[pos] = ("quarantined", "NEGATIVE_AMOUNT")
        elif name == "UNKNOWN_CODE":
            put(col, pos, "ZZ_UNKNOWN" if col in ("product_code", "branch_code") else "zz_unknown")
            reasons[pos] = ("quarantined", "UNKNOWN_CODE")
    for col, (pos, vals) in overlays.items():
        mask = np.zeros(len(rows), bool)
        mask[pos] = True
        order_pos = np.argsort(pos, kind="stable")
        repl = pa.array([vals[i] for i in order_pos], pa.string())
        cols[col] = pc.replace_with_mask(cols[col], pa.array(mask), repl)
    # ---- write one file per delivery day
    days = all_day[order]
    cut = np.flatnonzero(np.diff(days)) + 1
    starts = np.concatenate([[0], cut]) if len(days) else np.zeros(0, np.int64)
    stops = np.concatenate([cut, [len(days)]]) if len(days) else np.zeros(0, np.int64)
    folder = landing / e.source
    folder.mkdir(parents=True, exist_ok=True)
    y, m, d = ymd(days[starts]) if len(starts) else (np.zeros(0),) * 3
    names = [e.file_name(f"{yy:04d}{mm:02d}{dd:02d}") for yy, mm, dd in zip(y.tolist(), m.tolist(), d.tolist())]
    file_of_row = np.repeat(np.arange(len(starts)), stops - starts)
    first_line = 2 if e.format == "csv" else 1
    if e.format == "parquet":
        table = pa.table({c: cols[c] for c in e.column_names})
        for name, a, b in zip(names, starts.tolist(), stops.tolist()):
            pq.write_table(table.slice(a, b - a), folder / name, compression="snappy")
    else:
        lines = _lines(e, cols, malformed)
        offsets = np.frombuffer(lines.buffers()[1], np.int64)[lines.offset: lines.offset + len(lines) + 1]
        data_buf = memoryview(lines.buffers()[2]) if len(lines) else memoryview(b"")
        header = b""
        if e.format == "csv":
            header = (e.delimiter.join(e.column_names) + "\n").encode("ascii")
            if e.encoding == "utf-8-sig":
                header = b"\xef\xbb\xbf" + header
        for name, a, b in zip(names, starts.tolist(), stops.tolist()):
            body = data_buf[offsets[a]: offsets[b]]
            if e.encoding == "latin-1":
                body = bytes(body).decode("utf-8").encode("latin-1")
            with open(folder / name, "wb") as fh:
                fh.write(header)
                fh.write(body)
    out.files = len(names)
    out.delivered = len(rows)
    for pos in bad_pos.tolist():
        expected, reason = reasons[pos]
        f = file_of_row[pos]
        out.bad_rows.append((e.source, e.name, f"{e.source}/{names[f]}", int(pos - starts[f] + first_line), expected, reason))
        if expected == "rejected":
            out.rejected += 1
        else:
            out.quarantined += 1
    # ---- truth: which person is behind each party record (good rows only)
    key = RECORD_KEYS.get((e.source, e.name))
    if key and data.person is not None:
        good = order < n
        t = pa.table({"record_key": cols[key].filter(pa.array(good)), "person": pa.array(data.person[rows[good]])})
        t = t.group_by(["record_key", "person"]).aggregate([])
        out.record_map = t.sort_by([("record_key", "ascending"), ("person", "ascending")])
    return out


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _lines(e: Entity, cols: dict[str, pa.Array], malformed: list[int]) -> pa.Array:
    """Each row as one text line ending in a newline, malformed rows cut short.

    Large strings (64-bit offsets): one entity's lines over the whole history can pass the 2 GiB a
    string array holds (four years of a million people's web sessions are 2.4 GB)."""
    cols = {c: cols[c].cast(pa.large_string()) for c in e.column_names}
    empty = _text("")
    if e.format == "csv":
        line = pc.binary_join_element_wise(*[cols[c] for c in e.column_names], _text(e.delimiter),
                                           null_handling="replace", null_replacement="")
    else:
        parts = []
        for c in e.column_names:
            quoted = pc.fill_null(pc.binary_join_element_wise(_text('"'), cols[c], _text('"'), empty), _text("null"))
            parts.append(pc.binary_join_element_wise(_text(f'"{c}": '), quoted, empty))
        line = pc.binary_join_element_wise(_text("{"), pc.binary_join_element_wise(*parts, _text(", ")), _text("}"),
                                           empty)
    if malformed:
        vals = line.take(pa.array(malformed)).to_pylist()
        if e.format == "csv":
            cut = [e.delimiter.join(v.split(e.delimiter)[:2]) for v in vals]
        else:
            cut = [v[: max(len(v) // 2, 5)] for v in vals]
        mask = np.zeros(len(line), bool)
        mask[malformed] = True
        srt = np.argsort(malformed, kind="stable")
        line = pc.replace_with_mask(line, pa.array(mask), pa.array([cut[i] for i in srt], pa.large_string()))
    return pc.binary_join_element_wise(line, _text("\n"), empty)
