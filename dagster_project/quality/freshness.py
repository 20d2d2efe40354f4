"""Freshness: is a source's latest delivery older than its registry cadence allows?

Measured on business dates (the date in the file name, kept in ``raw.file_ledger``), not on
load times: a file loaded today that covers last month is still last month's data. "Now" is
the newest business date delivered by ANY source, not the wall clock, so a sample world
generated for a past year is not "late" as a whole, while a source that stopped delivering
while the others went on is.

A source is late when its newest delivery (any of its entities) is more days behind that
reference date than its shortest entity cadence. Judged per source, not per entity, because
event-like entities (new organisations, contacts) only deliver a file on days with changes;
their per-entity lag is shown in the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import duckdb

from dagster_project.sources import Source
from dagster_project.warehouse import has_table


@dataclass
class EntityDelivery:
    entity: str
    cadence_days: int
    latest: date | None
    days_behind: int | None


@dataclass
class SourceFreshness:
    source: str
    cadence_days: int
    reference_date: date | None
    latest: date | None
    entities: list[EntityDelivery] = field(default_factory=list)

    @property
    def days_behind(self) -> int | None:
        if self.latest is None or self.reference_date is None:
            return None
        return (self.reference_date - self.latest).days

    @property
    def late(self) -> bool:
        """Never delivered counts as late only once some other source has delivered."""
        if self.reference_date is None:
            return False
        return self.latest is None or self.days_behind > self.cadence_days

    def message(self) -> str:
        if self.reference_date is None:
            return f"{self.source}: no deliveries from any source yet"
        if self.latest is None:
            return f"{self.source}: nothing delivered yet (other sources up to {self.reference_date})"
        state = "LATE" if self.late else "on time"
        return (f"{self.source}: {state}: latest delivery {self.latest}, {self.days_behind} day(s) behind "
                f"the newest delivery of any source ({self.reference_date}); cadence {self.cadence_days} day(s)")


def latest_deliveries(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], date]:
    """Newest business date of a loaded (or empty: still a delivery) file per (source, entity)."""
    if not has_table(con, "raw", "file_ledger"):
        return {}
    rows = con.execute("select source, entity, max(business_date) from raw.file_ledger "
                       "where status in ('loaded', 'empty') and business_date is not null group by all").fetchall()
    return {(s, e): d for s, e, d in rows}


def freshness(con: duckdb.DuckDBPyConnection, sources: list[Source]) -> list[SourceFreshness]:
    latest = latest_deliveries(con)
    reference = max(latest.values(), default=None)
    out = []
    for source in sources:
        entities = [EntityDelivery(e.name, e.cadence_days, latest.get((source.name, e.name)),
                                   (reference - latest[(source.name, e.name)]).days
                                   if (source.name, e.name) in latest else None)
                    for e in source.entities]
        dates = [e.latest for e in entities if e.latest is not None]
        out.append(SourceFreshness(source.name, min(e.cadence_days for e in source.entities), reference,
                                   max(dates, default=None), entities))
    return out
