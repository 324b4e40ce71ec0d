"""Batch-audit figures for ``make bench`` (called from benchmarks/run.py).

- audit_fee_lines: fee lines of the benchmark dataset (≈ 10 million);
- audit_seconds: a full audit (every 事后 rule of the library and every model, findings written, the
  HTML summary skipped) on 2 DuckDB threads with a 5 GB memory limit — target ≤ 60 s;
- audit_cpu_seconds: the CPU time of that audit (all threads; on an idle 2-core machine the wall time
  is between half of it and all of it — the figure to read when the machine is shared);
- audit_models_cpu_seconds / audit_rules_cpu_seconds: that CPU time split between the models and the
  rules of the library;
- audit_slowest_cpu: the rules and models that took the most CPU;
- audit_peak_rss_mb: peak resident memory of the process that ran it (a child process, so building
  the dataset does not count) — target < 6 GB;
- audit_findings: findings written;
- audit_checks_ran / audit_checks_skipped / audit_checks_failed: rules and models by outcome;
- trace_duplicate_codes_per_s: the duplicate-traceability-code detector of the rule library
  (the rule of pattern ``drug_resale``) over drug_trac_d, codes per second — target ≥ 5 million.

The dataset: a synthetic region of 30,000 persons (:func:`yibao.synth.generate.synthesize`, every fraud
pattern injected; the year is not settled) copied as many times as comes nearest 10 million fee lines.
Each copy gets its own persons, employers, institutions, staff, encounters, fee lines and trace codes
(new serial digits, valid check digits) — a region beside the others, never in one another's time
windows. It is built once
under ``$YIBAO_BENCH_DIR`` (default: a folder in the system temp dir) and reused while its recipe is
unchanged.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_LINES = 10_000_000
BASE_PERSONS = 30_000
RATE = 0.05
SEED = 20240101
RECIPE = f"v6-{BASE_PERSONS}-{RATE}-{SEED}-{TARGET_LINES}"

_IDS = {
    "fixmedins_b": ("fixmedins_code",),
    "dept_b": ("fixmedins_code",),
    "medstaff_b": ("staff_codg", "fixmedins_code"),
    "emp_b": ("emp_no",),
    "psn_info_b": ("psn_no", "certno", "emp_no", "mulaid_psn_no"),
    "psn_insu_d": ("psn_no",),
    "contribution_d": ("psn_no", "emp_no"),
    "mdtrt_d": ("mdtrt_id", "psn_no", "fixmedins_code", "atddr_no"),
    "setl_list_diag_d": ("mdtrt_id",),
    "setl_list_oprn_d": ("mdtrt_id",),
    "fee_list_d": ("feedetl_sn", "mdtrt_id", "psn_no", "fixmedins_code", "bilg_dr_codg", "rxno"),
    "drug_trac_d": ("feedetl_sn", "mdtrt_id", "fixmedins_code"),
    "setl_d": ("setl_id", "mdtrt_id", "psn_no", "fixmedins_code"),
}
"""Per table, the code columns that get the copy's suffix: every copy is a region of its own (its own
persons, employers, institutions and staff), so copies never meet in one another's windows."""
SERIAL_STEP = 30_000_001


def build_base(folder: Path) -> None:
    """The small region: the synthetic-region pipeline (care and every fraud pattern, with labels)."""
    from yibao.synth.generate import synthesize

    synthesize(persons=BASE_PERSONS, seed=SEED, out=folder, fraud=RATE, settle=False, workers=2)


def replicate(base: Path, out: Path, copies: int) -> None:
    """``copies`` copies of ``base`` in ``out``, with fresh codes and ids and fresh trace codes."""
    import duckdb

    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    con.execute(f"CREATE TABLE copies AS SELECT range AS k FROM range({copies})")
    for f in sorted(base.glob("*.parquet")):
        name = f.stem
        if name == "labels":
            continue
        src = f"read_parquet('{f}')"
        if name not in _IDS:
            con.execute(f"COPY (SELECT * FROM {src}) TO '{out / f.name}' (FORMAT parquet, COMPRESSION zstd)")
            continue
        cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()]
        sel = []
        for c in cols:
            if c in _IDS[name]:
                sel.append(
                    f"CASE WHEN t.{c} = '' OR t.{c} IS NULL THEN t.{c} ELSE t.{c} || 'k' || CAST(copies.k AS VARCHAR) END AS {c}"
                )
            elif c == "drug_trac_codg":
                serial = f"(CAST(SUBSTR(t.{c}, 8, 9) AS BIGINT) + copies.k * {SERIAL_STEP}) % 1000000000"
                first16 = f"SUBSTR(t.{c}, 1, 7) || LPAD(CAST({serial} AS VARCHAR), 9, '0')"
                sel.append(
                    f"{first16} || LPAD(CAST(CAST({first16} AS BIGINT) % 9973 AS VARCHAR), 4, '0') AS {c}"
                )
            else:
                sel.append(f"t.{c}")
        con.execute(
            f"COPY (SELECT {', '.join(sel)} FROM {src} t CROSS JOIN copies) TO '{out / f.name}' "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 1000000)"
        )
    con.close()


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def dataset() -> Path:
    """The benchmark dataset (built on first use, reused while RECIPE is unchanged)."""
    root = Path(os.environ.get("YIBAO_BENCH_DIR", Path(tempfile.gettempdir()) / "yibao_bench_audit"))
    big = root / "big"
    stamp = root / "recipe.txt"
    if stamp.exists() and stamp.read_text() == RECIPE and (big / "fee_list_d.parquet").exists():
        return big
    base = root / "base"
    build_base(base)
    copies = max(1, round(TARGET_LINES / _rows(base / "fee_list_d.parquet")))  # the copies nearest 10 million lines
    replicate(base, big, copies)
    stamp.write_text(RECIPE)
    return big


def _child(folder: str, out: str) -> None:
    """Run in a child process: the full audit, then its figures as JSON on stdout."""
    from yibao.supervision.audit import audit

    t = time.perf_counter()
    result = audit(Path(folder), Path(out), threads=2, memory_limit="5GB", report=False)
    seconds = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "audit_seconds": round(seconds, 2),
        "audit_cpu_seconds": round(result.cpu_seconds, 2),
        "audit_models_cpu_seconds": round(sum(c.cpu_seconds for c in result.checks if c.source == "model"), 2),
        "audit_rules_cpu_seconds": round(sum(c.cpu_seconds for c in result.checks if c.source == "rule"), 2),
        "audit_peak_rss_mb": round(peak_kb / 1024),
        "audit_findings": result.findings,
        "audit_checks_ran": sum(1 for c in result.checks if c.status == "ran"),
        "audit_checks_skipped": len(result.skipped),
        "audit_checks_failed": len(result.failed),
        "audit_slowest_cpu": sorted(((c.id, round(c.cpu_seconds, 2)) for c in result.checks), key=lambda x: -x[1])[:8],
    }))  # fmt: skip


def _codes_per_s(folder: Path) -> dict[str, Any]:
    """The library's duplicate-trace-code rule alone over drug_trac_d, best of 3: over the audit's views
    (Parquet read each time) and over the tables loaded in memory (the detector alone)."""
    from yibao.supervision.audit import connect, register_dataset

    try:
        from yibao.supervision.library import kind_module, load_library

        library = load_library()
    except Exception as e:  # the rule library is another module's; say why the figure is missing
        return {"trace_duplicate_codes_per_s": None, "trace_duplicate_skipped": f"{type(e).__name__}: {e}"}
    rules = [r for r in library.rules if r.pattern == "drug_resale" and "事后" in r.stage]
    if not rules:
        return {
            "trace_duplicate_codes_per_s": None,
            "trace_duplicate_skipped": "no 事后 rule of pattern drug_resale",
        }
    out: dict[str, Any] = {"trace_rule": rules[0].id}
    for key, materialize in (
        ("trace_duplicate_codes_per_s", False),
        ("trace_duplicate_codes_per_s_in_memory", True),
    ):
        con = connect(threads=2)
        register_dataset(con, folder, materialize=materialize)
        n = int(con.execute("SELECT COUNT(*) FROM drug_trac_d").fetchall()[0][0])
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            kind_module(rules[0].kind).batch(con, rules[0], library.kb)
            best = min(best, time.perf_counter() - t)
        con.close()
        out.update({"trace_codes": n, key: round(n / best)})
    return out


def figures() -> dict[str, Any]:
    folder = dataset()
    lines = _rows(folder / "fee_list_d.parquet")
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), out],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        return {"audit_fee_lines": lines, "audit_seconds": None, "audit_error": proc.stderr.strip()[-500:]}
    figs: dict[str, Any] = {"audit_fee_lines": lines, **json.loads(proc.stdout.strip().splitlines()[-1])}
    figs.update(_codes_per_s(folder))
    return figs


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        json.dump(figures(), sys.stdout, indent=2)
        sys.stdout.write("\n")
