"""``yibao drg group FILE``: CSV and Parquet in and out, progress, summary, clear errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from yibao.drg.cli import drg_app
from yibao.drg.tables import TablesMissing, load_tables

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "drg" / "cases.csv"


@pytest.fixture(scope="module", autouse=True)
def _tables() -> None:
    try:
        load_tables()
    except TablesMissing as e:
        pytest.skip(str(e))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(drg_app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_group_a_csv_file(tmp_path: Path) -> None:
    out = tmp_path / "grouped.csv"
    code, _, err = run("group", str(FIXTURE), "--out", str(out))
    assert code == 0, err
    df = pl.read_csv(out, infer_schema=False)
    src = pl.read_csv(FIXTURE, infer_schema=False)
    assert df.columns == [*src.columns, "status", "mdc", "adrg", "drg", "trace"]
    assert df.get_column("case_id").to_list() == src.get_column("case_id").to_list()
    assert df.get_column("status").to_list() == df.get_column("expect_status").to_list()
    assert df.get_column("drg").to_list() == df.get_column("expect_drg").to_list()
    assert all(t for t in df.get_column("trace").to_list())
    assert "cases/s" in err and "ok 6" in err and f"{src.height} cases" in err
    assert "grouped 12/12 cases" in err  # plain progress lines when not on a terminal


def test_parquet_in_and_out(tmp_path: Path) -> None:
    src = tmp_path / "cases.parquet"
    pl.read_csv(FIXTURE, infer_schema=False).write_parquet(src)
    out = tmp_path / "out" / "grouped.parquet"
    code, _, err = run("group", str(src), "--out", str(out))
    assert code == 0, err
    df = pl.read_parquet(out)
    assert df.get_column("drg").to_list() == df.get_column("expect_drg").to_list()


def test_typed_parquet_columns(tmp_path: Path) -> None:
    src = tmp_path / "typed.parquet"
    pl.DataFrame({"case_id": [1, 2], "gender": [1, 2], "age": [45, 0], "age_day": [None, 5], "weight": [None, 1700],
                  "diagnoses": ["K35.800x001", "P07.200"], "procedures": ["47.0901", None]}).write_parquet(src)  # fmt: skip
    out = tmp_path / "typed.csv"
    code, _, err = run("group", str(src), "--out", str(out))
    assert code == 0, err
    assert pl.read_csv(out).get_column("drg").to_list() == ["GD25", "PS25"]


def test_stdout_when_no_out() -> None:
    code, out, err = run("group", str(FIXTURE))
    assert code == 0, err
    assert out.splitlines()[0].endswith("status,mdc,adrg,drg,trace")
    assert len(out.splitlines()) >= 13


def test_missing_tables_say_where_to_get_them(tmp_path: Path) -> None:
    code, _, err = run("group", str(FIXTURE), "--tables", str(tmp_path / "none"))
    assert code == 2
    assert "OpenDRG/DRG_Rules" in err and "CHS_DRG_11" in err


def test_bad_input_files(tmp_path: Path) -> None:
    no_dx = tmp_path / "no_dx.csv"
    no_dx.write_text("case_id,age\n1,40\n", encoding="utf-8")
    code, _, err = run("group", str(no_dx))
    assert code == 2 and "no 'diagnoses' column" in err
    other = tmp_path / "cases.xlsx"
    other.write_text("x", encoding="utf-8")
    code, _, err = run("group", str(other))
    assert code == 2 and "expected a .csv or .parquet" in err
    code, _, _ = run("group", str(tmp_path / "missing.csv"))
    assert code == 2


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("case_id,gender,age,diagnoses,procedures\n", encoding="utf-8")
    code, _, err = run("group", str(empty))
    assert code == 0, err
    assert "0 cases" in err


def test_help() -> None:
    code, out, _ = run("group", "--help")
    assert code == 0 and "--tables" in out and "--out" in out
