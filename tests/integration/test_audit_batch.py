"""The batch audit over a small dataset folder: views, skipped models, deduplicated findings, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from yibao.catalog.loader import default_catalog
from yibao.dataset.io import DatasetError, read_table, write_table
from yibao.supervision.audit import audit, connect, finish, register_dataset
from yibao.supervision.models import MODELS
from yibao.synth.fraud import inject
from yibao.synth.fraud.sample import sample_region

pytestmark = pytest.mark.integration

MODEL_IDS = [m.id for m in MODELS]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample region with every pattern injected, written as a dataset folder (labels included)."""
    folder = tmp_path_factory.mktemp("region")
    cat = default_catalog()
    tables = sample_region(3, persons=500, catalog=cat)
    tables, labels = inject(np.random.default_rng(3), tables, rate=0.05, catalog=cat, year=2024, chunk=0)
    for name, df in tables.items():
        write_table(folder, name, df)
    write_table(folder, "labels", labels)
    return folder


def test_a_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such dataset folder"):
        audit(tmp_path / "nowhere", tmp_path / "out")


def test_a_folder_without_tables_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(DatasetError, match="no dataset tables"):
        register_dataset(connect(threads=1), tmp_path)


def test_views_hold_money_as_exact_fen(dataset: Path) -> None:
    con = connect(threads=1)
    reg = register_dataset(con, dataset)
    assert "labels" not in reg.columns  # detectors never see the labels
    fen = con.execute("SELECT SUM(det_item_fee_sumamt), SUM(cnt), SUM(pric) FROM fee_list_d").fetchall()[0]
    frame = read_table(dataset, "fee_list_d", ["det_item_fee_sumamt", "cnt", "pric"])
    assert fen == tuple(int(frame[c].sum()) for c in ("det_item_fee_sumamt", "cnt", "pric"))
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'fee_list_d'").fetchall())  # fmt: skip
    assert types["det_item_fee_sumamt"] == "BIGINT" and types["fee_ocur_time"] == "TIMESTAMP"


def test_the_models_find_their_patterns_and_write_findings(dataset: Path, tmp_path: Path) -> None:
    said: list[str] = []
    result = audit(dataset, tmp_path, rules=MODEL_IDS, progress=lambda m, d, t: said.append(f"{d}/{t} {m}"))
    assert [c.id for c in result.checks] == MODEL_IDS and not result.failed
    assert len(said) == len(MODEL_IDS) and said[-1].startswith(f"{len(MODEL_IDS)}/{len(MODEL_IDS)} M-DOCTOR")
    found = read_table(tmp_path, "findings")
    assert found.height == result.findings > 0
    assert found["jr_id"].n_unique() == found.height
    for pattern in ("split_admission", "ghost_bed", "fake_admission", "card_cashout", "overlap_stay"):
        assert result.by_pattern.get(pattern, 0) > 0, pattern
    assert (found["vola_cont"].str.len_chars() > 10).all()
    assert all(isinstance(json.loads(e), dict) for e in found["evidence"].to_list())
    summary = json.loads((tmp_path / "audit.json").read_text(encoding="utf-8"))
    assert summary["findings"] == found.height and len(summary["checks"]) == len(MODEL_IDS)


def test_swaps_upcoding_and_repeats_past_a_limit_are_found_and_explained(
    dataset: Path, tmp_path: Path
) -> None:
    from yibao.supervision.evaluate import evaluate

    rules = ["R-FREQ-01", "R-QTY-01", "R-QTY-02", "R-SWAP-02", "R-CC-01", "R-STENT-01", "R-STENT-02"]
    audit(dataset, tmp_path, rules=rules, report=False)
    found = read_table(tmp_path, "findings")
    labels = read_table(dataset, "labels")
    table = evaluate(found, labels).filter(pl.col("pattern").is_in(["frequency", "item_swap", "upcoding"]))
    assert table.height == 3
    for r in table.iter_rows(named=True):
        assert r["positives"] > 0 and r["recall"] == 1.0 and r["hard_negatives_flagged"] == 0, r
    assert table.filter(pl.col("pattern") != "frequency")["fp"].to_list() == [0, 0]
    for rule_id, cont in found.select(
        "rule_id", "vola_cont"
    ).iter_rows():  # who, when, what, how much, which rule
        assert rule_id in cont and "于 2024-" in cont and "元" in cont, cont
    upcoded = found.filter(pl.col("rule_id") == "R-CC-01").with_columns(
        pl.col("evidence").str.json_path_match(f"$.{k}").alias(k)
        for k in ("drg", "drg_without", "rw", "rw_without", "vola_amt_stas")
    )
    priced = upcoded.filter(pl.col("vola_amt_stas") == "2")
    dearer = pl.col("rw").cast(pl.Float64) > pl.col("rw_without").cast(pl.Float64)
    assert priced.filter(dearer).height > 0 and (priced.filter(dearer)["vola_amt"] > 0).all()  # what it adds
    assert (priced.filter(~dearer)["vola_amt"] == 0).all()  # the same group, or a cheaper one: nothing


def test_the_same_audit_gives_the_same_ids(dataset: Path, tmp_path: Path) -> None:
    a = audit(dataset, tmp_path / "a", rules=["M-SPLIT", "M-CASHOUT"])
    b = audit(dataset, tmp_path / "b", rules=["M-SPLIT", "M-CASHOUT"])
    ids_a = read_table(a.out, "findings").sort("jr_id")["jr_id"].to_list()
    assert ids_a == read_table(b.out, "findings").sort("jr_id")["jr_id"].to_list()


def test_missing_tables_and_columns_skip_the_models_that_need_them(dataset: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    partial.mkdir()
    for f in dataset.glob("*.parquet"):
        if f.stem not in ("setl_list_oprn_d", "labels"):
            (partial / f.name).write_bytes(f.read_bytes())
    mdtrt = pq.read_table(partial / "mdtrt_d.parquet").drop(["adm_bed"])  # a column gone
    pq.write_table(mdtrt, partial / "mdtrt_d.parquet")
    result = audit(partial, tmp_path / "out", rules=MODEL_IDS)
    assert any("missing tables" in p and "setl_list_oprn_d" in p for p in result.problems)
    assert any("mdtrt_d.parquet" in p and "adm_bed" in p for p in result.problems)
    skipped = {c.id: c.reason for c in result.skipped}
    assert "setl_list_oprn_d" in skipped["M-SPLIT"] and "mdtrt_d.adm_bed" in skipped["M-GHOST"]
    assert {c.id for c in result.checks if c.status == "ran"} >= {"M-FAKE", "M-CASHOUT", "M-DOCTOR"}


def test_a_rule_whose_register_is_absent_is_skipped_and_says_which(dataset: Path, tmp_path: Path) -> None:
    # R-DEPT-01 needs the departments (dept_b) and the doctors (medstaff_b) to know who ordered a line
    result = audit(dataset, tmp_path / "full", rules=["R-DEPT-01"], report=False)
    assert [(c.id, c.status) for c in result.checks] == [("R-DEPT-01", "ran")] and result.findings > 0
    partial = tmp_path / "partial"
    partial.mkdir()
    for f in dataset.glob("*.parquet"):
        if f.stem not in ("dept_b", "labels"):
            (partial / f.name).write_bytes(f.read_bytes())
    result = audit(partial, tmp_path / "out", rules=["R-DEPT-01"], report=False)
    assert [(c.id, c.status, c.reason) for c in result.checks] == [("R-DEPT-01", "skipped", "data absent: dept_b")]


def test_float_money_is_refused_by_name(dataset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "floaty"
    folder.mkdir()
    fee = pq.read_table(dataset / "fee_list_d.parquet")
    i = fee.schema.get_field_index("det_item_fee_sumamt")
    fee = fee.set_column(i, "det_item_fee_sumamt", fee.column(i).cast(pa.float64()))
    pq.write_table(fee, folder / "fee_list_d.parquet")
    reg = register_dataset(connect(threads=1), folder)
    assert any("det_item_fee_sumamt" in p and "exact" in p for p in reg.problems)
    assert "det_item_fee_sumamt" not in reg.columns["fee_list_d"]


def test_findings_keep_one_id_per_rule_and_entity() -> None:
    row = {"rule_id": "R-A", "pattern": "overprice", "feedetl_sn": "F1", "score": 1.0, "vola_amt": 10}
    frames = [
        pl.DataFrame([row, {**row, "vola_amt": 30}, {**row, "rule_id": "R-B"}]),
    ]
    from yibao.supervision.audit import _normalise

    normal = [_normalise(f, rule_id="", rule_name="", pattern="", sev_deg="1") for f in frames]
    out = finish(connect(threads=1), normal)
    assert out.select("rule_id", "vola_amt").sort("rule_id").rows() == [("R-A", 30), ("R-B", 10)]
    assert out["jr_id"].n_unique() == 2 and all(j.startswith("J") and len(j) == 20 for j in out["jr_id"])


def _app() -> typer.Typer:
    from yibao.supervision.cli import audit_command

    app = typer.Typer()
    app.command("audit")(audit_command)
    app.command("noop")(lambda: None)
    return app


def test_the_command_scores_against_labels_and_saves_the_table(dataset: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _app(),
        [
            "audit",
            str(dataset),
            "--out",
            str(tmp_path),
            "--labels",
            "--k",
            "10",
            "--rules",
            ",".join(MODEL_IDS),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| split_admission | model | encounter |" in result.output
    table = pl.read_parquet(tmp_path / "evaluation.parquet")
    assert set(table["k"]) == {10}
    assert (tmp_path / "evaluation.md").read_text(encoding="utf-8").startswith("# Detection against labels")


def test_the_command_names_a_missing_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["audit", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "no such dataset folder" in result.output


def test_csv_tables_are_read_exactly(dataset: Path, tmp_path: Path) -> None:
    fee = read_table(dataset, "fee_list_d").head(500)
    text = fee.with_columns(
        (pl.col("det_item_fee_sumamt") // 100).cast(pl.String)
        + "."
        + (pl.col("det_item_fee_sumamt") % 100).cast(pl.String).str.zfill(2),
        (pl.col("cnt") // 10_000).cast(pl.String)
        + "."
        + (pl.col("cnt") % 10_000).cast(pl.String).str.zfill(4),
        (pl.col("pric") // 1_000_000).cast(pl.String)
        + "."
        + (pl.col("pric") % 1_000_000).cast(pl.String).str.zfill(6),
    )
    text.write_csv(tmp_path / "fee_list_d.csv")
    con = connect(threads=1)
    reg = register_dataset(con, tmp_path)
    assert reg.columns["fee_list_d"] == tuple(fee.columns)
    got = con.execute(
        "SELECT SUM(det_item_fee_sumamt), SUM(cnt), SUM(pric), COUNT(*) FROM fee_list_d"
    ).fetchall()[0]
    assert got == (fee["det_item_fee_sumamt"].sum(), fee["cnt"].sum(), fee["pric"].sum(), 500)


def test_a_full_audit_runs_every_post_event_rule_and_model(dataset: Path, tmp_path: Path) -> None:
    from yibao.supervision.library import load_library

    post = [r.id for r in load_library().for_stage("事后")]
    result = audit(dataset, tmp_path, report=False)
    ran = [c.id for c in result.checks]
    assert ran == [*post, *MODEL_IDS]
    assert not result.failed, [(c.id, c.reason) for c in result.failed]
    assert all(c.reason.startswith("data absent") for c in result.skipped)
