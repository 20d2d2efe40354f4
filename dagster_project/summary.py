"""The short summary printed after a run: what was loaded, what was set aside, who is in it."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.warehouse import has_table


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    try:
        return int(con.execute(sql).fetchall()[0][0] or 0)
    except duckdb.Error:
        return 0


def warehouse_summary(warehouse: Path) -> str:
    """Render a plain-text summary of the warehouse (opened read-only)."""
    if not warehouse.exists():
        return f"No warehouse at {warehouse} yet: run `crm-cif run` (or `make demo`)."
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        lines = [f"Warehouse: {warehouse}", "", f"{'source':<12} {'files':>6} {'raw rows':>10} {'rejects':>8} {'quarant.':>9}"]
        per_source = con.execute("""
            select source, count(*) as files, sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected
            from raw.file_ledger group by source order by source
        """).fetchall() if has_table(con, "raw", "file_ledger") else []
        quarantined = dict(con.execute(
            "select source_system, count(*) from staging.stg_quarantine group by 1").fetchall()
        ) if has_table(con, "staging", "stg_quarantine") else {}
        for source, files, rows, rejects in per_source:
            lines.append(f"{source:<12} {files:>6} {rows or 0:>10,} {rejects or 0:>8,} {quarantined.get(source, 0):>9,}")
        lines.append("")
        statuses = con.execute(
            "select customer_status, count(*) from marts.dim_customer group by 1 order by 2 desc"
        ).fetchall() if has_table(con, "marts", "dim_customer") else []
        if statuses:
            lines.append("Parties by status: " + ", ".join(f"{s} {n:,}" for s, n in statuses))
            lines.append(f"Customers (ever held a product): {_scalar(con, 'select count(*) from marts.dim_customer where is_customer'):,}")
            lines.append(f"Interactions: {_scalar(con, 'select count(*) from marts.fct_interactions'):,}   "
                         f"Transactions: {_scalar(con, 'select count(*) from marts.fct_transactions'):,}   "
                         f"Service cases: {_scalar(con, 'select count(*) from marts.fct_service_cases'):,}")
        lines += [
            "",
            "Look at it:",
            f"  .venv/bin/duckdb -readonly {warehouse} \"select * from marts.customer_360 limit 5\"",
            "  .venv/bin/crm-cif sql \"select customer_status, count(*) from marts.dim_customer group by 1\"",
            f"  python -c \"import duckdb; print(duckdb.connect('{warehouse}', read_only=True).sql('select customer_status, count(*) from marts.dim_customer group by 1'))\"",
            "  make dev   # the Dagster UI on http://127.0.0.1:3000",
        ]
        return "\n".join(lines)
    finally:
        con.close()
