"""Orchestrate one world: build it, write every registry entity, then the ground truth."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from ..sources import ENTITIES
from .config import WorldConfig, WorldSummary
from .entities import BUILDERS, make_context
from .truth import write_truth
from .world import build_world
from .writer import write_entity


def generate_world(cfg: WorldConfig, log: Callable[[str], None] | None = None) -> WorldSummary:
    """Write ``<out>/landing`` and ``<out>/truth`` from scratch (both are replaced).

    The same config always gives byte-identical files: every random stream is seeded from
    (seed, component name) and no wall-clock time is written anywhere.
    """
    say = log or (lambda _msg: None)
    t0 = time.perf_counter()
    out = Path(cfg.out)
    landing, truth = out / "landing", out / "truth"
    for d in (landing, truth):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    w = build_world(cfg)
    ctx = make_context(w)
    say(f"world built: {w.n} people, {len(w.holdings)} holdings ({time.perf_counter() - t0:.1f}s)")
    built = {(s, e) for s, e, _ in BUILDERS}
    missing = {(e.source, e.name) for e in ENTITIES} - built
    if missing:
        raise RuntimeError(f"no sample-world builder for {sorted(missing)}")
    summary = WorldSummary(people=cfg.people, files=0, landing_dir=landing, truth_dir=truth)
    record_maps, bad_rows, counts = [], [], []
    for source, entity, build in BUILDERS:
        data = build(ctx)
        res = write_entity(data, landing, cfg.bad_row_rate, cfg.rng(f"bad:{source}.{entity}"), w.end)
        del data
        summary.files += res.files
        summary.rows[f"{source}.{entity}"] = res.delivered
        summary.bad_rows += len(res.bad_rows)
        bad_rows.extend(res.bad_rows)
        counts.append((source, entity, res.files, res.delivered, res.rejected, res.quarantined))
        if res.record_map is not None:
            record_maps.append((source, entity, res.record_map))
        say(f"{source}.{entity}: {res.delivered} rows in {res.files} files ({time.perf_counter() - t0:.1f}s)")
    order = {(e.source, e.name): i for i, e in enumerate(ENTITIES)}
    counts.sort(key=lambda x: order[(x[0], x[1])])
    bad_rows.sort(key=lambda b: (b[0], b[1], b[2], b[3]))
    write_truth(w, ctx.purchases, record_maps, bad_rows, counts, truth)
    say(f"truth written ({time.perf_counter() - t0:.1f}s)")
    return summary
