"""DRG figures for ``make bench`` (called from benchmarks/run.py).

- drg_group_cases_per_s: cases grouped per second on one core through the batch path
  (:func:`yibao.drg.grouper.group_frame` over a polars DataFrame), on a synthetic batch of 50,000
  distinct cases drawn from the tables' own codes, with a fresh grouper (an empty memo) — best of 3;
- drg_tables_load_s: reading and checking the CHS-DRG 1.1 tables from disk, cold (best of 3);
- drg_peak_rss_mb: peak resident memory of a process that loads the tables, builds the batch and
  groups it (measured in a child process, so other benchmarks do not count).

Needs the tables (``$YIBAO_DRG_TABLES`` or ../shared/data/chs-drg-1.1); without them every figure
is None and ``drg_skipped`` says why.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

CASES = 50_000


def _measure() -> dict[str, Any]:
    import polars as pl

    from yibao.drg.grouper import Grouper, group_frame
    from yibao.drg.synth import synthetic_cases
    from yibao.drg.tables import load_tables

    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        tables = load_tables(cache=False)
        loads.append(time.perf_counter() - t0)
    cases = list(synthetic_cases(tables, CASES, seed=20250101))
    df = pl.DataFrame(
        {
            "case_id": [c.case_id for c in cases],
            "gender": [c.gender for c in cases],
            "age": [c.age for c in cases],
            "age_day": [c.age_day for c in cases],
            "weight": [c.weight for c in cases],
            "dept": [c.dept for c in cases],
            "los": [c.los for c in cases],
            "leaving_type": [c.leaving_type for c in cases],
            "diagnoses": ["|".join(c.diagnoses) for c in cases],
            "procedures": ["|".join(c.procedures) for c in cases],
        }
    )
    best = float("inf")
    for _ in range(3):
        grouper = Grouper(tables)  # empty memo: every case is grouped, none is looked up
        t0 = time.perf_counter()
        group_frame(df, grouper)
        best = min(best, time.perf_counter() - t0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {
        "drg_group_cases_per_s": round(df.height / best),
        "drg_tables_load_s": round(min(loads), 3),
        "drg_peak_rss_mb": round(peak_kb / 1024, 1),
    }


def figures() -> dict[str, Any]:
    """The three DRG figures, measured in a child process."""
    proc = subprocess.run(
        [sys.executable, __file__, "--child"], capture_output=True, text=True, check=False, timeout=600
    )
    if proc.returncode != 0:
        reason = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return {
            "drg_group_cases_per_s": None,
            "drg_tables_load_s": None,
            "drg_peak_rss_mb": None,
            "drg_skipped": reason,
        }
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


if __name__ == "__main__":
    if "--child" in sys.argv:
        json.dump(_measure(), sys.stdout)
    else:
        json.dump(figures(), sys.stdout, indent=2)
        sys.stdout.write("\n")
