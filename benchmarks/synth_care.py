"""Figures of the synthetic care generator (yibao.synth.care), printed as JSON.

- care_lines_per_cpu_s: fee lines made per CPU second by ``make_care`` on one chunk of persons (the
  per-core rate; target ≥ 400,000, so that the whole generator makes ≥ 500,000 lines/s on 2 cores);
- care_lines_per_s: the same per wall-clock second (lower when the machine is busy);
- encounters, fee_lines, trace_codes, diagnoses, procedures of the chunk;
- calibration: generated versus target (percent) of every CALIBRATED figure at this scale, from the
  written dataset through ``yibao.synth.report.calibration_report``, and the largest deviation.

Run: ``python benchmarks/synth_care.py [persons]`` (default 100,000).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from yibao.catalog.loader import default_catalog
from yibao.dataset.io import write_table
from yibao.synth.care import make_care
from yibao.synth.institutions import make_institutions
from yibao.synth.population import make_employers, make_persons
from yibao.synth.report import calibration_report
from yibao.synth.targets import CALIBRATED


def figures(persons: int = 100_000, *, calibrate: bool = True, seed: int = 2024) -> dict[str, Any]:
    """Speed and calibration of ``make_care`` on one chunk of ``persons``."""
    catalog = default_catalog()
    employers = make_employers(np.random.default_rng([seed, 2]), persons)
    register = make_persons(np.random.default_rng([seed, 0, 11]), persons, chunk=0, first_seq=0, year=2024,
                            employers=employers, admdvs="990100")  # fmt: skip
    institutions = make_institutions(np.random.default_rng([seed, 1]), persons)
    # warm the per-process caches (compiled catalogue, code book) as a worker would be after its first chunk
    make_care(np.random.default_rng(1), register["psn_info_b"].head(2_000), institutions, catalog, year=2024, chunk=1)
    wall, cpu = time.perf_counter(), time.process_time()
    care = make_care(np.random.default_rng([seed, 0, 12]), register["psn_info_b"], institutions, catalog, year=2024, chunk=0)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lines = care["fee_list_d"].height
    out: dict[str, Any] = {
        "persons": persons,
        "encounters": care["mdtrt_d"].height,
        "fee_lines": lines,
        "trace_codes": care["drug_trac_d"].height,
        "diagnoses": care["setl_list_diag_d"].height,
        "procedures": care["setl_list_oprn_d"].height,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "care_lines_per_s": round(lines / wall),
        "care_lines_per_cpu_s": round(lines / cpu),
    }
    if calibrate:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for name, frame in (*register.items(), *institutions.items(), ("emp_b", employers), *care.items()):
                write_table(folder, name, frame)
            rows = {r["name"]: r for r in calibration_report(folder, catalog=catalog)}
        deviations = {name: rows[name]["deviation"] for name in CALIBRATED if name in rows}
        out["calibration_deviation_pct"] = deviations
        out["calibration_max_abs_deviation_pct"] = max(abs(v) for v in deviations.values())
        out["derived_deviation_pct"] = {
            name: r["deviation"] for name, r in rows.items() if name not in CALIBRATED and r["deviation"] is not None
        }
    return out


def main() -> None:
    persons = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    json.dump(figures(persons), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
