"""The trained Splink model as a table and a readable chart, for the warehouse and Dagster."""

from __future__ import annotations

import duckdb
import pyarrow as pa

_BAR_BITS_PER_CHAR = 1.0


def model_parameters_table(weights: list[dict]) -> pa.Table:
    """One row per comparison level, in the model's order, rounded so re-runs compare equal."""
    def rounded(value, digits):
        return None if value is None else round(float(value), digits)

    return pa.table({
        "comparison": pa.array([w["comparison"] for w in weights], pa.string()),
        "level_order": pa.array(list(range(1, len(weights) + 1)), pa.int64()),
        "level": pa.array([w["level"] for w in weights], pa.string()),
        "m_probability": pa.array([rounded(w["m"], 6) for w in weights], pa.float64()),
        "u_probability": pa.array([rounded(w["u"], 8) for w in weights], pa.float64()),
        "match_weight": pa.array([rounded(w["match_weight"], 2) for w in weights], pa.float64()),
    })


def write_model_parameters(con: duckdb.DuckDBPyConnection, table: pa.Table, schema: str = "integration") -> None:
    con.register("_model_parameters", table)
    con.execute(f"create or replace table {schema}.match_model_parameters as select * from _model_parameters")
    con.unregister("_model_parameters")


def weights_markdown(weights: list[dict]) -> str:
    """A match-weights chart in markdown: how much each agreement level says for or against a match."""
    lines = ["| comparison | level | m | u | match weight | |", "|---|---|---:|---:|---:|---|"]
    for w in weights:
        weight = w["match_weight"]
        if weight is None:
            bar, shown = "", "untrained"
        else:
            size = min(int(abs(weight) / _BAR_BITS_PER_CHAR), 30)
            bar, shown = ("+" * size if weight >= 0 else "−" * size), f"{weight:+.2f}"
        m = "" if w["m"] is None else f"{w['m']:.4f}"
        u = "" if w["u"] is None else f"{w['u']:.6f}"
        lines.append(f"| {w['comparison']} | {w['level']} | {m} | {u} | {shown} | `{bar}` |")
    return "\n".join(lines)
