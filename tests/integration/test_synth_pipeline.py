"""The synthetic-region pipeline end to end: arguments, files, schema, determinism, the command."""

from __future__ import annotations

import doctest
import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from yibao import ids, workers
from yibao.dataset.io import arrow_schema, polars_schema, read_table
from yibao.dataset.schema import TABLES
from yibao.synth import generate
from yibao.synth.cli import synth_command
from yibao.synth.generate import CHUNK_TABLES, REGION_TABLES, SynthError, synthesize
from yibao.synth.report import calibration_report

pytestmark = pytest.mark.integration

PERSONS = 2_000
CHUNK = 700  # three chunks, the last one short
DATA_TABLES = (*REGION_TABLES, *CHUNK_TABLES, "labels", "setl_d")


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("synth") / "w1"
    return out, synthesize(persons=PERSONS, seed=7, out=out, chunk_size=CHUNK, workers=1)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("synth") / "w2"
    return out, synthesize(persons=PERSONS, seed=7, out=out, chunk_size=CHUNK, workers=2)


# --- arguments -----------------------------------------------------------------------------------


def test_doctests_pass() -> None:
    from yibao.synth import cli

    for module in (generate, cli):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


BAD = [
    ({"persons": -1}, "persons"),
    ({"persons": 0}, "persons"),
    ({"persons": 2.5}, "persons"),
    ({"persons": True}, "persons"),
    ({"seed": -3}, "seed"),
    ({"year": 2023}, "year"),
    ({"fraud": -0.1}, "fraud"),
    ({"fraud": 0.9}, "fraud"),
    ({"fraud": math.nan}, "fraud"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"chunk_size": 500_000}, "chunk_size"),
    ({"persons": 1_000_000, "chunk_size": 1_000}, "chunk_size"),
    ({"workers": 0}, "workers"),
]


@pytest.mark.parametrize(
    ("change", "field"), BAD, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c, _ in BAD]
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    out = tmp_path / "region"
    kwargs: dict[str, Any] = {"persons": 100, "seed": 1, "out": out, **change}
    with pytest.raises(SynthError) as e:
        synthesize(**kwargs)
    assert e.value.field == field
    assert not out.exists()


def test_an_output_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out in (blocker, blocker / "inside"):
        with pytest.raises(SynthError, match="out:"):
            synthesize(persons=100, seed=1, out=out)
    assert blocker.read_text() == "x"


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs a Linux /proc")
def test_an_unwritable_folder_is_refused_even_for_root() -> None:
    with pytest.raises(SynthError, match="not writable"):
        synthesize(persons=100, seed=1, out=Path("/proc/yibao-synth-test"))


def test_the_command_prints_a_clear_error_and_exits_2(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("synth")(synth_command)
    out = tmp_path / "region"
    result = CliRunner().invoke(app, ["--persons", "100", "--year", "2019", "--out", str(out)])
    assert result.exit_code == 2
    assert "error: year: no calibration targets for 2019" in result.output
    assert not out.exists()


# --- the dataset -----------------------------------------------------------------------------------


def test_every_table_is_written_with_the_schema(one_worker: tuple[Path, dict[str, Any]]) -> None:
    out, manifest = one_worker
    for name in DATA_TABLES:
        schema = pq.read_schema(out / f"{name}.parquet")
        assert schema.names == list(TABLES[name].names), name
        for got, want in zip(schema, arrow_schema(TABLES[name]), strict=True):
            if pa.types.is_timestamp(want.type):  # Parquet has no second unit: stored as ms
                assert pa.types.is_timestamp(got.type), (name, got.name)
            else:
                assert got.type == want.type, (name, got.name)
        frame = read_table(out, name)
        assert dict(frame.schema) == polars_schema(TABLES[name])
        assert frame.height == manifest["counts"][name], name
    assert manifest["counts"]["psn_info_b"] == PERSONS
    assert (
        min(manifest["counts"][t] for t in ("mdtrt_d", "fee_list_d", "drug_trac_d", "labels", "setl_d")) > 0
    )


def test_ids_are_unique_across_chunks(one_worker: tuple[Path, dict[str, Any]]) -> None:
    out, _ = one_worker
    psn = read_table(out, "psn_info_b")
    assert psn["psn_no"].n_unique() == psn.height
    assert psn["certno"].n_unique() == psn.height
    for certno in psn["certno"].to_list():
        ids.validate_certno(certno)
    for table, key in (("mdtrt_d", "mdtrt_id"), ("fee_list_d", "feedetl_sn"), ("setl_d", "setl_id")):
        col = read_table(out, table, [key])[key]
        assert col.n_unique() == col.len(), table


def test_records_refer_to_the_register_and_the_institutions(one_worker: tuple[Path, dict[str, Any]]) -> None:
    out, _ = one_worker
    persons = set(read_table(out, "psn_info_b", ["psn_no"])["psn_no"].to_list())
    units = set(read_table(out, "fixmedins_b", ["fixmedins_code"])["fixmedins_code"].to_list())
    employers = set(read_table(out, "emp_b", ["emp_no"])["emp_no"].to_list())
    mdtrt = read_table(out, "mdtrt_d", ["psn_no", "fixmedins_code"])
    assert set(mdtrt["psn_no"].to_list()) <= persons
    assert set(mdtrt["fixmedins_code"].to_list()) <= units
    assert set(read_table(out, "contribution_d", ["psn_no"])["psn_no"].to_list()) <= persons
    assert {e for e in read_table(out, "psn_info_b", ["emp_no"])["emp_no"].to_list() if e} <= employers
    labels = read_table(out, "labels")
    assert {p for p in labels["psn_no"].to_list() if p} <= persons
    assert {f for f in labels["fixmedins_code"].to_list() if f} <= units
    assert set(labels["label"].unique().to_list()) <= {"0", "1"}


def test_manifest_holds_seed_scale_counts_and_the_bulletin_comparison(
    one_worker: tuple[Path, dict[str, Any]],
) -> None:
    out, returned = one_worker
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 7
    assert manifest["scale"] == {"persons": PERSONS, "chunks": 3, "chunk_size": CHUNK}
    assert manifest["parameters"]["year"] == 2024 and manifest["parameters"]["fraud"] == 0.02
    assert manifest["counts"] == returned["counts"]
    assert manifest["settlement"]["settlements"] == manifest["counts"]["setl_d"]
    timings = manifest["timings"]
    assert set(timings["stage_cpu_s"]) == {"persons", "care", "fraud", "report", "hand_over", "settle", "write"}
    assert manifest["settlement"]["cpu_s"] == timings["stage_cpu_s"]["settle"]
    assert timings["generate_cpu_s"] >= sum(timings["stage_cpu_s"].values()) - 0.5  # the stages are in it
    assert 0.85 < manifest["contributions"]["employee_income_ratio"] < 1.15
    assert 0.85 < manifest["contributions"]["resident_income_ratio"] < 1.15
    rows = {r["name"]: r for r in manifest["population"]["rows"]}
    assert rows["employee.in_service_per_retired"]["within"]
    assert isinstance(manifest["calibration"], list) and manifest["calibration"]
    names = {r["name"] for r in generate.report_rows(manifest)}
    assert {
        "employee.inpatient_per_insured",
        "employee.fund_income_per_insured",
        "deaths_per_insured",
    } <= names


def test_the_manifests_calibration_added_up_in_the_chunks_is_the_report_of_the_files(
    one_worker: tuple[Path, dict[str, Any]],
) -> None:
    out, manifest = one_worker
    assert manifest["calibration"] == calibration_report(out, exclude_fraud=True)
    assert manifest["calibration_with_fraud"] == calibration_report(out)
    assert manifest["calibration"] != manifest["calibration_with_fraud"]  # some fraud was labelled
    assert {"employee.inpatient_fund_ratio", "mix.amount.甲类"} <= {r["name"] for r in manifest["calibration"]}


def test_runs_are_byte_identical_whatever_the_workers(
    one_worker: tuple[Path, dict[str, Any]], two_workers: tuple[Path, dict[str, Any]]
) -> None:
    a, b = _hashes(one_worker[0]), _hashes(two_workers[0])
    assert set(a) == {f"{t}.parquet" for t in DATA_TABLES}
    assert a == b
    for folder in (one_worker[0], two_workers[0]):  # the workers' hand-over files are gone
        assert not list(folder.glob(".parts-*")), folder


def _empty_care(
    rng: np.random.Generator, persons: pl.DataFrame, *args: Any, **kwargs: Any
) -> dict[str, pl.DataFrame]:
    return {t: pl.DataFrame(schema=polars_schema(TABLES[t])) for t in generate.CARE_TABLES}


def _no_fraud(
    rng: np.random.Generator, tables: dict[str, pl.DataFrame], **kwargs: Any
) -> tuple[Any, pl.DataFrame]:
    return tables, pl.DataFrame(schema=polars_schema(TABLES["labels"]))


def test_the_seed_changes_the_region_and_only_the_seed(tmp_path: Path) -> None:
    def run(seed: int, name: str) -> dict[str, str]:
        out = tmp_path / name
        synthesize(persons=1_500, seed=seed, out=out, chunk_size=500, workers=1, settle=False,
                   care=_empty_care, inject=_no_fraud)  # fmt: skip
        return _hashes(out)

    first, again, other = run(1, "a"), run(1, "b"), run(2, "c")
    assert first == again
    assert first["psn_info_b.parquet"] != other["psn_info_b.parquet"]


def test_the_command_writes_a_region_with_plain_progress_and_a_report(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("synth")(synth_command)
    out = tmp_path / "region"
    result = CliRunner().invoke(
        app,
        [
            "--persons",
            "400",
            "--seed",
            "3",
            "--out",
            str(out),
            "--chunk-size",
            "200",
            "--workers",
            "1",
            "--report",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "synth: persons 200/400" in result.output
    assert "wrote" in result.output and "calibration" in result.output
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["scale"]["persons"] == 400


def test_an_earlier_region_in_the_folder_is_replaced_but_other_files_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "region"
    out.mkdir()
    (out / "setl_d.parquet").write_bytes(b"stale")
    (out / "notes.txt").write_text("mine")
    (out / ".parts-killed").mkdir()  # the hand-over folder of a run that was killed
    (out / ".parts-killed" / "00000-fee_list_d.arrow").write_bytes(b"stale")
    synthesize(
        persons=300,
        seed=1,
        out=out,
        chunk_size=300,
        workers=1,
        settle=False,
        care=_empty_care,
        inject=_no_fraud,
    )
    assert not (out / "setl_d.parquet").exists()  # not made this time, and the old one is gone
    assert not (out / ".parts-killed").exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "psn_info_b.parquet").exists()


def _fraud_fails_in_chunk_1(
    rng: np.random.Generator, tables: dict[str, pl.DataFrame], *, chunk: int, **kwargs: Any
) -> tuple[Any, pl.DataFrame]:
    if chunk == 1:
        raise RuntimeError("injector broke")
    return _no_fraud(rng, tables)


def test_a_failing_chunk_stops_the_run_and_leaves_no_hand_over_files(tmp_path: Path) -> None:
    out = tmp_path / "region"
    with pytest.raises(RuntimeError, match="injector broke"):
        synthesize(persons=600, seed=1, out=out, chunk_size=200, workers=1, settle=False,
                   care=_empty_care, inject=_fraud_fails_in_chunk_1)  # fmt: skip
    assert not list(out.glob(".parts-*"))
    assert pq.read_metadata(out / "psn_info_b.parquet").num_rows == 200  # the chunk written before it


def test_workers_get_an_allocator_that_keeps_memory_and_the_parent_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("_RJEM_MALLOC_CONF", "dirty_decay_ms:500")
    with workers.worker_environment(2):  # what a worker spawned now inherits: ours last, so it wins
        assert os.environ["_RJEM_MALLOC_CONF"] == f"dirty_decay_ms:500,{workers.WORKER_ALLOCATOR}"
    assert os.environ["_RJEM_MALLOC_CONF"] == "dirty_decay_ms:500"
    monkeypatch.delenv("_RJEM_MALLOC_CONF")
    with workers.worker_environment(2):
        assert os.environ["_RJEM_MALLOC_CONF"] == workers.WORKER_ALLOCATOR
    assert "_RJEM_MALLOC_CONF" not in os.environ


def test_workers_share_the_cores_out_unless_the_caller_set_polars_threads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLARS_MAX_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    with workers.worker_environment(3):
        assert os.environ["POLARS_MAX_THREADS"] == "2"
    with workers.worker_environment(16):
        assert os.environ["POLARS_MAX_THREADS"] == "1"
    assert "POLARS_MAX_THREADS" not in os.environ
    monkeypatch.setenv("POLARS_MAX_THREADS", "4")
    with workers.worker_environment(2):
        assert os.environ["POLARS_MAX_THREADS"] == "4"
    assert os.environ["POLARS_MAX_THREADS"] == "4"


def test_the_year_settled_in_the_chunk_workers_is_the_file_settle_year_writes(
    two_workers: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """synth settles each chunk where it was made; `yibao settle-year` on the finished dataset reads
    it back and splits it by household instead: the same setl_d, byte for byte, and no failures."""
    from yibao.settlement.batch import settle_year

    out, manifest = two_workers
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    (copy / "setl_d.parquet").unlink()
    result = settle_year(copy, workers=2, part_encounters=1_000)  # several rounds: the split path
    assert result.failed == manifest["settlement"]["failed"] == 0
    assert result.settlements == manifest["counts"]["setl_d"] == manifest["counts"]["mdtrt_d"]
    assert 0 < result.in_waves == manifest["settlement"]["in_waves"] <= result.settlements
    assert (copy / "setl_d.parquet").read_bytes() == (out / "setl_d.parquet").read_bytes()


def test_settling_in_waves_gives_the_engines_file_bill_by_bill(
    one_worker: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """A whole synthetic region — fraud, 家庭共济, waiting periods, assistance, caps — settled in waves
    and by the engine one bill at a time: the same setl_d, byte for byte."""
    from yibao.settlement.batch import settle_year

    out, _ = one_worker
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    settle_year(copy, workers=2, waves=False)
    assert (copy / "setl_d.parquet").read_bytes() == (out / "setl_d.parquet").read_bytes()

