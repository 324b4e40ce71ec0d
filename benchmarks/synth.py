"""Speed and memory of ``yibao synth``: called by benchmarks/run.py (``figures()``), or alone.

Figures (workers=2, this machine):
- synth_persons_per_s: persons generated per second (persons, care and fraud, written), settlement excluded
- synth_fee_lines_per_s: fee lines generated per second over the same time (target ≥ 500,000 on 2 cores)
- synth_generate_cpu_s, synth_fee_lines_per_cpu_s: the CPU seconds (user + system, parent and workers) of
  the same work, and fee lines per CPU second — steadier than wall time on a shared machine (2 cores at
  500,000 lines/s need ≥ 250,000 lines per CPU second)
- synth_write_s: of the generation, the parent's own serial work (identity numbers, Parquet encoding)
- synth_stage_cpu_s: CPU seconds per stage (persons, care, fraud, hand-over in the workers; the parent's write)
- synth_total_s: the whole command, settlement of the year included
- synth_peak_rss_mb: peak memory of the process and its workers together (proportional set size, sampled
  every 0.5 s; shared pages counted once)

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


def figures(
    persons: int = 100_000, *, workers: int = 2, chunk_size: int = 25_000, settle: bool = True
) -> dict[str, Any]:
    """Synthesise ``persons`` into a temporary folder and return the figures (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="yibao-bench-synth-") as tmp, PeakMemory() as mem:
        t = time.perf_counter()
        manifest = synthesize(
            persons=persons,
            seed=1,
            out=Path(tmp) / "region",
            chunk_size=chunk_size,
            workers=workers,
            settle=settle,
        )
        total = time.perf_counter() - t
    timings = manifest["timings"]
    generate_s = timings["region_s"] + timings["chunks_s"]
    return {
        "synth_persons": persons,
        "synth_workers": workers,
        "synth_persons_per_s": round(persons / generate_s),
        "synth_fee_lines_per_s": round(manifest["counts"].get("fee_list_d", 0) / generate_s),
        "synth_fee_lines": manifest["counts"].get("fee_list_d", 0),
        "synth_generate_s": round(generate_s, 2),
        "synth_generate_cpu_s": timings["generate_cpu_s"],
        "synth_fee_lines_per_cpu_s": timings["fee_lines_per_cpu_s"],
        "synth_write_s": timings["write_s"],
        "synth_stage_cpu_s": timings["stage_cpu_s"],
        "synth_settle_s": timings.get("settle_s"),
        "settle_year_encounters_per_s": (manifest.get("settlement") or {}).get("encounters_per_s"),
        "synth_total_s": round(total, 2),
        "synth_peak_rss_mb": round(mem.peak_kb / 1024),
    }


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    json.dump(figures(n), sys.stdout, indent=2)
    sys.stdout.write("\n")
