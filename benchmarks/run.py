"""`make bench`: every performance figure of yibao, printed as one JSON object.

Figures (one core, this process):
- engine_outpatient_10_lines_per_s: ten-line outpatient bills settled per second (target ≥ 20,000)
- engine_inpatient_100_lines_per_s: hundred-line inpatient bills settled per second (target ≥ 2,000)
- policy_load_ms: loading and validating the 990100 region pack, cold (target < 200 ms)
- catalog_load_ms: loading the starter catalogue CSV, cold
- the figures of benchmarks/drg.py (grouping) and benchmarks/synth.py (synthetic region, settle-year)
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from yibao.catalog.loader import default_catalog, load_catalog
from yibao.catalog.model import Catalog
from yibao.money import round_div
from yibao.policy.loader import load_region
from yibao.settlement.engine import settle
from yibao.settlement.model import FEN_PER_PRICE_COUNT, Accumulators, Encounter, FeeLine, Person


def _best_of(n: int, fn: object) -> float:
    assert callable(fn)
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _bills(
    catalog: Catalog, n: int, lines: int, med_type: str, seed: int
) -> list[tuple[Encounter, Person, date]]:
    """Bills drawn from the catalogue's items (payable ones, so restrictions do not dominate)."""
    rng = random.Random(seed)
    items = [i for i in catalog.items() if i.restriction.is_empty and i.enddate is None]
    persons = [
        Person("310", "1101", 40, "1", None, acct_balance=150000),
        Person("310", "1201", 70, "2", None, acct_balance=300000),
        Person("390", "1501", 55, "2", None),
        Person("390", "1402", 6, "1", "dibao"),
    ]
    start = date(2025, 1, 1)
    out = []
    for _ in range(n):
        fee = []
        for j in range(lines):
            item = rng.choice(items)
            pric = rng.randrange(1_000000, 300_000000, 10000)
            cnt = rng.randrange(1, 5) * 10000
            fee.append(
                FeeLine(str(j + 1), item.med_list_codg, pric, cnt, round_div(pric * cnt, FEN_PER_PRICE_COUNT))
            )
        out.append(
            (
                Encounter(med_type, rng.choice("123"), tuple(fee)),
                rng.choice(persons),
                start + timedelta(rng.randrange(365)),
            )
        )
    return out


def _rate(bills: list[tuple[Encounter, Person, date]], catalog: Catalog) -> float:
    policy = load_region("990100")
    ytd = Accumulators()

    def run() -> None:
        for enc, person, on in bills:
            settle(enc, person, ytd, policy, on, catalog=catalog)

    run()  # warm the plan cache, as a running server would be
    return len(bills) / _best_of(3, run)


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    catalog = default_catalog()

    t = time.perf_counter()
    load_region(root / "policy_data" / "regions" / "990100", cache=False)
    policy_ms = (time.perf_counter() - t) * 1000
    csv = root / "src" / "yibao" / "catalog" / "data" / "starter_catalog.csv"
    t = time.perf_counter()
    load_catalog(csv)
    catalog_ms = (time.perf_counter() - t) * 1000

    figures: dict[str, object] = {
        "engine_outpatient_10_lines_per_s": round(_rate(_bills(catalog, 4000, 10, "11", 1), catalog)),
        "engine_inpatient_100_lines_per_s": round(_rate(_bills(catalog, 500, 100, "21", 2), catalog)),
        "policy_load_ms": round(policy_ms, 2),
        "catalog_load_ms": round(catalog_ms, 2),
        "catalog_items": len(catalog),
    }
    for module in ("drg", "online", "synth", "audit", "stats"):  # benchmarks/<module>.py, each with figures() -> dict
        spec = importlib.util.spec_from_file_location(
            f"bench_{module}", Path(__file__).with_name(f"{module}.py")
        )
        if spec is None or spec.loader is None or not Path(spec.origin or "").exists():
            continue
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        print(f"bench: {module} …", file=sys.stderr, flush=True)
        figures.update(bench.figures())
    json.dump(figures, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
