"""Smoke test of the pipeline benchmark harness on a tiny world (benchmarks are not tests: no timed assertions).

It runs benchmarks/bench_pipeline.py end to end (generate, six build stages, SQL floor, serving
queries, one new day) and checks that the JSON it writes is complete and that the SQL floor
computed the same facts and customers as the pipeline's marts. One held-back day, not the
benchmark's default two, and the machine probe's queries once each: a second new day and the
probe's repeats cost ~90 s of the suite and add no code path (holding back and delivering several
days one at a time is tested on its own below).
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ["generate", "ingest", "staging", "integration", "marts", "analytics", "publish"]


def test_bench_pipeline_writes_every_stage_and_ratio(tmp_path):
    results = tmp_path / "results"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_pipeline.py"), "--people", "400",
         "--out", str(tmp_path / "world"), "--results-dir", str(results), "--repeats", "3",
         "--new-days", "1", "--probe-disk-mib", "16", "--probe-repeats", "1"],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    print(run.stdout[-6000:])  # the figures, for whoever reads the CI log
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    (json_file,) = results.glob("pipeline_400_*.json")
    result = json.loads(json_file.read_text())
    assert [s["stage"] for s in result["stages"]] == STAGES
    for stage in result["stages"]:
        assert stage["success"] is True
        assert stage["seconds"] > 0, stage["stage"]
        assert stage["peak_rss_gib"] > 0, stage["stage"]
        assert stage["rows"] > 0, stage["stage"]
    assert result["full_build"]["seconds"] == round(sum(s["seconds"] for s in result["stages"][1:]), 2)
    assert result["transform"]["ratio_step_wall"] > 0
    assert result["transform"]["ratio_models"] > 0
    assert result["transform"]["ratio_like_for_like"] > 0
    # overlapping nodes share their time: never more than their summed execution times
    t = result["transform"]
    assert 0 < t["dbt_floor_models_shared_seconds"] <= t["dbt_floor_models_seconds"] + 0.01
    # the held-back day, delivered and run after the full build; new_day is the first (only) one
    held = result["held_back"]["days"]
    assert len(held) == 1 and held[0]["date"] == result["held_back"]["date"]
    assert result["held_back"]["files"] == held[0]["files"] > 0
    days = result["new_days"]
    assert [(d["date"], d["files"]) for d in days] == [(d["date"], d["files"]) for d in held]
    assert result["new_day"] == days[0]
    for day in days:
        assert day["success"] is True
        assert 0 < day["fraction_of_full_build"] == round(day["seconds"] / result["full_build"]["seconds"], 4)
        assert day["rows"] > 0  # the held-back day's files were loaded
        assert 0 <= day["cpu_steal_pct"] <= 100 and 0 <= day["iowait_pct"] <= 100
    for when in ("before", "after"):
        probe = result["machine_probe"][when]
        assert probe["cpu_seconds"] > 0 and probe["cpu2_seconds"] > 0 and probe["memory_seconds"] > 0
        assert probe["disk_write_mib_s"] > 0 and probe["disk_mib"] == 16 and probe["repeats"] == 1
    profile = result["profile"]  # DuckDB's profile of the build's slowest dbt model
    slowest = max((m for s in result["stages"] for t in s["dbt"].values() for m in t["slowest_models"]),
                  key=lambda m: m[1])
    assert profile["model"] == slowest[0]
    assert profile["seconds_alone"] > 0 and profile["top_operators"]
    assert all(o["operator"] and o["seconds"] >= 0 for o in profile["top_operators"])
    serving = result["serving"]
    for key in ("customer_360_lookup_cold_ms", "customer_360_lookup_warm_ms", "segment_aggregate_warm_ms"):
        assert serving[key] > 0, key
    assert serving["segment_rows"] > 0
    # the floor does the same work: its facts and customers equal the marts row for row
    assert result["floor"]["agreement_with_marts"] == {
        name: {"only_in_mart": 0, "only_in_floor": 0}
        for name in ("fct_interactions", "fct_transactions", "fct_service_cases", "dim_customer")}
    # the pipeline's stages run without transparent huge pages (huge_pages.py), the floor with them
    # as the kernel gives them: on this machine it is faster so (the floor is plain DuckDB's best)
    assert result["machine"]["thp_in_process"] is False
    assert result["floor"]["huge_pages_off"] is False
    assert (results / json_file.name.replace(".json", ".md")).read_text().startswith("# Pipeline benchmark: 400 people")
    assert not (tmp_path / "world").exists()  # the world is removed unless --keep


def test_shared_seconds_split_overlaps_evenly():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from pipeline_stages import _shared_seconds

    def node(name, start, end):
        return {"unique_id": f"model.crm_cif.{name}", "timing": [
            {"name": "compile", "started_at": "2026-01-01T00:00:00Z", "completed_at": "2026-01-01T00:00:00Z"},
            {"name": "execute", "started_at": f"2026-01-01T00:00:{start:02d}Z",
             "completed_at": f"2026-01-01T00:00:{end:02d}Z"}]}

    # a runs 0-10 s, b 5-15 s, c 20-21 s alone; a unit test without timings counts nothing
    shared = _shared_seconds([node("a", 0, 10), node("b", 5, 15), node("c", 20, 21),
                              {"unique_id": "unit_test.crm_cif.x", "timing": []}])
    assert shared == {"model.crm_cif.a": 7.5, "model.crm_cif.b": 7.5, "model.crm_cif.c": 1.0}


def test_history_growth_table_groups_new_day_steps_by_history_length():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_history_growth import growth_table

    def run(start, steps, seconds, full):
        return {"start": start, "end": "2026-10-31", "stages": [{"stage": "ingest", "rows": 1000}],
                "full_build": {"seconds": full},
                "new_day": {"steps": steps, "seconds": seconds, "rows": 10, "fraction_of_full_build": seconds / full,
                            "mean_load_avg": 1.0}}

    longer = run("2024-11-01", {"ingest_web": 2.0, "ingest_mobile": 1.5, "dbt_marts": 9.0, "serving__analyst_copy": 4.0,
                                "customer_lifetime_value": 1.0}, 20.0, 100.0)
    shorter = run("2025-11-01", {"ingest_web": 1.0, "dbt_marts": 9.0, "raw__web__sessions_gx_expectations": 0.5},
                  12.0, 50.0)
    lines = growth_table([longer, shorter]).splitlines()
    assert lines[0] == "| new-day step group | 12 months | 24 months |"
    assert "| ingest | 1.0 s | 3.5 s |" in lines
    assert "| raw GX | 0.5 s | 0.0 s |" in lines
    assert "| dbt marts | 9.0 s | 9.0 s |" in lines
    assert "| serving copies + Parquet | 0.0 s | 4.0 s |" in lines
    assert "| analytics and checks | 0.0 s | 1.0 s |" in lines
    assert "| new day / full build | 24% | 20% |" in lines

    # a run with two new days: the steps are the last day's, the totals every day's
    day = lambda steps, seconds: {"steps": steps, "seconds": seconds, "rows": 10, "mean_load_avg": 1.0,  # noqa: E731
                                  "fraction_of_full_build": seconds / 100.0}
    two_days = dict(longer, new_days=[day({"dbt_marts": 30.0}, 30.0), day({"dbt_marts": 7.0, "ingest_web": 1.0}, 8.0)])
    lines = growth_table([shorter, two_days]).splitlines()
    assert "| dbt marts | 9.0 s | 7.0 s |" in lines
    assert "| ingest | 1.0 s | 1.0 s |" in lines
    assert "| **one new day** (each) | **12.0 s** | **30.0 s** / **8.0 s** |" in lines
    assert "| new day / full build | 24% | 30% / 8% |" in lines


def test_a_failed_stage_is_recorded_without_counting_rows(tmp_path, monkeypatch):
    """After a failed stage the warehouse is not opened again to count rows (a connection the failed
    step left open makes that fail and hides the stage's own error): the record says so, then exit."""
    import argparse

    import pytest

    sys.path.insert(0, str(ROOT / "benchmarks"))
    import pipeline_stages

    opened = []
    monkeypatch.setenv("CRM_CIF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))  # cmd_daily sets it; restored after
    monkeypatch.setattr(pipeline_stages, "_run_job", lambda defs, job, instance: (False, "run", {"dbt_marts": 1.5}, ["dbt_marts"]))
    monkeypatch.setattr(pipeline_stages, "table_rows", lambda warehouse, schemas: opened.append(warehouse) or {})
    events = tmp_path / "events.jsonl"
    with pytest.raises(SystemExit, match=r"daily run failed: \['dbt_marts'\]"):
        pipeline_stages.cmd_daily(argparse.Namespace(events=events))
    (record,) = [json.loads(line) for line in events.read_text().splitlines()]
    assert (record["success"], record["failed_steps"], record["rows"], record["rows_what"]) == (
        False, ["dbt_marts"], 0, "not counted: the stage failed")
    assert len(opened) == 1  # before the run only


def test_held_back_days_are_delivered_one_at_a_time(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_pipeline import deliver_held_back, hold_back_last_days

    landing, held = tmp_path / "landing", tmp_path / "held"
    names = {"web": ["sessions_20261029.csv", "sessions_20261030.csv", "sessions_20261031.csv"],
             "billing": ["transactions_20261030.csv", "holdings_20261031_full.csv", "readme.txt"]}
    for source, files in names.items():
        (landing / source).mkdir(parents=True)
        for name in files:
            (landing / source / name).write_text(name)

    assert hold_back_last_days(landing, held, 2) == [("20261030", 2), ("20261031", 2)]
    left = sorted(p.name for p in landing.glob("*/*"))
    assert left == ["readme.txt", "sessions_20261029.csv"]
    assert deliver_held_back(landing, held, "20261030") == 2
    assert sorted(p.name for p in (landing / "billing").iterdir()) == ["readme.txt", "transactions_20261030.csv"]
    assert not (landing / "web" / "sessions_20261031.csv").exists()
    assert deliver_held_back(landing, held, "20261031") == 2
    assert (landing / "billing" / "holdings_20261031_full.csv").read_text() == "holdings_20261031_full.csv"


def test_contention_is_steal_iowait_and_kernel_of_cpu_time_and_io_pressure_of_wall_time():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from machine_probe import SystemSample, contention

    # user nice system idle iowait irq softirq steal: 200 jiffies pass, 20 stolen, 50 waiting on IO,
    # 30 + 2 + 8 in the kernel
    first = SystemSample(100.0, [1000, 0, 100, 5000, 10, 1, 1, 5], 1_000_000)
    last = SystemSample(102.0, [1090, 0, 130, 5000, 60, 3, 9, 25], 1_500_000)
    assert contention(first, last) == {"cpu_steal_pct": 10.0, "iowait_pct": 25.0, "kernel_pct": 20.0,
                                       "io_pressure_full_pct": 25.0}
    # no /proc/pressure (older kernels): that figure is left out, not made up
    assert contention(SystemSample(0.0, first.cpu, None), SystemSample(1.0, last.cpu, None)) == {
        "cpu_steal_pct": 10.0, "iowait_pct": 25.0, "kernel_pct": 20.0}
    # the machine's transparent huge page faults between the samples, where /proc/vmstat has them
    assert contention(SystemSample(0.0, None, None, None, 967_320), SystemSample(1.0, None, None, None, 968_534)) == {
        "huge_page_faults": 1_214}


def test_a_stages_load_average_is_the_mean_of_the_samples_inside_it():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_pipeline import TreeSampler
    from machine_probe import SystemSample

    sampler = TreeSampler(pid=0)  # not started: the samples are hand-made
    sampler.system = [SystemSample(t, None, None, load) for t, load in
                      [(1.0, 4.0), (2.0, 1.0), (3.0, None), (4.0, 2.5), (5.0, 9.0)]]
    assert sampler.mean_load(2.0, 4.0) == 1.75  # 1.0 and 2.5; the sample with no /proc/loadavg is left out
    assert sampler.mean_load(2.5, 3.5) is None
    assert sampler.mean_load(6.0, 7.0) is None


def test_summary_table_shows_every_new_day_and_the_probe(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_pipeline import BUILD_STAGES, summary_table

    def run(commit, extra):
        stages = [{"stage": n, "seconds": 10.0, "mean_load_avg": 1.5} for n in ["generate", *BUILD_STAGES]]
        return {"benchmark": "pipeline", "people": 1000, "date": "2026-12-06", "commit": commit, "start": "2024-11-01",
                "end": "2026-10-31", "stages": stages, "full_build": {"seconds": 60.0, "peak_rss_gib": 1.0},
                "transform": {"ratio_step_wall": 2.0, "ratio_like_for_like": 1.5, "dbt_floor_models_seconds": 3.0},
                "serving": {"customer_360_lookup_cold_ms": 20.0, "customer_360_lookup_warm_ms": 2.0,
                            "segment_aggregate_warm_ms": 5.0},
                "new_day": {"seconds": 30.0, "fraction_of_full_build": 0.5}, **extra}

    (tmp_path / "pipeline_1000_2026-12-05.json").write_text(json.dumps(run("old", {})))
    (tmp_path / "pipeline_1000_2026-12-06.json").write_text(json.dumps(run("new", {
        "new_days": [{"seconds": 30.0, "fraction_of_full_build": 0.5}, {"seconds": 24.0, "fraction_of_full_build": 0.4}],
        "machine_probe": {"before": {"cpu_seconds": 0.85, "cpu2_seconds": 1.7, "memory_seconds": 1.2,
                                     "disk_write_mib_s": 1400.2},
                          "after": {"cpu_seconds": 0.9, "cpu2_seconds": 1.8, "memory_seconds": 1.5,
                                    "disk_write_mib_s": 70.0}}})))
    old, new = summary_table(tmp_path).splitlines()[2:]
    assert old.endswith("| 30 s | 50% | 20 / 2.0 ms | 5 ms | 1.5-1.5 | n/a |")
    assert new.endswith("| 30 s / 24 s | 50% / 40% | 20 / 2.0 ms | 5 ms | 1.5-1.5 | 0.85 / 0.90 s CPU; "
                        "1.70 / 1.80 s CPU x2; 1.20 / 1.50 s memory; 1,400 / 70 MiB/s |")


def test_bench_huge_pages_measures_both_modes_and_writes_its_figures(tmp_path):
    """Tiny sizes: the harness runs each work with THP off and on in fresh processes and records
    each run, the medians and the ratio (no timed assertion; the figures come from a quiet machine)."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_huge_pages.py"), "--rows", "100000", "--numpy-gib", "0.01",
         "--repeats", "1", "--results-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    [written] = tmp_path.glob("huge_pages_*.json")
    result = json.loads(written.read_text())
    assert [case["work"] for case in result["cases"]] == ["duckdb", "numpy"]
    for case in result["cases"]:
        assert {mode: len(runs) for mode, runs in case["runs"].items()} == {"off": 1, "on": 1}
        assert case["median_seconds"]["off"] == case["runs"]["off"][0]["seconds"]
        off, on = case["median_seconds"]["off"], case["median_seconds"]["on"]
        assert case["ratio_on_to_off"] == (round(on / off, 2) if off else None)
        assert {"seconds", "kernel_seconds", "huge_page_faults"} <= set(case["runs"]["on"][0])
    assert "| DuckDB count(distinct) over 100,000 integers | on |" in written.with_suffix(".md").read_text()


def test_a_run_without_the_floor_renders_and_tabulates():
    """--no-floor (a history-growth run, or no disk room for the warehouse copy) records no floor
    and no ratios; the markdown and the README table say so instead of failing."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_pipeline import _transform_cell, floor_ratios, render_markdown

    run = json.loads((ROOT / "benchmarks" / "results" / "pipeline_1000000_2026-12-07i.json").read_text())
    measured = render_markdown(run)
    assert "| transform / floor | **2.67x** |" in measured
    ratios = {k: v for k, v in run["transform"].items() if k.startswith("ratio_") or k == "floor_seconds"}
    assert floor_ratios(run["transform"], run["floor"]["seconds"]) == ratios
    run["floor"] = None
    run["transform"] = {k: v for k, v in run["transform"].items() if k not in ratios}
    text = render_markdown(run)
    assert "| SQL floor | not measured (--no-floor) |" in text
    assert "/ floor" not in text
    assert "| new day 2 20261031 (normal job, 86,574 new raw rows) | 192.8 s, peak" in text
    assert _transform_cell(run["transform"]) == "not measured"
