"""Statistics figures for ``make bench`` (called from benchmarks/run.py through ``figures()``).

- stats_bulletin_10m_s: wall seconds of ``write_bulletin`` (fund accounts, indicators, fidelity, JSON,
  Markdown and HTML with charts) on a dataset of at least 10 million fee lines, in a child process
  limited to 2 threads (``POLARS_MAX_THREADS=2``); target < 20 s on 2 cores;
- stats_bulletin_10m_cpu_s: the child's user + system CPU seconds (steadier than wall time on a busy machine);
- stats_peak_rss_mb: the child's peak resident memory;
- stats_fee_lines / stats_settlements: the size of the measured dataset;
- stats_bulletin_small_s: the same on the source dataset before replication;
- stats_source: what was replicated — ``$YIBAO_STATS_BENCH_SOURCE``, else the synthetic region at
  /tmp/yibao_ds when it is settled, else ``yibao.stats.sample`` (20,000 persons) — and how many times
  (:func:`yibao.stats.sample.replicate`: identifiers suffixed per copy, decimals untouched).
"""

from __future__ import annotations

import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_LINES = 10_000_000

_CHILD = """
import json, resource, sys, time
from yibao.stats.bulletin import write_bulletin
t = time.perf_counter()
doc = write_bulletin(sys.argv[1], sys.argv[2])
wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024,
                  "fee_lines": doc["meta"]["fee_lines"], "settlements": doc["meta"]["settlements"]}))
"""


def _source(tmp: Path) -> tuple[Path, str]:
    env = os.environ.get("YIBAO_STATS_BENCH_SOURCE")
    if env and (Path(env) / "setl_d.parquet").exists():
        return Path(env), env
    ds = Path("/tmp/yibao_ds")
    if (ds / "setl_d.parquet").exists() and (ds / "fee_list_d.parquet").exists():
        return ds, str(ds)
    from yibao.stats.sample import sample_dataset

    folder = tmp / "sample"
    sample_dataset(folder, persons=20_000, seed=1)
    return folder, "yibao.stats.sample(persons=20000)"


def _run(dataset: Path, out: Path) -> dict[str, Any]:
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(dataset), str(out)], capture_output=True, text=True, env=env, check=True
    )
    result: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return result


def figures() -> dict[str, Any]:
    import pyarrow.parquet as pq

    from yibao.stats.sample import replicate

    with tempfile.TemporaryDirectory(prefix="yibao_bench_stats_") as d:
        tmp = Path(d)
        source, label = _source(tmp)
        small = _run(source, tmp / "out_small")
        lines = pq.ParquetFile(source / "fee_list_d.parquet").metadata.num_rows
        times = max(1, math.ceil(TARGET_LINES / max(lines, 1)))
        t = time.perf_counter()
        big = tmp / "big"
        replicate(source, big, times)
        replicate_s = time.perf_counter() - t
        run = _run(big, tmp / "out_big")
    return {
        "stats_bulletin_10m_s": round(run["wall"], 2),
        "stats_bulletin_10m_cpu_s": round(run["cpu"], 2),
        "stats_peak_rss_mb": round(run["rss_mb"]),
        "stats_fee_lines": run["fee_lines"],
        "stats_settlements": run["settlements"],
        "stats_bulletin_small_s": round(small["wall"], 2),
        "stats_source": f"{label} x {times}",
        "stats_replicate_s": round(replicate_s, 2),
        "stats_load_average_1m": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    _ = resource  # the child measures itself
    json.dump(figures(), sys.stdout, indent=2)
    sys.stdout.write("\n")
