"""Benchmark the BG/NBD fit at a million customers, against lifetimes' BetaGeoFitter.

    python benchmarks/bench_clv.py                       # simulate 1,000,000 customers
    python benchmarks/bench_clv.py --world /tmp/w1m      # the customers of a built world

Simulated customers follow the BG/NBD generative process (λ ~ Gamma(r, α) purchases per day,
dropout p ~ Beta(a, b) after each repeat purchase, first purchase 0-730 days before the end, whole
days), so the recovered parameters can be compared with the true ones. With ``--world`` the
(frequency, recency, T) come from the warehouse exactly as the CLV asset builds them.

Times: our fit (de-duplication included), lifetimes' BetaGeoFitter on the same rows (one row
per customer, as its users call it) and, for reference, lifetimes on our weighted distinct
rows. lifetimes runs in a child process with a time limit; when it cannot finish there, the
result says so and lifetimes is timed on a subsample instead. Writes
benchmarks/results/clv_<customers>_<date>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
import warnings
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_generate import machine  # noqa: E402
from dagster_project.analytics import clv  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
TRUE = clv.BgNbdParams(r=1.5, alpha=45.0, a=0.4, b=25.0)  # the sample world's purchase process
TARGET_SECONDS = 10.0


def simulate(n: int, params: clv.BgNbdParams = TRUE, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frequency, recency, T) in whole days from the BG/NBD generative process."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    T = rng.integers(0, 731, n).astype(float)
    possible = rng.poisson(lam * T)  # repeat purchases if nobody dropped out
    lives = rng.geometric(p)  # dropping out right after the lives-th repeat purchase (never at the first)
    x = np.minimum(possible, lives)
    # the last kept purchase is the x-th of `possible` uniform times on (0, T]
    last = np.where(x > 0, rng.beta(np.maximum(x, 1), possible - x + 1), 0.0)
    tx = np.where(x > 0, np.clip(np.ceil(last * T), 1, T), 0.0)
    return x.astype(float), tx, T


def from_world(world: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CLV asset's own (frequency, recency, T) from a built world's warehouse (read-only)."""
    import duckdb

    from dagster_project.analytics import clv_data
    from dagster_project.analytics.clv_customers import rfm_table

    con = duckdb.connect(str(world / "warehouse.duckdb"), read_only=True)
    try:
        as_of = clv_data.as_of_date(con)
        end = clv_data.day_number(as_of)
        summary = clv_data.purchase_summaries(con, clv_data.purchase_days_sql(as_of), end, end, end)
    finally:
        con.close()
    rfm = rfm_table(summary, end)
    return rfm["frequency"].to_numpy(), rfm["recency"].to_numpy(), rfm["T"].to_numpy()


def fit_ours(x, tx, T) -> dict:
    t0 = time.perf_counter()
    rows = clv.compress(x, tx, T)
    t1 = time.perf_counter()
    fit = clv.fit_bgnbd(*rows.rows.T, weights=rows.weights)
    t2 = time.perf_counter()
    clv.discounted_clv(fit.params, *rows.rows.T, value_per_transaction=1.0, months=36, annual_discount_rate=0.1)
    clv.probability_alive(fit.params, *rows.rows.T)
    t3 = time.perf_counter()
    return {"seconds": round(t2 - t0, 2), "compress_seconds": round(t1 - t0, 2), "fit_seconds": round(t2 - t1, 2),
            "predict_36_months_seconds": round(t3 - t2, 2),
            "distinct_rows": len(rows.rows), "iterations": fit.iterations, "converged": fit.converged,
            "params": {k: round(v, 5) for k, v in vars(fit.params).items()},
            "log_likelihood": round(fit.log_likelihood, 2)}


def _lifetimes_child(queue, x, tx, T, weights) -> None:
    warnings.simplefilter("ignore")
    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter

        t0 = time.perf_counter()
        fitter = BetaGeoFitter()
        if weights is None:
            fitter.fit(pd.Series(x), pd.Series(tx), pd.Series(T))
        else:
            fitter.fit(pd.Series(x), pd.Series(tx), pd.Series(T), weights=pd.Series(weights))
        seconds = time.perf_counter() - t0
        ll = clv.bgnbd_log_likelihood(clv.BgNbdParams(**fitter.params_.to_dict()), x, tx, T, weights)
        queue.put({"seconds": round(seconds, 2), "params": {k: round(float(v), 5) for k, v in fitter.params_.items()},
                   "log_likelihood": round(ll, 2)})
    except Exception as error:  # an incompatibility with numpy 2 / pandas 3 is a result too
        queue.put({"error": f"{type(error).__name__}: {error}"})


def fit_lifetimes(x, tx, T, weights=None, limit_seconds: float = 600.0) -> dict:
    """lifetimes in a child process, stopped after ``limit_seconds``."""
    queue = mp.get_context("fork").Queue()
    child = mp.get_context("fork").Process(target=_lifetimes_child, args=(queue, x, tx, T, weights))
    child.start()
    child.join(limit_seconds)
    if child.is_alive():
        child.terminate()
        child.join()
        return {"error": f"did not finish within {limit_seconds:.0f} s", "rows": len(x)}
    result = queue.get() if not queue.empty() else {"error": f"exited with code {child.exitcode}"}
    return {**result, "rows": len(x)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", type=Path, help="a built world (warehouse.duckdb); default: simulate")
    ap.add_argument("--customers", type=int, default=1_000_000, help="customers to simulate")
    ap.add_argument("--lifetimes-limit", type=float, default=600.0, help="seconds lifetimes may take")
    ap.add_argument("--no-record", action="store_true", help="print only, write nothing to results/")
    args = ap.parse_args()

    t0 = time.perf_counter()
    x, tx, T = from_world(args.world) if args.world else simulate(args.customers)
    load_seconds = round(time.perf_counter() - t0, 1)
    ours = fit_ours(x, tx, T)
    theirs = fit_lifetimes(x, tx, T, limit_seconds=args.lifetimes_limit)
    if "error" in theirs:
        sample = np.random.default_rng(2).choice(len(x), size=min(len(x), 100_000), replace=False)
        theirs["subsample"] = fit_lifetimes(x[sample], tx[sample], T[sample], limit_seconds=args.lifetimes_limit)
    rows = clv.compress(x, tx, T)
    theirs_weighted = fit_lifetimes(*rows.rows.T, weights=rows.weights, limit_seconds=args.lifetimes_limit)

    result = {
        "benchmark": "clv_bgnbd_fit", "date": date.today().isoformat(), "machine": machine(),
        "data": f"warehouse of {args.world}" if args.world else "simulated BG/NBD",
        "customers": len(x), "load_seconds": load_seconds, "target_seconds": TARGET_SECONDS,
        "true_params": None if args.world else vars(TRUE),
        "ours": ours, "lifetimes_per_customer_rows": theirs, "lifetimes_weighted_distinct_rows": theirs_weighted,
        "speedup_vs_lifetimes": (round(theirs["seconds"] / ours["seconds"], 1) if "seconds" in theirs else None),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2),
    }
    print(json.dumps(result, indent=2))
    if args.no_record:
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"clv_{len(x)}_{result['date']}" + ("_world" if args.world else "")
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))


def _params(p: dict) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in p.items())


def _lifetimes_line(label: str, r: dict) -> str:
    if "seconds" in r:
        return f"| {label} | {r['rows']:,} | {r['seconds']} | {_params(r['params'])} | {r['log_likelihood']:,} |"
    return f"| {label} | {r['rows']:,} | — ({r['error']}) | | |"


def markdown(r: dict) -> str:
    m, o = r["machine"], r["ours"]
    lines = [f"# CLV: BG/NBD fit on {r['customers']:,} customers ({r['date']})", "",
             f"Machine: {m['cpu_model']}, {m['nproc']} cores, {m['memory_gib']} GiB, Python {m['python']} "
             "(shared with other jobs: timings vary by about 2x between runs)", "",
             f"Data: {r['data']}" + (f", true parameters {_params(r['true_params'])}" if r["true_params"] else "")
             + f". Loading took {r['load_seconds']} s (not timed below).", "",
             "| fit | rows | seconds | parameters | log-likelihood |", "|---|---:|---:|---|---:|",
             f"| ours (de-duplicate {o['compress_seconds']} s + L-BFGS-B {o['fit_seconds']} s, {o['iterations']} "
             f"iterations) | {o['distinct_rows']:,} distinct | {o['seconds']} | {_params(o['params'])} | "
             f"{o['log_likelihood']:,} |",
             _lifetimes_line("lifetimes 0.11.3 BetaGeoFitter, one row per customer", r["lifetimes_per_customer_rows"])]
    sub = r["lifetimes_per_customer_rows"].get("subsample")
    if sub:
        lines.append(_lifetimes_line("lifetimes on a random subsample (full run did not finish)", sub))
    lines.append(_lifetimes_line("lifetimes with weights on our distinct rows", r["lifetimes_weighted_distinct_rows"]))
    verdict = "meets" if o["seconds"] <= r["target_seconds"] else "MISSES"
    lines += ["", f"Our fit {verdict} the target of {r['target_seconds']:g} s. Predicting p_alive and a 36-month "
              f"discounted CLV for the distinct rows took {o['predict_36_months_seconds']} s more (one ₂F₁ per "
              "row and month)."]
    if r["speedup_vs_lifetimes"]:
        lines.append(f"lifetimes on the same per-customer rows took {r['speedup_vs_lifetimes']}× as long.")
    lines.append(f"Peak memory of the benchmark process: {r['peak_rss_gib']} GiB.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
