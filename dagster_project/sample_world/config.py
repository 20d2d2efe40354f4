"""Generator configuration and the summary it returns."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class WorldConfig:
    people: int = 5000
    seed: int = 42
    start: date = date(2024, 11, 1)
    end: date = date(2026, 10, 31)
    out: Path = Path("data")
    bad_row_rate: float = 0.002

    def __post_init__(self) -> None:
        if self.people < 10:
            raise ValueError("people must be at least 10")
        if self.end < self.start:
            raise ValueError("end must not be before start")
        if not 0.0 <= self.bad_row_rate < 0.5:
            raise ValueError("bad_row_rate must be in [0, 0.5)")

    def rng(self, component: str) -> np.random.Generator:
        """An independent stream per component, so changing one part leaves the others alone."""
        return np.random.default_rng([self.seed, zlib.crc32(component.encode())])


@dataclass
class WorldSummary:
    people: int
    files: int
    rows: dict[str, int] = field(default_factory=dict)  # "source.entity" -> delivered rows
    bad_rows: int = 0
    landing_dir: Path = Path()
    truth_dir: Path = Path()

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())
