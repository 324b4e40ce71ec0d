"""Read a settled dataset once into the frames the statistics need, and reduce settlements to a cube.

The **cube** is one pass over ``setl_d`` (joined to the register, the institutions, the encounters and
the fee lines summed per encounter), grouped by

- ``scheme`` — employee / resident / maternity / ltc / other, from ``insutype`` (:func:`yibao.codes.scheme`);
- ``kind`` — outpatient 普通门急诊, chronic 门诊慢特病, inpatient 住院, pharmacy 药店购药, ltc 长期护理, other
  (:func:`yibao.codes.visit_kind` of ``med_type``);
- ``level`` — "3" / "2" / "1" (一级及以下含未定级, :func:`yibao.codes.coarse_hosp_lv`), "-" for pharmacies;
- ``retired`` (psn_type 12xx / 13xx, the settlement's, else the register's), ``cross`` (异地: the person's ``insuplc_admdvs`` differs from the
  institution's ``admdvs``) and ``cross_prov`` (跨省: the first two digits differ);

with integer sums of every 2207 money field (fen) and counts. A **reversal** (``refd_setl_flag`` = "1")
is its own row with negated amounts: money is summed over all rows, so a reversed settlement nets out,
and person-times count +1 per normal row and −1 per reversal. Everything downstream is integer
arithmetic on this small table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from yibao import codes
from yibao.dataset.io import DatasetError, read_table, scan_table, table_path
from yibao.dataset.schema import SETLINFO_MONEY

__all__ = ["DRUG_CHRGITM", "KINDS", "LEVELS", "SCHEMES", "Frames", "load"]

SCHEMES = ("employee", "resident", "maternity", "ltc", "other")
KINDS = ("outpatient", "chronic", "inpatient", "pharmacy", "ltc", "other")
LEVELS = ("3", "2", "1", "-")
DRUG_CHRGITM = ("09", "10", "11")
"""med_chrgitm_type of drugs: 西药费, 中药饮片费, 中成药费 (药品费用占比)."""

def _scheme(insutype: str) -> str:
    try:
        return codes.scheme(insutype)
    except codes.CodeError:
        return "other"


def _kind(med_type: str) -> str:
    try:
        return codes.visit_kind(med_type)
    except codes.CodeError:
        return "other"


_SCHEME_OF = {code: _scheme(code) for code in codes.INSUTYPE}
_KIND_OF = {code: _kind(code) for code in codes.MED_TYPE}
_LEVEL_OF = {code: codes.coarse_hosp_lv(code) for code in (*codes.HOSP_LV, "1", "2", "3")}

_ENUMS = {"scheme": pl.Enum(SCHEMES), "kind": pl.Enum(KINDS), "level": pl.Enum(LEVELS)}

_SUMMED_MONEY = tuple(c for c in SETLINFO_MONEY if c not in ("balc", "act_pay_dedc", "hosp_part_amt"))
"""Money fields the statistics sum (``balc`` is a balance, not a flow)."""

MEASURES = (*_SUMMED_MONEY, "n", "mulaid_n", "maf_n", "los_days", "fee_fen", "drug_fen", "inscope_fen")
"""The cube's summed columns: the money fields, person-times, mutual-aid and assistance person-times,
inpatient days, fee-line totals and drug fee totals (fen), the in-catalogue base (fen)."""


@dataclass
class Frames:
    """What the statistics read from one dataset."""

    folder: Path
    year: int
    months: int
    first: date | None
    last: date | None
    region: str
    psn: pl.DataFrame
    emp: pl.DataFrame | None
    insu: pl.DataFrame | None
    inst: pl.DataFrame
    setl: pl.DataFrame
    contrib: pl.DataFrame
    cube: pl.DataFrame
    fee_lines: int
    findings: pl.DataFrame | None = None
    drg: pl.DataFrame | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    def cube_sum(self, column: str, **where: str | bool | tuple[str, ...]) -> int:
        """Σ ``column`` over the cube rows matching ``where`` (a value, or a tuple of allowed values)."""
        df = self.cube
        for k, v in where.items():
            df = df.filter(pl.col(k).is_in(list(v))) if isinstance(v, tuple) else df.filter(pl.col(k) == v)
        return int(df.get_column(column).sum() or 0)

    def distinct_persons(self, **where: str | bool | tuple[str, ...]) -> int:
        """Distinct persons with at least one settlement (net of reversals) matching ``where``."""
        df = self.setl
        for k, v in where.items():
            df = df.filter(pl.col(k).is_in(list(v))) if isinstance(v, tuple) else df.filter(pl.col(k) == v)
        per = df.group_by("psn_no").agg(pl.col("n").sum())
        return int((per.get_column("n") > 0).sum())


def _exists(folder: Path, name: str) -> bool:
    try:
        table_path(folder, name)
    except DatasetError:
        return False
    return True


def _optional(folder: Path, name: str, columns: list[str] | None = None) -> pl.DataFrame | None:
    return _read(folder, name, columns) if _exists(folder, name) else None


def _read(folder: Path, name: str, columns: list[str] | None = None) -> pl.DataFrame:
    return _scan(folder, name, columns).collect()


def _scan(folder: Path, name: str, columns: list[str] | None = None) -> pl.LazyFrame:
    return scan_table(folder, name, columns)


def load(dataset: Path | str, *, extra: Path | str | None = None, months: int | None = None) -> Frames:
    """Read ``dataset`` (and optional tables such as ``findings`` from ``extra``, e.g. the out folder)."""
    folder = Path(dataset)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a dataset folder")
    manifest: dict[str, Any] = {}
    if (folder / "manifest.json").exists():
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            manifest = {}
    psn = _read(folder, "psn_info_b", ["psn_no", "insutype", "psn_type", "insuplc_admdvs", "emp_no", "psn_idet_type"])
    emp = _optional(folder, "emp_b", ["emp_no", "emp_type"])
    insu = _optional(folder, "psn_insu_d", ["psn_no", "insutype", "begndate", "enddate"])
    inst = _read(folder, "fixmedins_b", ["fixmedins_code", "fixmedins_type", "hosp_lv", "admdvs"])
    contrib = _read(folder, "contribution_d", ["psn_no", "insutype", "clct_month", "clct_type", "amount", "to_account"])
    setl_scan = _scan(
        folder, "setl_d",
        ["mdtrt_id", "psn_no", "fixmedins_code", "setl_time", "insutype", "psn_type", "med_type", "hosp_lv",
         *_SUMMED_MONEY, "refd_setl_flag"],
    )  # fmt: skip
    stays = (
        _scan(folder, "mdtrt_d", ["mdtrt_id", "med_type", "begntime", "endtime"])
        .filter(pl.col("med_type").replace_strict(_KIND_OF, default="other", return_dtype=pl.String) == "inpatient")
        .select("mdtrt_id", "begntime", "endtime")
    )
    fee_lines = 0
    fee_agg: pl.LazyFrame | None = None
    if _exists(folder, "fee_list_d"):  # fee lines summed per encounter: all, and drugs
        fee = _scan(folder, "fee_list_d", ["mdtrt_id", "med_chrgitm_type", "det_item_fee_sumamt"])
        amount = pl.col("det_item_fee_sumamt")
        fee_agg = fee.group_by("mdtrt_id").agg(
            amount.sum().alias("fee_fen"),
            pl.when(pl.col("med_chrgitm_type").is_in(DRUG_CHRGITM)).then(amount).otherwise(0).sum().alias("drug_fen"),
        )
    setl = _enrich(setl_scan.collect(), psn, inst, stays, fee_agg)
    if fee_agg is not None:
        fee_lines = _count_rows(folder, "fee_list_d")

    times = setl.get_column("setl_time").drop_nulls()
    if times.len():
        year = int(times.dt.year().mode().sort()[0])
        in_year = times.filter(times.dt.year() == year)
        first, last = in_year.min(), in_year.max()
        assert first is not None and last is not None
        first_d, last_d = first.date(), last.date()  # type: ignore[union-attr]
        span = last_d.month - first_d.month + 1
    else:
        year = int(manifest.get("parameters", {}).get("year", date.today().year))
        first_d = last_d = None
        span = 12
    region = str(manifest.get("parameters", {}).get("admdvs") or _mode(psn.get_column("insuplc_admdvs")) or "990100")
    dims = ("scheme", "kind", "level", "retired", "cross", "cross_prov")
    cube = (
        setl.group_by(*dims).agg([pl.col(c).sum() for c in MEASURES])
        .sort(*dims).with_columns(pl.col("scheme", "kind", "level").cast(pl.String))
    )  # fmt: skip
    setl = setl.select("psn_no", "n", "scheme", "kind", "level", "maf_flag", "setl_time").with_columns(
        pl.col("scheme", "kind", "level").cast(pl.String)
    )

    extra_folder = Path(extra) if extra is not None else None
    findings = None
    for place in (folder, extra_folder):
        if place is not None and findings is None and _exists(place, "findings"):
            findings = _read(place, "findings", ["rule_id", "rule_name", "pattern", "sev_deg", "vola_amt",
                                                       "fixmedins_code", "psn_no", "mdtrt_id"])  # fmt: skip
    drg = None
    for place in (folder, extra_folder):
        if place is not None and drg is None and (place / "drg_settlement.parquet").exists():
            drg = pl.read_parquet(place / "drg_settlement.parquet")
    return Frames(
        folder=folder, year=year, months=months or span, first=first_d, last=last_d, region=region, psn=psn, emp=emp,
        insu=insu, inst=inst, setl=setl, contrib=contrib, cube=cube, fee_lines=fee_lines, findings=findings, drg=drg,
        manifest=manifest,
    )  # fmt: skip


def _mode(s: pl.Series) -> str | None:
    s = s.drop_nulls().filter(s.drop_nulls() != "")
    return str(s.mode().sort()[0]) if s.len() else None


def _count_rows(folder: Path, name: str) -> int:
    path = table_path(folder, name)
    if path.suffix == ".parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    return read_table(folder, name, ["feedetl_sn"]).height


def _lookup(keys: pl.Series, table: pl.DataFrame | pl.LazyFrame, key: str, values: list[str]) -> pl.DataFrame:
    """``values`` of ``table`` for each of ``keys`` (nulls where absent), row for row: a narrow left join,
    so the wide settlement frame is never copied by a join."""
    right = table.lazy().select(key, *values)
    left = keys.alias(key).to_frame().lazy()
    out = left.join(right, on=key, how="left", maintain_order="left").select(values).collect()
    if out.height != keys.len():  # duplicate keys on the right: keep the first
        out = left.join(right.unique(subset=key, keep="first", maintain_order=True), on=key, how="left",
                        maintain_order="left").select(values).collect()  # fmt: skip
    return out


def _enrich(
    setl: pl.DataFrame, psn: pl.DataFrame, inst: pl.DataFrame, stays: pl.LazyFrame, fee: pl.LazyFrame | None
) -> pl.DataFrame:
    inst_of = {
        col: dict(zip(inst.get_column("fixmedins_code").to_list(), inst.get_column(col).fill_null("").to_list(), strict=True))
        for col in ("fixmedins_type", "hosp_lv", "admdvs")
    }
    code = pl.col("fixmedins_code")
    person = _lookup(setl.get_column("psn_no"), psn, "psn_no", ["insuplc_admdvs", "psn_type"])
    home = person.get_column("insuplc_admdvs")
    days = (pl.col("endtime").dt.date() - pl.col("begntime").dt.date()).dt.total_days()
    stay_table = stays.select("mdtrt_id", pl.max_horizontal(days, pl.lit(1)).cast(pl.Int64).alias("stay"))
    extra = [home.fill_null("").alias("home"), person.get_column("psn_type").fill_null("").alias("psn_type_register")]
    if fee is not None:  # one lookup per encounter: its fee lines and, for a stay, its days
        per_encounter = fee.join(stay_table, on="mdtrt_id", how="full", coalesce=True)
        found = _lookup(setl.get_column("mdtrt_id"), per_encounter, "mdtrt_id", ["fee_fen", "drug_fen", "stay"])
        extra += [found.get_column(c) for c in ("fee_fen", "drug_fen", "stay")]
    else:
        extra.append(_lookup(setl.get_column("mdtrt_id"), stay_table, "mdtrt_id", ["stay"]).get_column("stay"))
        extra += [pl.Series("fee_fen", [0] * setl.height, pl.Int64), pl.Series("drug_fen", [0] * setl.height, pl.Int64)]
    df = setl.with_columns(extra).with_columns(
        code.replace_strict(inst_of["fixmedins_type"], default="", return_dtype=pl.String).alias("inst_type"),
        code.replace_strict(inst_of["hosp_lv"], default="", return_dtype=pl.String).alias("inst_lv"),
        code.replace_strict(inst_of["admdvs"], default="", return_dtype=pl.String).alias("inst_admdvs"),
    )
    sign = pl.when(pl.col("refd_setl_flag") == "1").then(-1).otherwise(1).cast(pl.Int64)
    kind = pl.col("med_type").replace_strict(_KIND_OF, default="other", return_dtype=pl.String)
    lv_raw = pl.when(pl.col("hosp_lv").fill_null("") != "").then(pl.col("hosp_lv")).otherwise(pl.col("inst_lv"))
    level = (
        pl.when((kind == "pharmacy") | (pl.col("inst_type") == "2"))
        .then(pl.lit("-"))
        .otherwise(lv_raw.replace_strict(_LEVEL_OF, default="1", return_dtype=pl.String))
    )
    here = pl.col("home")
    there = pl.col("inst_admdvs")
    n = pl.col("n")
    # fee lines belong to the encounter: each settlement row carries them with its sign, so an encounter
    # settled, reversed and settled again counts them once, and a reversed one not at all (as its money)
    return df.with_columns(
        sign.alias("n"),
        pl.col("insutype").replace_strict(_SCHEME_OF, default="other", return_dtype=pl.String).cast(_ENUMS["scheme"]).alias("scheme"),
        kind.cast(_ENUMS["kind"]).alias("kind"),
        level.cast(_ENUMS["level"]).alias("level"),
        pl.when(pl.col("psn_type").fill_null("") != "").then(pl.col("psn_type")).otherwise(pl.col("psn_type_register"))
        .str.slice(0, 2).is_in(["12", "13"]).alias("retired"),
        ((here != "") & (there != "") & (here != there)).alias("cross"),
        ((here != "") & (there != "") & (here.str.slice(0, 2) != there.str.slice(0, 2))).alias("cross_prov"),
    ).with_columns(
        (n * (pl.col("acct_mulaid_pay") != 0).cast(pl.Int64)).alias("mulaid_n"),
        (n * (pl.col("maf_pay") != 0).cast(pl.Int64)).alias("maf_n"),
        (pl.col("maf_pay") != 0).alias("maf_flag"),
        pl.when(pl.col("kind") == "inpatient").then(n * pl.col("stay").fill_null(1)).otherwise(0).alias("los_days"),
        (n * pl.col("fee_fen").fill_null(0)).alias("fee_fen"),
        (n * pl.col("drug_fen").fill_null(0)).alias("drug_fen"),
        (pl.col("medfee_sumamt") - pl.col("fulamt_ownpay_amt") - pl.col("overlmt_selfpay")).alias("inscope_fen"),
    )
