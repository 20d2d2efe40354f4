"""How fast the machine was while a benchmark ran: a fixed probe, and the contention of each stage.

Why: two 1,000,000-people runs of the same code differed by 17% (one new day 278 s against 326 s;
generating the world 158 s against 261 s) on this shared virtual machine. A figure is only
comparable with another when the machine was as fast both times, so every run records:

- ``probe()``: fixed DuckDB queries (CPU on one thread and on two, a memory-bound hash aggregate
  on two) and a fixed write with fsync (disk), run before the build and after the last new day; a
  slow probe says the machine was slow, not the code. Measured 2026-12-06: a run whose DuckDB work
  (the SQL floor) was 15% slower than the day before showed the same one-thread CPU figure, so a
  one-thread query alone does not tell a slow day.
- ``SystemSample`` deltas per stage (``contention``): the share of CPU time the hypervisor gave to
  others (steal), the share spent waiting on IO (iowait) and in the kernel (system, irq, softirq:
  faulting fresh memory in, IO), all from /proc/stat, and the share of
  the stage's wall time in which every runnable task waited on IO (/proc/pressure/io "full").
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

CPU_QUERY = "select sum(hash(i)) from range(300000000) as t(i)"        # one thread: the core's speed
CPU2_QUERY = "select sum(hash(i)) from range(600000000) as t(i)"       # two threads: twice the work
# a hash table of ~7 M keys (hundreds of MB): bound by memory, as the warehouse's joins and groups are
MEMORY_QUERY = "select count(distinct hash(i) % 8000000) from range(16000000) as t(i)"
BLOCK = 4 * 1024 * 1024


@dataclass(frozen=True)
class SystemSample:
    at: float                 # time.time()
    cpu: list[int] | None     # /proc/stat cpu jiffies: user nice system idle iowait irq softirq steal
    io_full_us: int | None    # /proc/pressure/io full total (microseconds)
    load: float | None = None  # /proc/loadavg, 1 minute
    huge_page_faults: int | None = None  # /proc/vmstat thp_fault_alloc (dagster_project/huge_pages.py says why)


def _cpu_jiffies() -> list[int] | None:
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
        return [int(x) for x in first[1:9]] if first[0] == "cpu" else None
    except (OSError, ValueError, IndexError):
        return None


def _io_full_us() -> int | None:
    try:
        for line in Path("/proc/pressure/io").read_text().splitlines():
            if line.startswith("full"):
                return int(line.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def huge_page_faults() -> int | None:
    """The machine's transparent huge page faults since boot (/proc/vmstat thp_fault_alloc); None: not given."""
    try:
        for line in Path("/proc/vmstat").read_text().splitlines():
            if line.startswith("thp_fault_alloc "):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _load_average() -> float | None:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def sample() -> SystemSample:
    return SystemSample(time.time(), _cpu_jiffies(), _io_full_us(), _load_average(), huge_page_faults())


def mean_load(samples: list[SystemSample]) -> float | None:
    """The mean 1-minute load average of the samples that have one (2 cores: above 2, work queued)."""
    loads = [s.load for s in samples if s.load is not None]
    return round(statistics.mean(loads), 2) if loads else None


def contention(first: SystemSample, last: SystemSample) -> dict:
    """Steal, iowait and kernel time as % of all CPU time, IO pressure (full) as % of wall time, between two samples;
    a figure the kernel does not give (no PSI, no /proc) is left out."""
    out: dict = {}
    if first.cpu and last.cpu:
        delta = [b - a for a, b in zip(first.cpu, last.cpu)]
        total = sum(delta)
        if total > 0:
            out["cpu_steal_pct"] = round(100 * delta[7] / total, 1)
            out["iowait_pct"] = round(100 * delta[4] / total, 1)
            # the kernel's share: page faults of freshly allocated memory, IO; it varies with the host
            out["kernel_pct"] = round(100 * (delta[2] + delta[5] + delta[6]) / total, 1)
    if first.io_full_us is not None and last.io_full_us is not None and last.at > first.at:
        out["io_pressure_full_pct"] = round(100 * (last.io_full_us - first.io_full_us) / ((last.at - first.at) * 1e6), 1)
    if first.huge_page_faults is not None and last.huge_page_faults is not None:
        # machine-wide: on this VM each costs ~20 ms (the pipeline turns them off; other processes may not)
        out["huge_page_faults"] = last.huge_page_faults - first.huge_page_faults
    return out


def probe(folder: Path, disk_mib: int = 1024, repeats: int = 3) -> dict:
    """The same work on every run: the three queries above (median of ``repeats`` each), and
    ``disk_mib`` MiB written to ``folder`` then fsynced (the file is removed), after a ``sync`` whose
    time (what earlier work had left unwritten) is recorded apart."""
    import duckdb

    before = sample()
    timed = {"cpu_seconds": (CPU_QUERY, 1), "cpu2_seconds": (CPU2_QUERY, 2), "memory_seconds": (MEMORY_QUERY, 2)}
    medians = {}
    with duckdb.connect() as con:
        con.execute("set enable_progress_bar = false")
        for name, (query, threads) in timed.items():
            con.execute(f"set threads = {threads}")
            seconds = []
            for _ in range(repeats):
                started = time.perf_counter()
                con.execute(query).fetchall()
                seconds.append(time.perf_counter() - started)
            medians[name] = round(statistics.median(seconds), 3)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    os.sync()  # what earlier work left unwritten goes first: the write below measures the disk alone
    sync_seconds = time.perf_counter() - started
    path = folder / ".machine_probe"
    block = os.urandom(BLOCK)
    blocks = max(1, disk_mib * 1024 * 1024 // BLOCK)
    started = time.perf_counter()
    try:
        with path.open("wb") as fh:
            for _ in range(blocks):
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        write_seconds = time.perf_counter() - started
    finally:
        path.unlink(missing_ok=True)
    return {**medians, "repeats": repeats,
            "queries": {name: {"sql": query, "threads": threads} for name, (query, threads) in timed.items()},
            "disk_write_mib_s": round(blocks * BLOCK / 1024**2 / write_seconds, 1),
            "disk_mib": blocks * BLOCK // 1024**2, "sync_seconds": round(sync_seconds, 2), **contention(before, sample())}
