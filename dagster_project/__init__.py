"""crm-cif: the customer information factory (Dagster assets, dbt on DuckDB, GX, Splink).

DuckDB's allocator (jemalloc, configured by ``DUCKDB_JE_MALLOC_CONF`` when the library loads) hands
freed memory back to the kernel after 10 s by default; a pipeline step that needs it again then
faults every page in anew. On a VM whose balloon reports free pages to the host (this project's
benchmark machine) each of those faults goes through the hypervisor: the kernel's share of a
million-people new day was ~30%, and a chain of DuckDB queries took 17-19 s with 7-9 s in the
kernel against 14 s with 3.5-4 s when freed memory is kept a minute (``dirty_decay_ms``) and then
only marked free (``MADV_FREE``, ``muzzy_decay_ms: -1``), which the kernel still reclaims under
memory pressure. Set here, before any module imports duckdb, and inherited by the dbt processes;
a value the user set is kept.

Transparent huge pages are turned off for this process and its children the same way (huge_pages.py:
on that machine a huge page fault costs ~20 ms, and DuckDB's hash tables ask for them).
"""

import os

from dagster_project.huge_pages import apply_setting

DUCKDB_ALLOCATOR = "dirty_decay_ms:60000,muzzy_decay_ms:-1"
os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", DUCKDB_ALLOCATOR)
apply_setting()
