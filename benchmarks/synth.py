"""Speed and memory of ``yibao synth``: called by benchmarks/run.py (``figures()``), or alone.

At 1,000,000 persons, the size the issue's targets are set for: a small region's fixed costs (starting
the workers, the fraud patterns' few cases a chunk at least) weigh more per line (100,000 persons:
about 340k fee lines/s where a million gives 560k, the same code and machine). Two runs (workers=2,
this machine): the generation alone (``settle=False``), then the whole command, whose workers also
settle the chunks they make; then ``settle_year`` on the finished dataset, as ``yibao settle-year``
would run it. Figures:
- synth_persons_per_s: persons generated per second (persons, care and fraud, written), settlement excluded
- synth_fee_lines_per_s: fee lines generated per second over the same time (target ≥ 500,000 on 2 cores)
- synth_generate_cpu_s, synth_fee_lines_per_cpu_s: the CPU seconds (user + system, parent and workers) of
  the same work, and fee lines per CPU second — steadier than wall time on a shared machine (2 cores at
  500,000 lines/s need ≥ 250,000 lines per CPU second)
- synth_write_s: of the generation, the parent's own serial work (identity numbers, Parquet encoding)
- synth_stage_cpu_s: CPU seconds per stage of the whole command (persons, care, fraud, the calibration
  report's cells, hand-over and settle in the workers; the parent's write)
- synth_total_s: the whole command, settlement of the year included (target for 1,000,000 persons: 180 s)
- synth_peak_rss_mb: peak memory of the whole command (target < 6 GB), the process and its workers
  together (proportional set size, sampled every 0.5 s; shared pages counted once)
- settle_year_encounters_per_s: ``settle_year`` on the dataset, encounters per second (target ≥ 40,000)

    .venv/bin/python benchmarks/synth.py [PERSONS]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from yibao.settlement.batch import settle_year
from yibao.synth.generate import synthesize


def _rss_kb(pid: int) -> int:
    """Proportional set size (shared pages split between their sharers, so forked children that share
    the parent's pages are not counted twice), else the resident set size."""
    for path, key in ((f"/proc/{pid}/smaps_rollup", "Pss:"), (f"/proc/{pid}/status", "VmRSS:")):
        try:
            with open(path, encoding="ascii") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            continue
    return 0


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for k in kids:
            out.append(k)
            out.extend(_descendants(k))
    return out


class PeakMemory:
    """The peak of the summed memory (PSS) of this process and all its descendants (Linux /proc; 0 elsewhere).

    Reading smaps_rollup walks a process's page tables, so sampling costs CPU in the measured process:
    every 0.1 s it took about 3.4 CPU-s of a 100,000-person run (≈ 12 % of its generation). Memory
    moves chunk by chunk (seconds), so every 0.5 s finds the same peak at a fifth of the cost."""

    def __init__(self, every: float = 0.5) -> None:
        self.every = every
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            total = sum(_rss_kb(p) for p in (me, *_descendants(me)))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def figures(persons: int = 1_000_000, *, workers: int = 2, chunk_size: int = 25_000) -> dict[str, Any]:
    """Synthesise ``persons`` into temporary folders and return the figures (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="yibao-bench-synth-") as tmp:
        def run(name: str, *, settle: bool) -> dict[str, Any]:
            return synthesize(persons=persons, seed=1, out=Path(tmp) / name, chunk_size=chunk_size,
                              workers=workers, settle=settle)  # fmt: skip

        generated = run("generated", settle=False)["timings"]
        with PeakMemory() as mem:
            t = time.perf_counter()
            manifest = run("region", settle=True)
            total = time.perf_counter() - t
        year = settle_year(Path(tmp) / "region", workers=workers)
    generate_s = generated["region_s"] + generated["chunks_s"]
    return {
        "synth_persons": persons,
        "synth_workers": workers,
        "synth_persons_per_s": round(persons / generate_s),
        "synth_fee_lines_per_s": round(manifest["counts"].get("fee_list_d", 0) / generate_s),
        "synth_fee_lines": manifest["counts"].get("fee_list_d", 0),
        "synth_generate_s": round(generate_s, 2),
        "synth_generate_cpu_s": generated["generate_cpu_s"],
        "synth_fee_lines_per_cpu_s": generated["fee_lines_per_cpu_s"],
        "synth_write_s": generated["write_s"],
        "synth_stage_cpu_s": manifest["timings"]["stage_cpu_s"],
        "synth_total_s": round(total, 2),
        "synth_peak_rss_mb": round(mem.peak_kb / 1024),
        "settle_year_encounters_per_s": round(year.encounters / year.seconds),
    }

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    json.dump(figures(n), sys.stdout, indent=2)
    sys.stdout.write("\n")
