"""Worker processes of ``yibao synth``: the environment they are spawned with.

A spawned worker inherits the parent's environment, and Polars, glibc and Arrow read their settings
from it when the worker starts: its Polars threads (a share of the cores), and allocators that keep
the memory of one chunk or part for the next instead of handing it back to the system and faulting
it in again. ``with worker_environment(workers):`` around the start of a pool sets them; a value the
caller set wins.

``yibao settle-year``'s workers do without: on a 100,000-person dataset it settled 3–5 % slower with
this environment (75.1k and 78.9k against 79.4k and 81.8k encounters a second, runs alternated; a guess at
why: it reads its parts with Polars, which this environment gives one thread).

>>> import os
>>> with worker_environment(2):
...     os.environ["ARROW_DEFAULT_MEMORY_POOL"]
'system'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

WORKER_ALLOCATOR = "dirty_decay_ms:-1,muzzy_decay_ms:-1"
"""Polars' allocator (jemalloc) in a worker keeps the memory it has freed instead of handing it back
after Polars' default 0.5 s: a worker makes chunk after chunk of the same size, and memory handed back
between its steps is faulted in again, in the kernel. Its memory stays at the peak of one chunk, where
it would be anyway while the next chunk is made. Measured on a chunk of 25,000 persons in a warm worker
(minor faults, system time): 46,000–58,000 faults and 0.35–0.37 s keeping memory for 10 s, 12,000–29,000
and 0.21–0.25 s keeping it; before that, 10 s against 0.5 s had taken 50,000 persons in two workers
from 5.6 to 3.8 s of system time."""

WORKER_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
    "MALLOC_TRIM_THRESHOLD_": str(8 << 30),
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}
"""The C allocator (glibc, which NumPy's arrays come from) in a worker, and Arrow's memory on it too.

- Blocks up to 32 MiB (glibc's largest threshold) come from glibc's heap instead of a mapping of their
  own, and the heap is not given back. By default glibc maps every large array afresh and unmaps it
  when it is freed, so a chunk's arrays of a million rows are faulted in, in the kernel, chunk after
  chunk. Measured on the care stage of a chunk of 25,000 persons (one thread): system time 0.43 →
  0.01 s, user time unchanged (1.40 → 1.39 s); either setting alone makes it worse (0.51 and 1.02 s:
  a threshold set by hand stops glibc from raising it itself). On 200,000 persons with two workers:
  the workers' system time 10.2 → 5.9 s, the generation 25.8 → 23.2 s, peak 3.6 → 3.7 GB.
- Arrow (the hand-over's tables and the Parquet encoding) allocates from the same heap instead of its
  own mimalloc, which kept memory of its own beside glibc's. On 100,000 persons, two runs each: the
  hand-over 6.7–7.1 → 4.7 CPU-s, the care stage 6.2–6.3 → 6.6–6.7, the generation 13.1–13.4 →
  12.0–12.5 s, peak 4.0–4.1 → 3.3 GB.

Every first chunk of a worker still pays for the memory it touches first (about 0.5 s of system
time a GB on the measuring machine: a chunk of 25,000 persons peaks at some 2.3 GB in its worker)."""


def worker_threads(workers: int) -> int:
    """Polars threads per worker: the machine's cores shared out between the workers (at least one).

    A worker's Polars would otherwise start a thread per core although the other workers keep those
    cores busy, and a chunk runs some 2,000 small Polars operations whose hand-offs between threads
    then cost more than they save. Measured (100,000 persons, two workers on two cores shared with other
    work, CPU time of the generation): 62.6 → 57.8 s with one thread per worker, the same files; on a
    quieter machine the gain is within the noise (±5 %). ``POLARS_MAX_THREADS`` set by the caller wins."""
    return max(1, (os.cpu_count() or 1) // workers)


@contextlib.contextmanager
def worker_environment(workers: int) -> Iterator[None]:
    """Spawned workers inherit the environment: Polars reads ``POLARS_MAX_THREADS`` (see
    :func:`worker_threads`) and appends ``_RJEM_MALLOC_CONF`` to its defaults when it is imported, so
    settings given here win there (the parent's thread pool and allocator are already set up); glibc
    reads :data:`WORKER_MALLOC` when the process starts (a value the user set is kept)."""
    allocator = os.environ.get("_RJEM_MALLOC_CONF")
    settings = {
        "_RJEM_MALLOC_CONF": f"{allocator},{WORKER_ALLOCATOR}" if allocator else WORKER_ALLOCATOR,
        "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS") or str(worker_threads(workers)),
        **{name: os.environ.get(name) or value for name, value in WORKER_MALLOC.items()},
    }
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
