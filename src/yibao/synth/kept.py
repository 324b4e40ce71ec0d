"""What a worker makes of its region once and keeps for the next chunk.

A worker is handed the region's institution tables (and the catalogue) once, so every chunk it makes
sees the same objects. What the chunk stages derive from them alone — lookup arrays of institutions,
departments and staff, every institution's price of every item, who is bad — costs in proportion to the
region (at 10,000,000 persons, 5,400 institutions and their staff), not to the chunk: made per chunk, it
makes a large region's chunks dearer than a small one's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_KEPT: dict[str, tuple[tuple[Any, ...], Any]] = {}


def of_region(name: str, inputs: tuple[Any, ...], build: Callable[[], T]) -> T:
    """``build()``, kept under ``name`` while ``inputs`` are the same objects (compared by identity, so
    they must not change in place: Polars frames and the compiled catalogue do not).

    >>> import polars as pl
    >>> frame = pl.DataFrame({"n": [1]})
    >>> of_region("doc", (frame,), lambda: [1]) is of_region("doc", (frame,), lambda: [2])
    True
    >>> of_region("doc", (pl.DataFrame({"n": [1]}),), lambda: [2])
    [2]
    """
    kept = _KEPT.get(name)
    if kept is None or len(kept[0]) != len(inputs) or any(a is not b for a, b in zip(kept[0], inputs, strict=True)):
        kept = _KEPT[name] = (inputs, build())
    return kept[1]
