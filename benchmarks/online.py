"""Online-check and traceability-code figures (``make bench`` includes them through run.py).

- online_check_cpu_ms_per_10_line_bill: CPU (time.process_time) per ten-line bill checked by every 事中
  rule of the shipped library, the patient's year of history (~250 lines over ~30 encounters) already
  indexed in memory (target ≤ 0.3 ms);
- online_check_cpu_ms_per_10_line_bill_with_raw_history: the same when each check also indexes the
  history from its national mappings (what a stateless 3101 call with history encounters costs);
- trace_duplicate_core_codes_per_s: traceability codes per second through the duplicate-settlement query
  alone (R-TRACE-01's core: candidates and net counts, no fee lines) over 10 million synthetic codes in
  DuckDB on 2 threads. The audit benchmark's trace_duplicate_codes_per_s is the whole rule over a
  dataset's files (target ≥ 5,000,000).
"""

from __future__ import annotations

import json
import random
import time
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from yibao.catalog.trace import trace_codes
from yibao.supervision.kb import default_kb
from yibao.supervision.library import default_library
from yibao.supervision.online import build_history, check
from yibao.supervision.rules.trace_duplicate import duplicate_codes_sql, register_candidates


def _bill(rng: random.Random, codes: list[str], mid: str, day: str, med_type: str = "11") -> dict[str, Any]:
    kb = default_kb()
    lines = []
    for j in range(10):
        code = rng.choice(codes)
        item = kb.items[code]
        lines.append({
            "rx_id": f"{mid}-{j}", "rxno": f"{mid}-RX", "hilist_code": code, "hilist_name": item.name,
            "cnt": str(rng.randint(1, 3)), "pric": f"{rng.randint(1, 300)}.00",
            "prd_days": 14 if item.list_type == "drug" else 0, "drord_begn_date": f"{day} 09:{j:02d}:00",
            "drord_dr_codg": "D1",
        })  # fmt: skip
    return {
        "mdtrt_id": mid, "medins_id": "H1", "medins_lv": rng.choice(["01", "05", "08"]), "med_type": med_type,
        "adm_date": f"{day} 09:00:00", "insutype": "310",
        "fsi_diagnose_dtos": [{"dise_codg": rng.choice(["I10.x09", "E11.900", "J06.900", "K29.500"]), "maindise_flag": "1"}],
        "fsi_order_dtos": lines,
    }  # fmt: skip


def online_figures(n: int = 3000) -> dict[str, float]:
    rng = random.Random(42)
    kb = default_kb()
    codes = sorted(kb.items)
    patient = {"patn_id": "P1", "gend": "1", "brdy": "1960-05-01"}
    history = [_bill(rng, codes, f"H{k}", f"2024-{1 + k % 12:02d}-{1 + (k * 7) % 27:02d}") for k in range(25)]
    index = build_history(history, patient)
    bills = [_bill(rng, codes, f"B{k}", f"2025-{1 + k % 12:02d}-{1 + k % 28:02d}") for k in range(n)]
    lib = default_library()
    check(bills[0], index, patient=patient, stage="事中", library=lib)  # warm the caches
    t = time.process_time()
    found = 0
    for b in bills:
        found += len(check(b, index, patient=patient, stage="事中", library=lib))
    per = (time.process_time() - t) / n * 1000
    m = max(100, n // 10)
    t = time.process_time()
    for b in bills[:m]:
        check(b, history, patient=patient, stage="事中", library=lib)
    raw = (time.process_time() - t) / m * 1000
    return {
        "online_check_cpu_ms_per_10_line_bill": round(per, 4),
        "online_check_cpu_ms_per_10_line_bill_with_raw_history": round(raw, 4),
        "online_findings_per_bill": round(found / n, 2),
    }


def trace_figures(n: int = 10_000_000) -> dict[str, float]:
    rng = np.random.default_rng(7)
    serials = np.arange(n, dtype=np.int64)
    dup = rng.choice(n, size=n // 1000, replace=False)
    prefixes = 8_000_000 + rng.integers(0, 999_999, size=n)
    serials[dup] = serials[(dup + 1) % n]  # 0.1% of codes settled twice
    prefixes[dup] = prefixes[(dup + 1) % n]
    codes = trace_codes(prefixes, serials).to_arrow()
    table = pa.table({
        "drug_trac_codg": codes, "feedetl_sn": pa.array(np.char.add("F", np.arange(n).astype(str))),
        "retn_flag": pa.array(np.full(n, "0")), "fixmedins_code": pa.array(np.full(n, "Y1")),
        "sel_time": pa.array(np.full(n, np.datetime64("2024-05-01T09:00:00"), dtype="datetime64[s]")),
    })  # fmt: skip
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.register("src", table)
    con.execute("CREATE TABLE drug_trac_d AS SELECT * FROM src")
    best = float("inf")
    rows = 0
    for _ in range(3):
        t = time.perf_counter()
        register_candidates(con)
        rows = con.execute(f"SELECT COUNT(*) FROM ({duplicate_codes_sql('yb_trace_rows')}) x").fetchall()[0][
            0
        ]
        best = min(best, time.perf_counter() - t)
    return {"trace_duplicate_core_codes_per_s": round(n / best), "trace_duplicate_rows_found": rows}


def figures() -> dict[str, float]:
    return {**online_figures(), **trace_figures()}


def trace_only() -> dict[str, float]:
    return trace_figures()


if __name__ == "__main__":
    print(json.dumps(figures(), indent=2))
