"""Column sources: typed numpy data that renders to Arrow strings for any row selection.

Entities are built as numbers (days, seconds, indices into word lists); only after the rows
are ordered by delivery day are they turned into text, so the expensive string work is done
once, in file order, without per-row Python. Fixed-width values (ids, dates, timestamps) are
written as byte matrices and wrapped as Arrow string arrays without copying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = date(1970, 1, 1)
NULL = np.iinfo(np.int64).min  # null marker in int64 day / second / cent arrays


def day_num(d: date) -> int:
    return (d - EPOCH).days


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded ASCII digits of non-negative ints as an (n, width) uint8 matrix."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((len(v), width), np.uint8)
    for k in range(width - 1, -1, -1):
        out[:, k] = 48 + v % 10
        v //= 10
    return out


def const(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode("ascii"), np.uint8), (n, len(text)))


def fixed(mat: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """Wrap an (n, w) byte matrix as an Arrow string array (nulls where not valid)."""
    mat = np.ascontiguousarray(mat, dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32) if n else np.zeros(1, np.int32)
    bitmap = None
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat.reshape(-1)), bitmap)


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    y = m.astype("datetime64[Y]").astype(np.int64) + 1970
    return y, m.astype(np.int64) % 12 + 1, (d - m).astype(np.int64) + 1


def date_matrix(days: np.ndarray, style: str) -> np.ndarray:
    y, m, d = ymd(days)
    n = len(days)
    if style == "branch":
        return np.concatenate([digits(d, 2), const("/", n), digits(m, 2), const("/", n), digits(y, 4)], axis=1)
    return np.concatenate([digits(y, 4), const("-", n), digits(m, 2), const("-", n), digits(d, 2)], axis=1)


def ts_matrix(secs: np.ndarray, style: str) -> np.ndarray:
    days, sod = np.divmod(secs, 86400)
    n = len(secs)
    hh, rest = np.divmod(sod, 3600)
    mm, ss = np.divmod(rest, 60)
    if style == "branch":
        return np.concatenate([date_matrix(days, style), const(" ", n), digits(hh, 2), const(":", n), digits(mm, 2)], axis=1)
    return np.concatenate(
        [date_matrix(days, style), const("T", n), digits(hh, 2), const(":", n), digits(mm, 2), const(":", n), digits(ss, 2)],
        axis=1,
    )


class Col(Protocol):
    def render(self, rows: np.ndarray) -> pa.Array: ...


def _valid(values: np.ndarray) -> np.ndarray:
    return values != NULL


@dataclass
class IdCol:
    """``prefix`` + zero-padded number, e.g. BT0000001234."""

    prefix: str
    nums: np.ndarray
    width: int

    def render(self, rows: np.ndarray) -> pa.Array:
        v = self.nums[rows]
        ok = _valid(v)
        mat = np.concatenate([const(self.prefix, len(v)), digits(np.where(ok, v, 0), self.width)], axis=1)
        return fixed(mat, ok)


@dataclass
class TsCol:
    secs: np.ndarray
    style: str = "iso"

    def render(self, rows: np.ndarray) -> pa.Array:
        v = self.secs[rows]
        ok = _valid(v)
        return fixed(ts_matrix(np.where(ok, v, 0), self.style), ok)


@dataclass
class DateCol:
    days: np.ndarray
    style: str = "iso"

    def render(self, rows: np.ndarray) -> pa.Array:
        v = self.days[rows]
        ok = _valid(v)
        return fixed(date_matrix(np.where(ok, v, 0), self.style), ok)


@dataclass
class DictCol:
    """A value from a word list (or any string array) by index; index < 0 is null."""

    labels: Sequence[str] | pa.Array
    idx: np.ndarray

    def render(self, rows: np.ndarray) -> pa.Array:
        labels = self.labels if isinstance(self.labels, pa.Array) else pa.array(list(self.labels), pa.string())
        i = self.idx[rows]
        mask = i < 0
        ind = pa.array(np.where(mask, 0, i).astype(np.int32 if len(labels) < 2**31 else np.int64), mask=mask if mask.any() else None)
        return pc.take(labels, ind)


@dataclass
class MoneyCol:
    """Decimal with two places from integer cents, e.g. 12345 -> '123.45', -500 -> '-5.00'."""

    cents: np.ndarray

    def render(self, rows: np.ndarray) -> pa.Array:
        v = self.cents[rows]
        ok = _valid(v)
        v = np.where(ok, v, 0)
        a = np.abs(v)
        whole = pc.cast(pa.array(a // 100), pa.string())
        frac = fixed(digits(a % 100, 2))
        s = pc.binary_join_element_wise(whole, frac, ".")
        if (v < 0).any():
            s = pc.if_else(pa.array(v < 0), pc.binary_join_element_wise("-", s, ""), s)
        if not ok.all():
            s = pc.if_else(pa.array(ok), s, pa.scalar(None, pa.string()))
        return s


@dataclass
class IntCol:
    values: np.ndarray

    def render(self, rows: np.ndarray) -> pa.Array:
        v = self.values[rows]
        ok = _valid(v)
        return pc.cast(pa.array(np.where(ok, v, 0), mask=~ok if not ok.all() else None), pa.string())


@dataclass
class ConstCol:
    value: str | None

    def render(self, rows: np.ndarray) -> pa.Array:
        return pa.array([self.value] * 1, pa.string()).take(pa.array(np.zeros(len(rows), np.int32)))


@dataclass
class StrCol:
    """Per-row strings prepared in advance (names, emails); for the smaller party entities."""

    values: pa.Array

    def render(self, rows: np.ndarray) -> pa.Array:
        return pc.take(self.values, pa.array(rows))


def phone_strings(national: np.ndarray, fmt: np.ndarray) -> pa.Array:
    """Render 10-digit national numbers (8031234567) in one of six real-world formats.

    0 '+2348031234567', 1 '+234 803 123 4567', 2 '08031234567', 3 '0803-123-4567',
    4 '2348031234567', 5 '(0803) 123 4567'; national < 0 gives null.
    """
    ok = national >= 0
    d = digits(np.where(ok, national, 0), 10)
    n = len(d)
    a, b, c = d[:, 0:3], d[:, 3:6], d[:, 6:10]
    variants = [
        fixed(np.concatenate([const("+234", n), d], axis=1)),
        fixed(np.concatenate([const("+234 ", n), a, const(" ", n), b, const(" ", n), c], axis=1)),
        fixed(np.concatenate([const("0", n), d], axis=1)),
        fixed(np.concatenate([const("0", n), a, const("-", n), b, const("-", n), c], axis=1)),
        fixed(np.concatenate([const("234", n), d], axis=1)),
        fixed(np.concatenate([const("(0", n), a, const(") ", n), b, const(" ", n), c], axis=1)),
    ]
    out = pc.choose(pa.array(fmt.astype(np.int8)), *variants)
    if not ok.all():
        out = pc.if_else(pa.array(ok), out, pa.scalar(None, pa.string()))
    return out


def hex_ids(prefix: str, rng: np.random.Generator, n: int, nbytes: int = 8) -> pa.Array:
    """Random hex identifiers (device ids) without per-row Python."""
    table = np.array([list(f"{i:02x}".encode()) for i in range(256)], np.uint8)
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    mat = table[raw].reshape(n, nbytes * 2)
    return fixed(np.concatenate([const(prefix, n), mat], axis=1))
