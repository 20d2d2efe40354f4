"""Realistic, harmless noise: typos, case and spacing variants, accent variants, email slips.

Every transformation keeps values parseable (nothing here may cause quarantine); it only
makes exact matching harder, as real data does. Applied to a masked subset of rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import vocab


def on_subset(arr: pa.Array, mask: np.ndarray, fn) -> pa.Array:
    if not mask.any():
        return arr
    m = pa.array(mask)
    sub = arr.filter(m)
    return pc.replace_with_mask(arr, m, fn(sub))


def typo(arr: pa.Array, mask: np.ndarray, rng: np.random.Generator) -> pa.Array:
    """Swap, drop or double a letter (names of three letters or more)."""
    kind = rng.integers(0, 3, len(arr))
    arr = on_subset(arr, mask & (kind == 0), lambda s: pc.replace_substring_regex(s, r"^(.)(.)(.)", r"\1\3\2"))
    arr = on_subset(arr, mask & (kind == 1), lambda s: pc.replace_substring_regex(s, r"^(...).", r"\1"))
    return on_subset(arr, mask & (kind == 2), lambda s: pc.replace_substring_regex(s, r"^(..)(.)", r"\1\2\2"))


def name_noise(arr: pa.Array, rng: np.random.Generator, rec: np.ndarray, n_rec: int, *, typo_rate=0.02,
               upper=0.04, lower=0.01, spaces=0.02, accent=0.0) -> pa.Array:
    """Noise decided per record (``rec`` maps rows to records) so versions of a record agree."""
    def m(rate: float) -> np.ndarray:
        return (rng.random(n_rec) < rate)[rec]
    arr = typo(arr, m(typo_rate), rng)
    arr = on_subset(arr, m(upper), pc.utf8_upper)
    arr = on_subset(arr, m(lower), pc.utf8_lower)
    arr = on_subset(arr, m(spaces), lambda s: pc.binary_join_element_wise(" ", s, "  ", ""))
    if accent:
        arr = on_subset(arr, m(accent), lambda s: pc.replace_substring(s, "e", "\u00e9", max_replacements=1))
    return arr


def email_noise(arr: pa.Array, rng: np.random.Generator, rec: np.ndarray, n_rec: int, *, typo_rate=0.015,
                upper=0.03, capital=0.03, spaces=0.01) -> pa.Array:
    def m(rate: float) -> np.ndarray:
        return (rng.random(n_rec) < rate)[rec]

    def domain_typo(s: pa.Array) -> pa.Array:
        for good, bad in zip(vocab.EMAIL_DOMAINS, vocab.EMAIL_DOMAIN_TYPOS):
            s = pc.replace_substring(s, "@" + good, "@" + bad)
        return s

    t = m(typo_rate)
    half = rng.random(len(arr)) < 0.5
    arr = on_subset(arr, t & half, domain_typo)
    arr = on_subset(arr, t & ~half, lambda s: pc.replace_substring_regex(s, r"^(..).", r"\1"))
    arr = on_subset(arr, m(upper), pc.utf8_upper)
    arr = on_subset(arr, m(capital), pc.utf8_capitalize)
    return on_subset(arr, m(spaces), lambda s: pc.binary_join_element_wise(" ", s, " ", ""))
