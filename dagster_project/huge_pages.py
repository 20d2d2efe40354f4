"""Transparent huge pages off for the pipeline's processes and the dbt processes they start.

Why: DuckDB asks the kernel for transparent huge pages (THP) on its large hash tables
(``madvise(MADV_HUGEPAGE)`` in ``Allocator::TryAllocateHuge``, seen with gdb), and so does NumPy on
large arrays. On a VM whose balloon hands free memory back to the host (virtio free page
reporting, as on this project's benchmark machine), a 2 MiB page fault needs a free 2 MiB block,
and those are exactly the blocks the guest has reported and the host must fill again: measured
here (``benchmarks/bench_huge_pages.py``), a DuckDB ``count(distinct)`` over 50 M integers took
22-30 s with THP (1,054 huge page faults, 16-24 s of it in the kernel) against 7.4-7.7 s without
(1.1 s in the kernel); NumPy filling 3 GiB 29-32 s against 1.1-1.3 s. At a million people, two
runs an hour apart: one new day 284 / 314 s with THP and 249 / 267 s without (CLV, the serving
copies, identity; the dbt steps the same), the full build 837 -> 777 s. One long process reusing
its own freed memory does better with THP (the benchmark's SQL floor: 111 s against 123 s), and
on bare metal a huge page fault is a cheap 2 MiB clear and THP can speed large hash tables a
little (fewer TLB misses), so ``CRM_CIF_TRANSPARENT_HUGE_PAGES=on`` leaves the kernel's setting.

``prctl(PR_SET_THP_DISABLE)`` is per process (no machine setting changes), inherited by children
across fork and exec (the dbt processes dagster-dbt starts), and harmless where THP is off anyway.
"""

import ctypes
import os
import sys

SETTING = "CRM_CIF_TRANSPARENT_HUGE_PAGES"
PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42


def _prctl(option: int, value: int = 0) -> int | None:
    """prctl(2) through libc; None where there is none (not Linux) or the call failed."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        result = ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        return None
    return None if result < 0 else result


def huge_pages_disabled() -> bool | None:
    """True when THP is off for this process, False when the kernel's setting applies, None: unknown."""
    state = _prctl(PR_GET_THP_DISABLE)
    return None if state is None else bool(state)


def keep_kernel_setting() -> bool | None:
    """Give this process THP as the kernel's mode has it (undo apply_setting): for the benchmark's
    SQL floor, one process running one script, which reuses the huge pages its own queries freed a
    moment before and ran faster with them (111 s against 123 s at a million people)."""
    _prctl(PR_SET_THP_DISABLE, 0)
    return huge_pages_disabled()


def apply_setting(environ: os._Environ | dict = os.environ) -> bool | None:
    """Turn THP off for this process unless the setting is ``on``; returns huge_pages_disabled()."""
    if environ.get(SETTING, "off").strip().lower() != "on":
        _prctl(PR_SET_THP_DISABLE, 1)
    return huge_pages_disabled()
