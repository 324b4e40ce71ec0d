"""Fraud injection: every label is true to the data, and every pattern leaves the signal it claims."""

from __future__ import annotations

import itertools
import json
import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
import pytest

from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.catalog.trace import validate_trace_code
from yibao.codes import caty_code, caty_covers, coarse_hosp_lv
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.money import round_div
from yibao.supervision.audit import connect, register_frames
from yibao.supervision.kb import default_kb
from yibao.supervision.library import default_library, kind_module
from yibao.synth.fraud import PATTERNS, _module, assignments, inject, outpatient_load
from yibao.synth.fraud._base import (
    INPATIENT,
    Context,
    Pending,
    Serials,
    fee_amount,
    fee_amount_expr,
    product_prefix,
    update,
    visit_of,
)
from yibao.synth.fraud._legitimate import _WEEKS, _Beds, _Care, _Person, _place, _Supplies
from yibao.synth.fraud.check import VOCABULARY, check_labels
from yibao.synth.fraud.sample import sample_region

CARE = ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d", "fee_list_d", "drug_trac_d")
YEAR = 2024


def _inject(tables: dict[str, pl.DataFrame], *, rate: float = 0.05, chunk: int = 2, seed: int = 5) -> Any:
    return inject(np.random.default_rng([seed, chunk, 3]), tables, rate=rate, catalog=default_catalog(), year=YEAR, chunk=chunk)


@pytest.fixture(scope="module")
def clean() -> dict[str, pl.DataFrame]:
    return sample_region(11, persons=1500, year=YEAR, chunk=2)


@pytest.fixture(scope="module")
def injected(clean: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    return _inject(clean)


@pytest.fixture(scope="module")
def data(injected: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return injected[0]


@pytest.fixture(scope="module")
def labels(injected: tuple[dict[str, pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    return injected[1]


def _cases(labels: pl.DataFrame, pattern: str, label: str = "1") -> dict[str, pl.DataFrame]:
    sub = labels.filter((pl.col("pattern") == pattern) & (pl.col("label") == label))
    return {key[0]: part for key, part in sub.partition_by("case_id", as_dict=True).items()}


def _params(frame: pl.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(frame.item(0, "params"))
    return out


def _encounter(data: dict[str, pl.DataFrame], mdtrt_id: str) -> dict[str, Any]:
    return data["mdtrt_d"].filter(pl.col("mdtrt_id") == mdtrt_id).row(0, named=True)


# ---------------------------------------------------------------------------------------------
# The label table against the data
# ---------------------------------------------------------------------------------------------


def test_every_labelled_entity_exists_and_agrees_with_the_data(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    assert check_labels(data, labels) == []


def test_labels_have_the_schema_and_a_known_pattern(labels: pl.DataFrame) -> None:
    assert labels.schema == polars_schema(TABLES["labels"])
    assert set(labels.get_column("pattern").unique().to_list()) <= VOCABULARY
    assert set(labels.get_column("label").unique().to_list()) == {"0", "1"}
    assert labels.get_column("case_id").str.contains(r"^(C2|R)-").all()


def test_at_least_fourteen_patterns_are_injected_as_fraud(labels: pl.DataFrame) -> None:
    fraud = set(labels.filter(pl.col("label") == "1").get_column("pattern").unique().to_list())
    required = {
        "split_admission", "ghost_bed", "fake_admission", "drug_resale", "drug_swap", "card_cashout", "duplicate_charge",
        "overprice", "overdispense", "gender_age", "overlap_stay", "after_death", "identity_fraud", "doctor_outlier",
    }  # fmt: skip
    assert required <= fraud
    assert fraud == {_module(name).PATTERN for name in PATTERNS}  # phantom_stent is an item_swap injector


def test_the_hard_negatives_are_present(labels: pl.DataFrame) -> None:
    kinds = {
        (p, json.loads(params).get("kind"))
        for p, params in labels.filter(pl.col("label") == "0").select("pattern", "params").iter_rows()
    }
    for expected in (
        ("split_admission", "chemotherapy"),
        ("split_admission", "dialysis"),
        ("drug_resale", "return_and_resale"),
        ("overdispense", "long_prescription"),
        ("duplicate_charge", "bilateral_procedure"),
        ("card_cashout", "elderly_bulk"),
        ("card_cashout", "night_shift"),
        ("catalogue_scope", "consultation"),
    ):
        assert expected in kinds, expected
    assert {("split_admission", "second_eye_cataract"), ("split_admission", "staged_knee_replacement")} & kinds


def test_most_of_the_data_stays_clean(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    fraud_lines = labels.filter((pl.col("label") == "1") & (pl.col("feedetl_sn") != "")).get_column("feedetl_sn").n_unique()
    fraud_stays = labels.filter(pl.col("label") == "1").get_column("mdtrt_id").n_unique()
    assert fraud_lines < 0.15 * data["fee_list_d"].height
    assert fraud_stays < 0.2 * data["mdtrt_d"].height


# ---------------------------------------------------------------------------------------------
# Exact money, valid ids and codes, coherent tables
# ---------------------------------------------------------------------------------------------


def test_amounts_are_price_times_count_by_the_one_rounding_rule(data: dict[str, pl.DataFrame]) -> None:
    fee = data["fee_list_d"]
    expected = [round_div(p * c, 10**8) for p, c in fee.select("pric", "cnt").iter_rows()]
    assert fee.get_column("det_item_fee_sumamt").to_list() == expected
    assert fee.schema["pric"] == fee.schema["cnt"] == fee.schema["det_item_fee_sumamt"] == pl.Int64


def test_changes_of_differing_columns_apply_each_row_as_named_however_late_a_column_first_appears() -> None:
    # a moved line names its encounter and time only; a line cut in two (from the 151st on) also its count:
    # the count column is first seen after the first hundred rows, which a frame's schema guess reads
    fee = pl.DataFrame({"feedetl_sn": [f"F{i:03d}" for i in range(200)], "mdtrt_id": ["M0"] * 200, "cnt": [7] * 200})
    changes = [{"feedetl_sn": f"F{i:03d}", "mdtrt_id": "M1"} for i in range(150)]
    changes += [{"feedetl_sn": f"F{i:03d}", "mdtrt_id": "M2", "cnt": 3} for i in range(150, 200)]
    direct = update(fee, changes, "feedetl_sn")
    pending = Pending()
    pending.add("fee_list_d", changes, "feedetl_sn")
    deferred = pending.apply({"fee_list_d": fee})["fee_list_d"]
    for out in (direct, deferred):
        assert out.get_column("cnt").to_list() == [7] * 150 + [3] * 50
        assert out.get_column("mdtrt_id").to_list() == ["M1"] * 150 + ["M2"] * 50


def test_fee_amount_expression_matches_round_div_on_halves_and_negatives() -> None:
    pairs = [(5_000000, 1), (5_000000, -1), (15_000000, 3333), (1, 50_000_000), (-7_500000, 2), (123_456789, 12_3456)]
    frame = pl.DataFrame(pairs, schema={"p": pl.Int64, "c": pl.Int64}, orient="row")
    got = frame.select(fee_amount_expr(pl.col("p"), pl.col("c"))).to_series().to_list()
    assert got == [round_div(p * c, 10**8) for p, c in pairs] == [fee_amount(p, c) for p, c in pairs]


def test_ids_are_unique_and_never_look_like_identity_numbers(data: dict[str, pl.DataFrame]) -> None:
    for table, key in (("mdtrt_d", "mdtrt_id"), ("fee_list_d", "feedetl_sn")):
        ids = data[table].get_column(key)
        assert ids.n_unique() == ids.len(), table
        assert ids.str.contains(r"^[A-Za-z]").all()
        assert not ids.str.contains(r"^\d{17}[\dX]$").any()


def test_new_trace_codes_are_valid_and_carry_the_dispensed_products_prefix(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    codes = data["drug_trac_d"]
    assert codes.get_column("drug_trac_codg").str.contains(r"^8\d{19}$").all()
    assert all(validate_trace_code(c) is None for c in codes.get_column("drug_trac_codg").unique().to_list())
    swapped = set(labels.filter(pl.col("pattern").is_in(["drug_swap", "catalogue_scope"])).get_column("drug_trac_codg").to_list())
    honest = codes.filter(~pl.col("drug_trac_codg").is_in(list(swapped)))
    for code, med in honest.select("drug_trac_codg", "med_list_codg").unique().iter_rows():
        assert code[:7] == product_prefix(med), (code, med)


def test_a_batch_of_trace_codes_is_the_codes_made_one_by_one() -> None:
    drugs = ["XJ01CAW001A010010167184", "XA10BAY026A001010127690", "XJ01CAW001A010010167184", "D3", "D3", "D4"]
    one, many = Serials.injected(7), Serials.injected(7)
    for s in (one, many):  # both have made codes already
        s.code("D3"), s.code("XA10BAY026A001010127690")
    batch = many.codes(pl.Series(drugs * 50))
    assert batch.to_list() == [one.code(c) for c in drugs * 50]
    assert [many.code(c) for c in drugs] == [one.code(c) for c in drugs]  # and both count on alike
    assert many.codes(pl.Series([], dtype=pl.String)).to_list() == []


def test_a_batch_of_trace_codes_keeps_the_per_product_limit() -> None:
    with pytest.raises(ValueError, match="more than 2 new trace codes"):
        Serials(900_000_000, 2).codes(pl.Series(["D1", "D2", "D1", "D1"]))


def test_a_twins_person_keeps_the_year_window_and_a_childs_birthday() -> None:
    year = 2023  # not a leap year: a 29 February birthday is 1 March
    info = pl.DataFrame(
        {
            "psn_no": ["kid", "adult", "late"],
            "brdy": [date(2016, 2, 29), date(1960, 5, 1), None],
            "death_date": [None, date(2023, 6, 30), None],
        }
    )
    stay = {"psn_no": "kid", "med_type": "21", "begntime": datetime(2023, 3, 4, 9), "endtime": datetime(2023, 3, 9, 10)}
    tables = {"psn_info_b": info, "mdtrt_d": pl.DataFrame([stay])}
    dispensed = pl.DataFrame({"psn_no": ["kid"], "med_list_codg": ["D1"], "t": [19_500], "prd_days": [30]})
    care = _Care(tables, dispensed, year)
    epoch = date(1970, 1, 1).toordinal()
    kid, adult, late = (care.person(p) for p in ("kid", "adult", "late"))
    assert kid is not None and adult is not None and late is not None and care.person("nobody") is None
    assert (kid.lo, kid.hi, kid.born) == (date(2023, 1, 1).toordinal() - epoch, date(2023, 12, 31).toordinal() - epoch, date(2023, 3, 1).toordinal() - epoch)
    assert (adult.hi, adult.born) == (date(2023, 6, 30).toordinal() - epoch, -1)
    assert late.lo == kid.lo and late.born == -1 and len(late.a) == 0
    assert (kid.a.tolist(), kid.b.tolist(), kid.stay.tolist()) == ([19_420], [19_425], [True])
    supply = kid.supply("D1")
    assert supply is not None and (supply[0].tolist(), supply[1].tolist()) == ([19_500], [30])
    assert kid.supply("D2") is None and adult.supply("D1") is None


def test_every_line_belongs_to_an_encounter_of_its_person_and_institution(data: dict[str, pl.DataFrame]) -> None:
    fee = data["fee_list_d"].join(
        data["mdtrt_d"].select("mdtrt_id", pl.col("psn_no").alias("m_p"), pl.col("fixmedins_code").alias("m_i"),
                               "begntime", "endtime"),
        on="mdtrt_id", how="left",
    )  # fmt: skip
    assert fee.filter(pl.col("m_p").is_null()).height == 0
    assert fee.filter(pl.col("m_p") != pl.col("psn_no")).height == 0
    assert fee.filter(pl.col("m_i") != pl.col("fixmedins_code")).height == 0
    day = pl.col("fee_ocur_time").dt.date()
    outside = fee.filter((day < pl.col("begntime").dt.date()) | (day > pl.col("endtime").dt.date()))
    assert outside.height == 0, outside.head()
    with_lines = set(data["fee_list_d"].get_column("mdtrt_id").unique().to_list())
    assert set(data["mdtrt_d"].get_column("mdtrt_id").to_list()) <= with_lines, "an encounter without fee lines"
    trace = data["drug_trac_d"].join(data["fee_list_d"].select("feedetl_sn", pl.col("mdtrt_id").alias("f_m")), on="feedetl_sn", how="left")
    assert trace.filter(pl.col("f_m").is_null() | (pl.col("f_m") != pl.col("mdtrt_id"))).height == 0


def test_a_drug_line_has_a_trace_code_for_every_package(data: dict[str, pl.DataFrame]) -> None:
    sold = data["drug_trac_d"].filter(pl.col("retn_flag") == "0").group_by("feedetl_sn").len()
    lines = data["fee_list_d"].join(sold, on="feedetl_sn", how="inner")
    assert lines.filter(pl.col("len") != (pl.col("cnt") + 9999) // 10000).height == 0


def test_injection_keeps_the_schema_and_the_register(
    clean: dict[str, pl.DataFrame], data: dict[str, pl.DataFrame]
) -> None:
    assert set(data) == set(clean)
    for name in clean:
        assert data[name].schema == clean[name].schema, name
    for name in ("psn_info_b", "fixmedins_b", "medstaff_b", "dept_b", "psn_insu_d", "contribution_d", "emp_b"):
        assert data[name].equals(clean[name]), name


def test_nobody_is_in_two_places_at_once_except_the_overlap_cases(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    m = data["mdtrt_d"].select("mdtrt_id", "psn_no", "med_type", "begntime", "endtime")
    stays = m.filter(pl.col("med_type").map_elements(visit_of, return_dtype=pl.String) == INPATIENT)
    pairs = stays.join(m, on="psn_no", suffix="_o").filter(
        (pl.col("mdtrt_id") != pl.col("mdtrt_id_o"))
        & (pl.col("begntime_o").dt.date() > pl.col("begntime").dt.date())
        & (pl.col("begntime_o").dt.date() < pl.col("endtime").dt.date())
    )
    allowed = set(labels.filter((pl.col("pattern") == "overlap_stay") & (pl.col("label") == "1")).get_column("mdtrt_id").to_list())
    clash = pairs.filter(~(pl.col("mdtrt_id").is_in(list(allowed)) & pl.col("mdtrt_id_o").is_in(list(allowed))))
    assert clash.height == 0, clash.head()


def test_nobody_is_treated_after_death_except_the_after_death_cases(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    m = data["mdtrt_d"].join(data["psn_info_b"].select("psn_no", "death_date"), on="psn_no")
    late = m.filter(pl.col("death_date").is_not_null() & (pl.col("begntime").dt.date() > pl.col("death_date")))
    allowed = set(labels.filter((pl.col("pattern") == "after_death") & (pl.col("label") == "1")).get_column("mdtrt_id").to_list())
    assert set(late.get_column("mdtrt_id").to_list()) == allowed


def test_all_injected_care_stays_in_the_year(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    m = data["mdtrt_d"].join(labels.select("mdtrt_id").unique(), on="mdtrt_id", how="semi")
    assert m.height
    assert (m.get_column("begntime").dt.year() == YEAR).all()
    assert (m.get_column("endtime").dt.year() == YEAR).all()


# ---------------------------------------------------------------------------------------------
# The legitimate care stays what the generator made (yibao.synth.fraud._legitimate)
# ---------------------------------------------------------------------------------------------


def _kinds(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("med_type").map_elements(visit_of, return_dtype=pl.String).alias("kind"))


def _signatures(data: dict[str, pl.DataFrame], ids: list[str]) -> dict[str, tuple[Any, ...]]:
    """Per encounter: institution, med_type, length in days and its lines' (item, count, price), sorted."""
    m = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(ids))
    lines = data["fee_list_d"].filter(pl.col("mdtrt_id").is_in(ids))
    per: dict[str, list[tuple[str, int, int]]] = {}
    for mid, code, cnt, pric in lines.select("mdtrt_id", "med_list_codg", "cnt", "pric").iter_rows():
        per.setdefault(mid, []).append((code, cnt, pric))
    return {
        mid: (inst, med_type, (end.date() - begin.date()).days, tuple(sorted(per.get(mid, []))))
        for mid, inst, med_type, begin, end in m.select("mdtrt_id", "fixmedins_code", "med_type", "begntime", "endtime").iter_rows()
    }  # fmt: skip


def test_every_falsified_clean_encounter_keeps_its_legitimate_twin(
    clean: dict[str, pl.DataFrame], data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    # the report leaves out what a fraud label names: without a twin the region would lose that care
    fraud = set(labels.filter(pl.col("label") == "1").get_column("mdtrt_id").to_list())
    consumed = sorted(fraud & set(clean["mdtrt_d"].get_column("mdtrt_id").to_list()))
    twins = data["mdtrt_d"].filter(pl.col("mdtrt_id").str.contains("LG")).get_column("mdtrt_id").to_list()
    assert len(consumed) > 50 and len(twins) >= 0.95 * len(consumed)
    assert not set(twins) & set(labels.get_column("mdtrt_id").to_list())
    original = _signatures(clean, consumed)
    copy = _signatures(data, twins)
    assert Counter(copy.values()) <= Counter(original.values())  # each twin: a falsified encounter as generated
    # … of the same person, or of one of the same scheme, sex and year of birth
    info = data["psn_info_b"].select("psn_no", "insutype", "gend", pl.col("brdy").dt.year().alias("born"))
    kind_of = {r[0]: r[1:] for r in info.iter_rows()}
    person = dict(data["mdtrt_d"].select("mdtrt_id", "psn_no").iter_rows()) | dict(clean["mdtrt_d"].select("mdtrt_id", "psn_no").iter_rows())
    like: dict[tuple[Any, ...], set[tuple[Any, ...]]] = {}
    for mid, sig in original.items():
        like.setdefault(sig, set()).add(kind_of[person[mid]])
    assert all(kind_of[person[t]] in like[sig] for t, sig in copy.items())


def test_twins_look_like_no_readmission_and_no_early_refill(data: dict[str, pl.DataFrame]) -> None:
    m = _kinds(data["mdtrt_d"]).select("mdtrt_id", "psn_no", "kind", "begntime", "endtime")
    twins = m.filter(pl.col("mdtrt_id").str.contains("LG"))
    stays = m.filter(pl.col("kind") == INPATIENT)
    near = twins.filter(pl.col("kind") == INPATIENT).join(stays, on="psn_no", suffix="_o").filter(
        (pl.col("mdtrt_id") != pl.col("mdtrt_id_o"))
        & ((pl.col("begntime").dt.date() - pl.col("endtime_o").dt.date()).dt.total_days().abs() <= 15)
    )
    assert twins.filter(pl.col("kind") == INPATIENT).height and near.height == 0
    drugs = {i.med_list_codg for i in default_catalog().items() if i.list_type == "drug"}
    lines = (
        data["fee_list_d"].filter(pl.col("med_list_codg").is_in(list(drugs)) & (pl.col("prd_days") > 0))
        .join(m.filter(pl.col("kind") != INPATIENT).select("mdtrt_id"), on="mdtrt_id")
        .sort("psn_no", "med_list_codg", "fee_ocur_time", "mdtrt_id")
        .with_columns(
            pl.col("fee_ocur_time").shift(1).over("psn_no", "med_list_codg").alias("prev_t"),
            pl.col("prd_days").shift(1).over("psn_no", "med_list_codg").alias("prev_days"),
            pl.col("mdtrt_id").shift(1).over("psn_no", "med_list_codg").alias("prev_id"),
        )
        .filter(pl.col("prev_t").is_not_null())
        .with_columns((pl.col("fee_ocur_time").dt.date() - pl.col("prev_t").dt.date()).dt.total_days().alias("gap"))
    )  # fmt: skip
    around = lines.filter(pl.col("mdtrt_id").str.contains("LG") | pl.col("prev_id").str.contains("LG"))
    assert around.height
    assert around.filter(pl.col("gap") < 0.8 * pl.col("prev_days") - 1).height == 0


def test_a_dialysis_sessions_twin_keeps_the_timetable_or_is_not_made() -> None:
    # a patient on Mon/Wed/Fri all year: every same-weekday week is taken, other days would make a 4th session
    mondays = np.arange(date(2024, 1, 1).toordinal(), date(2024, 12, 31).toordinal(), 7) - date(1970, 1, 1).toordinal()
    days = np.sort(np.concatenate([mondays, mondays + 2, mondays + 4]))
    none = _Supplies()
    beds = _Beds(sample_region(1, persons=0)["mdtrt_d"])

    def place(weekday_only: bool) -> list[int]:
        p = _Person("P1", int(days[0]), int(days[-1]), -1, none)
        p.a, p.b, p.stay = days.copy(), days.copy(), np.zeros(len(days), dtype=np.bool_)
        row = ("M1", "P1", "H1", "", int(days[30]), int(days[30]), False, True)
        placed: list[Any] = []
        _place(np.random.default_rng(1), row, "P1", p, {}, beds, placed, {}, 0, _WEEKS, weekday_only=weekday_only)
        return [int(days[30]) + shift for _, _, _, shift, _ in placed]

    assert place(weekday_only=False)  # an ordinary visit goes to another, free, day …
    assert place(weekday_only=True) == []  # … a session does not


def test_new_look_alikes_take_the_place_of_similar_ordinary_encounters(
    clean: dict[str, pl.DataFrame], data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    named = labels.filter(pl.col("mdtrt_id") != "")
    fraud = set(named.filter(pl.col("label") == "1").get_column("mdtrt_id").to_list())
    before = set(clean["mdtrt_d"].get_column("mdtrt_id").to_list())
    after = set(data["mdtrt_d"].get_column("mdtrt_id").to_list())
    added = set(named.get_column("mdtrt_id").to_list()) - fraud - before
    removed = before - after
    assert len(added) > 20 and len(removed) == len(added)
    assert not removed & set(named.get_column("mdtrt_id").to_list())
    lv = {c: coarse_hosp_lv(v or None) for c, v in clean["fixmedins_b"].select("fixmedins_code", "hosp_lv").iter_rows()}

    def cells(frame: pl.DataFrame, ids: set[str]) -> Counter[tuple[str, str, str]]:
        rows = _kinds(frame.filter(pl.col("mdtrt_id").is_in(list(ids))))
        return Counter((i, k, lv[c]) for i, k, c in rows.select("insutype", "kind", "fixmedins_code").iter_rows())

    assert cells(clean["mdtrt_d"], removed) == cells(data["mdtrt_d"], added)


def test_the_unlabelled_care_keeps_its_volume_by_scheme_and_kind(
    clean: dict[str, pl.DataFrame], data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    fraud = labels.filter(pl.col("label") == "1").select("mdtrt_id").unique()
    kept = _kinds(data["mdtrt_d"].join(fraud, on="mdtrt_id", how="anti")).group_by("insutype", "kind").len()
    was = _kinds(clean["mdtrt_d"]).group_by("insutype", "kind").len()
    both = was.join(kept, on=["insutype", "kind"], suffix="_kept")
    assert both.height == was.height
    for ins, kind, n, n_kept in both.iter_rows():
        assert abs(n_kept - n) <= max(2, 0.01 * n), (ins, kind, n, n_kept)


# ---------------------------------------------------------------------------------------------
# Rate, determinism, chunks
# ---------------------------------------------------------------------------------------------


def test_rate_zero_changes_nothing_and_labels_nothing(clean: dict[str, pl.DataFrame]) -> None:
    out, labels = _inject(clean, rate=0.0)
    assert labels.height == 0
    assert labels.schema == polars_schema(TABLES["labels"])
    for name in clean:
        assert out[name].equals(clean[name]), name


def test_the_same_arguments_give_the_same_tables_and_labels(
    clean: dict[str, pl.DataFrame], injected: tuple[dict[str, pl.DataFrame], pl.DataFrame]
) -> None:
    again = _inject(clean)
    assert again[1].equals(injected[1])
    for name in CARE:
        assert again[0][name].equals(injected[0][name]), name


def test_another_seed_gives_other_cases(clean: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    _, other = _inject(clean, seed=6)
    assert not other.equals(labels)


def test_bad_institutions_are_the_same_in_every_chunk() -> None:
    a = sample_region(3, persons=500, chunk=0)
    b = sample_region(4, persons=500, chunk=1)
    plan = assignments(a, 0.05)
    assert plan == assignments(b, 0.05)
    (_, la), (_, lb) = _inject(a, chunk=0), _inject(b, chunk=1)
    for pattern in ("overprice", "item_swap", "card_cashout", "split_admission", "drug_swap", "ghost_bed"):
        bad = set().union(*(plan[name].institutions for name in PATTERNS if pattern == _module(name).PATTERN))
        for lab in (la, lb):
            where = lab.filter((pl.col("pattern") == pattern) & (pl.col("label") == "1")).get_column("fixmedins_code")
            assert set(where.to_list()) <= bad, pattern
    fewest = min(len(p.institutions) for name, p in plan.items() if name not in ("doctor_outlier",))
    assert fewest >= 1
    assert all(a.institutions == () for a in assignments(a, 0.0).values())


def test_a_bad_doctor_keeps_one_habit_in_every_chunk() -> None:
    a = sample_region(3, persons=800, chunk=0)
    b = sample_region(4, persons=800, chunk=1)
    habits: dict[str, set[str]] = {}
    chunks: dict[str, set[int]] = {}
    for chunk, tables in enumerate((a, b)):
        _, lab = _inject(tables, chunk=chunk, rate=0.1)
        rows = lab.filter((pl.col("pattern") == "doctor_outlier") & (pl.col("label") == "1"))
        for doctor, params in rows.select("doctor", "params").unique().iter_rows():
            habits.setdefault(doctor, set()).add(params)
            chunks.setdefault(doctor, set()).add(chunk)
    assert any(len(c) == 2 for c in chunks.values())
    for doctor, seen in habits.items():
        drugs = {json.loads(p).get("drug") for p in seen} - {None}
        factors = {json.loads(p).get("factor") for p in seen} - {None}
        assert len(drugs) <= 1 and len(factors) <= 1, (doctor, seen)


def test_a_bad_actors_habit_is_one_case_with_one_price_over_the_chunks() -> None:
    a = sample_region(3, persons=800, chunk=0)
    b = sample_region(4, persons=800, chunk=1)
    labels = pl.concat(
        _inject(tables, chunk=chunk, rate=0.1)[1].with_columns(pl.lit(chunk).alias("chunk"))
        for chunk, tables in enumerate((a, b))
    )
    yearly = labels.filter(pl.col("pattern").is_in(["doctor_outlier", "drug_swap", "overprice"]))
    assert yearly.height and yearly.filter(~pl.col("case_id").str.starts_with("R-")).height == 0
    spans = yearly.group_by("pattern", "case_id").agg(pl.col("chunk").n_unique(), pl.col("doctor").n_unique())
    assert spans.filter(pl.col("pattern") == "doctor_outlier").get_column("doctor").max() == 1
    assert spans.get_column("chunk").max() == 2  # a case both chunks add to
    for pattern, keys in (("drug_swap", ("dispensed", "billed")), ("overprice", ("variant", "pric"))):
        rows = yearly.filter(pl.col("pattern") == pattern)
        assert rows.height, pattern
        for case in rows.partition_by("case_id"):
            assert case.get_column("fixmedins_code").n_unique() == 1
            prices = {tuple(json.loads(p)[k] for k in keys) for p in case.get_column("params").unique().to_list()}
            assert len(prices) == 1, (pattern, prices)


def test_an_institution_swaps_the_same_drugs_in_every_chunk() -> None:
    # chosen among the drugs common at its kind of institution, not among the few one chunk of its lines
    # shows (other drugs in every chunk, and in a large region the commonest ones); only in its home chunk
    # may a drug of its own stand in, where it dispenses none of them
    n = 6
    dispensed: dict[str, set[str]] = {}
    for chunk in range(n):
        tables = sample_region(3 + chunk, persons=300, chunk=chunk)
        _, lab = inject(np.random.default_rng([5, chunk, 3]), tables, rate=0.1, catalog=default_catalog(), year=YEAR,
                        chunk=chunk, chunks=n)  # fmt: skip
        ctx = Context("drug_swap", 0, "DS", chunk=chunk, year=YEAR, rate=0.1, catalog=Catalog(), chunks=n)
        rows = lab.filter(pl.col("pattern") == "drug_swap")
        for inst, params in rows.select("fixmedins_code", "params").unique().iter_rows():
            if not ctx.home_chunk(inst):
                dispensed.setdefault(inst, set()).add(json.loads(params)["dispensed"])
    assert len(dispensed) >= 3
    assert all(len(drugs) <= 2 for drugs in dispensed.values()), dispensed


def test_bad_doctors_have_an_outpatient_practice() -> None:
    tables = sample_region(3, persons=800, chunk=0)
    doctors = tables["medstaff_b"].filter(pl.col("staff_type") == "1")
    load = dict(zip(doctors.get_column("staff_codg").to_list(), outpatient_load(doctors, tables["dept_b"]).to_list(), strict=True))
    bad = assignments(tables, 0.05)["doctor_outlier"].doctors
    assert bad
    assert all(load[d] >= statistics.quantiles(load.values(), n=10)[4] for d in bad)  # the busier half at least


def test_ids_and_chunk_case_ids_of_two_chunks_never_collide() -> None:
    a, la = _inject(sample_region(3, persons=400, chunk=0), chunk=0)
    b, lb = _inject(sample_region(3, persons=400, chunk=1), chunk=1)
    chunk_cases = pl.col("case_id").str.starts_with("C")  # (the R- cases of a bad actor span the chunks)
    assert not set(la.filter(chunk_cases).get_column("case_id").to_list()) & set(lb.get_column("case_id").to_list())
    for table, key in (("mdtrt_d", "mdtrt_id"), ("fee_list_d", "feedetl_sn")):
        assert not set(a[table].get_column(key).to_list()) & set(b[table].get_column(key).to_list())
    new_a = set(a["drug_trac_d"].get_column("drug_trac_codg").to_list())
    new_b = set(b["drug_trac_d"].get_column("drug_trac_codg").to_list())
    assert not new_a & new_b


@pytest.mark.parametrize("persons", [0, 1, 30])
def test_an_empty_or_tiny_chunk_gets_true_labels(persons: int) -> None:
    tables = sample_region(2, persons=persons)
    out, labels = _inject(tables, rate=0.3, chunk=0)
    assert check_labels(out, labels) == []
    assert (labels.height == 0) == (persons == 0)


def test_a_region_without_staff_tables_still_works() -> None:
    tables = sample_region(2, persons=200)
    del tables["medstaff_b"], tables["dept_b"]
    out, labels = _inject(tables, rate=1.0, chunk=0)
    assert labels.height and check_labels(out, labels) == []


def test_a_bad_rate_is_refused(clean: dict[str, pl.DataFrame]) -> None:
    with pytest.raises(ValueError, match="rate"):
        _inject(clean, rate=1.5)


# ---------------------------------------------------------------------------------------------
# Each pattern leaves the signal it claims
# ---------------------------------------------------------------------------------------------


def test_split_admission_parts_follow_each_other_within_fifteen_days(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    cases = _cases(labels, "split_admission")
    assert cases
    for case in cases.values():
        stays = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(case.get_column("mdtrt_id").to_list())).sort("begntime")
        assert stays.height == _params(case)["parts"] >= 2
        assert stays.get_column("psn_no").n_unique() == 1
        assert stays.get_column("fixmedins_code").n_unique() == 1
        assert stays.get_column("dscg_maindiag_code").n_unique() == 1
        ends = stays.get_column("endtime").dt.date().to_list()
        begins = stays.get_column("begntime").dt.date().to_list()
        gaps = [(b - e).days for e, b in zip(ends[:-1], begins[1:], strict=True)]
        assert all(1 <= g <= 15 for g in gaps), gaps
        assert gaps == _params(case)["gaps_days"]


def test_chemotherapy_look_alikes_come_back_every_three_weeks(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cases = [c for c in _cases(labels, "split_admission", "0").values() if _params(c)["kind"] == "chemotherapy"]
    assert cases
    for case in cases:
        stays = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(case.get_column("mdtrt_id").to_list())).sort("begntime")
        assert (stays.get_column("dscg_maindiag_code") == "Z51.100").all()
        begins = stays.get_column("begntime").dt.date().to_list()
        assert all(19 <= (b - a).days <= 23 for a, b in itertools.pairwise(begins))


def test_ghost_bed_leaves_three_days_with_only_bed_and_nursing(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cases = _cases(labels, "ghost_bed")
    assert cases
    for case in cases.values():
        mid = case.item(0, "mdtrt_id")
        lines = data["fee_list_d"].filter(pl.col("mdtrt_id") == mid)
        added = lines.filter(pl.col("feedetl_sn").is_in(case.get_column("feedetl_sn").to_list()))
        assert set(added.get_column("med_chrgitm_type").to_list()) <= {"01", "07"}
        stay = _encounter(data, mid)
        types: dict[date, set[str]] = {}
        for day, typ in lines.select(pl.col("fee_ocur_time").dt.date(), "med_chrgitm_type").iter_rows():
            types.setdefault(day, set()).add(typ)
        nights = (stay["endtime"].date() - stay["begntime"].date()).days
        days = [stay["begntime"].date() + timedelta(days=d) for d in range(nights)]
        empty = [types.get(d, set()) <= {"01", "07"} for d in days]
        run = best = 0
        for e in empty:
            run = run + 1 if e else 0
            best = max(best, run)
        assert best >= 3


def test_fake_admission_cohorts_share_employer_week_and_exam_bundle(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    cases = _cases(labels, "fake_admission")
    assert cases
    for case in cases.values():
        ids = case.get_column("mdtrt_id").to_list()
        stays = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(ids)).join(data["psn_info_b"].select("psn_no", "emp_no"), on="psn_no")
        assert stays.height >= 5
        assert stays.get_column("emp_no").n_unique() == 1
        begins = stays.get_column("begntime").dt.date()
        assert (begins.max() - begins.min()).days <= 7  # type: ignore[operator]
        fee = data["fee_list_d"].filter(pl.col("mdtrt_id").is_in(ids))
        exams = fee.filter(pl.col("med_chrgitm_type").is_in(["03", "04"])).group_by("mdtrt_id").agg(pl.col("med_list_codg").sort())
        assert exams.get_column("med_list_codg").list.join(",").n_unique() == 1
        share = fee.filter(pl.col("med_chrgitm_type").is_in(["03", "04"])).get_column("det_item_fee_sumamt").sum() / fee.get_column(
            "det_item_fee_sumamt"
        ).sum()
        assert share > 0.3


def test_overlap_stay_intervals_overlap_and_transfers_only_touch(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    for label, overlapping in (("1", True), ("0", False)):
        cases = _cases(labels, "overlap_stay", label)
        assert cases
        for case in cases.values():
            a, b = (_encounter(data, m) for m in case.get_column("mdtrt_id").to_list())
            assert a["psn_no"] == b["psn_no"] and a["fixmedins_code"] != b["fixmedins_code"]
            overlap = a["begntime"] < b["endtime"] and b["begntime"] < a["endtime"]
            assert overlap == overlapping
    for case in _cases(labels, "overlap_stay", "0").values():
        first = _encounter(data, case.filter(pl.col("params").str.contains('"role":"from"')).item(0, "mdtrt_id"))
        assert first["dscg_way"] == "2"


def test_after_death_care_is_dated_after_death_and_the_look_alike_on_the_day(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    deaths = dict(data["psn_info_b"].select("psn_no", "death_date").iter_rows())
    fraud = labels.filter((pl.col("pattern") == "after_death") & (pl.col("label") == "1"))
    assert fraud.height
    for mid, psn in fraud.select("mdtrt_id", "psn_no").iter_rows():
        e = _encounter(data, mid)
        assert e["begntime"].date() > deaths[psn]
    for mid, psn in labels.filter((pl.col("pattern") == "after_death") & (pl.col("label") == "0")).select("mdtrt_id", "psn_no").iter_rows():
        e = _encounter(data, mid)
        assert e["endtime"].date() == deaths[psn] and e["dscg_way"] == "5"


def test_identity_fraud_contradicts_the_card_holder_or_bursts_across_cards(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    people = {r["psn_no"]: r for r in data["psn_info_b"].iter_rows(named=True)}
    cases = _cases(labels, "identity_fraud")
    assert cases
    variants = set()
    for case in cases.values():
        p = _params(case)
        variants.add(p["variant"])
        if p["variant"] == "borrowed_card":
            holder = people[case.item(0, "psn_no")]
            assert _encounter(data, case.item(0, "mdtrt_id"))["psn_no"] == holder["psn_no"] != p["from_psn"]
            if p["contradiction"] == "gend":
                assert holder["gend"] != p["care_sex"]
            else:
                assert abs(p["holder_age"] - p["user_age"]) >= 18
        else:
            stays = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(case.get_column("mdtrt_id").to_list()))
            assert stays.height >= 5 and stays.get_column("psn_no").n_unique() == stays.height
            assert stays.get_column("atddr_no").n_unique() == 1
            span = stays.get_column("begntime").max() - stays.get_column("begntime").min()  # type: ignore[operator]
            assert span <= timedelta(minutes=10)
    assert "borrowed_card" in variants


def test_an_outlier_doctor_bills_more_than_the_departments_peers(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cases = _cases(labels, "doctor_outlier")
    assert cases
    per = (
        data["fee_list_d"].group_by("mdtrt_id").agg(pl.col("det_item_fee_sumamt").sum().alias("amt"))
        .join(data["mdtrt_d"].select("mdtrt_id", "atddr_no", "fixmedins_code", "dept_codg", "med_type"), on="mdtrt_id")
        .filter(pl.col("med_type").is_in(["11", "14"]))
        .group_by("fixmedins_code", "dept_codg", "atddr_no").agg(pl.col("amt").mean().alias("mean"), pl.len().alias("n"))
    )  # fmt: skip
    for case in cases.values():
        doctor = case.item(0, "doctor")
        me = per.filter(pl.col("atddr_no") == doctor).row(0, named=True)
        peers = per.filter((pl.col("fixmedins_code") == me["fixmedins_code"]) & (pl.col("dept_codg") == me["dept_codg"])
                           & (pl.col("atddr_no") != doctor))  # fmt: skip
        if peers.height:
            assert me["mean"] > peers.get_column("mean").mean() or me["n"] > peers.get_column("n").mean()  # type: ignore[operator]


def test_resold_codes_are_settled_twice_net_of_returns_and_returned_codes_once(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    trace = data["drug_trac_d"]
    net = trace.group_by("drug_trac_codg").agg(
        ((pl.col("retn_flag") == "0").sum().cast(pl.Int64) - (pl.col("retn_flag") == "1").sum().cast(pl.Int64)).alias("net")
    )
    net_of = dict(net.iter_rows())
    fraud = labels.filter((pl.col("pattern") == "drug_resale") & (pl.col("label") == "1"))
    assert fraud.height
    assert all(net_of[c] >= 2 for c in fraud.get_column("drug_trac_codg").unique().to_list())
    pharmacies = set(data["fixmedins_b"].filter(pl.col("fixmedins_type") == "2").get_column("fixmedins_code").to_list())
    for code, rows in fraud.partition_by("drug_trac_codg", as_dict=True).items():
        first = rows.filter(pl.col("params").str.contains('"role":"first_sale"'))
        resale = rows.filter(pl.col("params").str.contains('"role":"resale"'))
        assert first.height == 1 and resale.height >= 1, code
        assert set(resale.get_column("fixmedins_code").to_list()) <= pharmacies
        assert first.item(0, "fixmedins_code") not in resale.get_column("fixmedins_code").to_list()
        assert first.item(0, "psn_no") not in resale.get_column("psn_no").to_list()
    legit = labels.filter((pl.col("pattern") == "drug_resale") & (pl.col("label") == "0"))
    assert legit.height
    for code in legit.get_column("drug_trac_codg").unique().to_list():
        assert net_of[code] == 1
        assert trace.filter((pl.col("drug_trac_codg") == code) & (pl.col("retn_flag") == "1")).height == 1


def test_swapped_drugs_keep_the_cheap_products_prefix(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    fee = dict(data["fee_list_d"].select("feedetl_sn", "med_list_codg").iter_rows())
    prices = dict(data["fee_list_d"].select("feedetl_sn", "pric").iter_rows())
    rows = labels.filter((pl.col("pattern") == "drug_swap") & (pl.col("label") == "1") & (pl.col("drug_trac_codg") != ""))
    assert rows.height
    for sn, code, params in rows.select("feedetl_sn", "drug_trac_codg", "params").iter_rows():
        p = json.loads(params)
        assert fee[sn] == p["billed"]
        assert code[:7] == product_prefix(p["dispensed"]) != product_prefix(p["billed"])
        assert prices[sn] > 0


def test_card_cashout_bursts_are_night_identical_and_minutes_apart(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    amounts = data["fee_list_d"].group_by("mdtrt_id").agg(pl.col("det_item_fee_sumamt").sum().alias("amt"))
    cases = _cases(labels, "card_cashout")
    assert cases
    for case in cases.values():
        ids = case.get_column("mdtrt_id").to_list()
        swipes = data["mdtrt_d"].filter(pl.col("mdtrt_id").is_in(ids)).join(amounts, on="mdtrt_id").sort("begntime")
        assert swipes.height >= 5
        assert swipes.get_column("fixmedins_code").n_unique() == 1
        assert swipes.get_column("psn_no").n_unique() == swipes.height
        assert swipes.get_column("amt").n_unique() == 1
        hours = swipes.get_column("begntime").dt.hour().to_list()
        assert all(h >= 22 or h < 6 for h in hours)
        gaps = swipes.get_column("begntime").diff().drop_nulls().dt.total_seconds().to_list()
        assert all(g <= 200 for g in gaps)
    people = {r["psn_no"]: r for r in data["psn_info_b"].iter_rows(named=True)}
    for mid, psn, params in labels.filter((pl.col("pattern") == "card_cashout") & (pl.col("label") == "0")).select(
        "mdtrt_id", "psn_no", "params"
    ).iter_rows():
        kind = json.loads(params)["kind"]
        e = _encounter(data, mid)
        if kind == "elderly_bulk":
            assert YEAR - people[psn]["brdy"].year >= 65
        else:
            assert e["begntime"].hour >= 22 or e["begntime"].hour < 6


def test_overdispense_goes_beyond_the_days_limit_or_refills_early(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cat = default_catalog()
    fee = data["fee_list_d"]
    rows = labels.filter((pl.col("pattern") == "overdispense") & (pl.col("label") == "1"))
    assert rows.height
    for sn, params in rows.select("feedetl_sn", "params").iter_rows():
        p = json.loads(params)
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        item = cat.get(line["med_list_codg"], date(YEAR, 7, 1))
        assert item is not None
        if p["variant"] == "over_limit":
            limit = item.restriction.max_days_supply
            assert limit is not None and line["prd_days"] > limit
        else:
            prev = fee.filter(pl.col("feedetl_sn") == p["previous"]).row(0, named=True)
            assert prev["med_list_codg"] == line["med_list_codg"] and prev["psn_no"] == line["psn_no"]
            assert line["fee_ocur_time"] < prev["fee_ocur_time"] + timedelta(days=prev["prd_days"])
    for sn in labels.filter((pl.col("pattern") == "overdispense") & (pl.col("label") == "0")).get_column("feedetl_sn").to_list():
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        item = cat.get(line["med_list_codg"], date(YEAR, 7, 1))
        assert item is not None and item.restriction.max_days_supply is None and 56 <= line["prd_days"] <= 84


def test_duplicate_charges_sit_next_to_their_twin_or_package(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    fee = data["fee_list_d"]
    rows = labels.filter(pl.col("pattern") == "duplicate_charge")
    assert rows.filter(pl.col("label") == "1").height
    for sn, label, params in rows.select("feedetl_sn", "label", "params").iter_rows():
        p = json.loads(params)
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        same = fee.filter((pl.col("mdtrt_id") == line["mdtrt_id"]) & (pl.col("feedetl_sn") != sn))
        if label == "1" and p["variant"] == "same_item_twice":
            twin = same.filter(pl.col("feedetl_sn") == p["duplicate_of"]).row(0, named=True)
            assert (twin["med_list_codg"], twin["fee_ocur_time"]) == (line["med_list_codg"], line["fee_ocur_time"])
        elif label == "1":
            package = same.filter(pl.col("feedetl_sn") == p["package_line"]).row(0, named=True)
            assert package["fee_ocur_time"] == line["fee_ocur_time"] and line["med_list_codg"] == p["component"]
        elif p["kind"] == "bilateral_procedure":
            assert same.filter((pl.col("med_list_codg") == line["med_list_codg"]) & (pl.col("fee_ocur_time") == line["fee_ocur_time"])).height == 1
            assert data["setl_list_oprn_d"].filter(pl.col("mdtrt_id") == line["mdtrt_id"]).height == 2


def test_overpriced_lines_are_above_the_cap_of_their_level(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cat = default_catalog()
    from yibao.codes import coarse_hosp_lv

    lv = {c: coarse_hosp_lv(v or None) for c, v in data["fixmedins_b"].select("fixmedins_code", "hosp_lv").iter_rows()}
    rows = labels.filter(pl.col("pattern") == "overprice").join(
        data["fee_list_d"].select("feedetl_sn", "med_list_codg", "pric"), on="feedetl_sn"
    )
    assert rows.height
    for code, inst, pric in rows.select("med_list_codg", "fixmedins_code", "pric").iter_rows():
        item = cat.get(code, date(YEAR, 7, 1))
        assert item is not None
        cap = item.price_cap(lv[inst])
        assert cap is not None and pric > cap


def test_swapped_items_bill_the_dear_item(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    swaps = labels.filter((pl.col("pattern") == "item_swap") & ~pl.col("case_id").str.contains("-item_swap-S"))  # not 虚记支架
    rows = swaps.join(data["fee_list_d"].select("feedetl_sn", "med_list_codg"), on="feedetl_sn")
    assert rows.height
    for code, params in rows.select("med_list_codg", "params").iter_rows():
        assert code == json.loads(params)["billed"]


def test_unbundled_services_appear_several_times_the_same_day(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    fee = data["fee_list_d"]
    rows = labels.filter(pl.col("pattern") == "unbundling")
    assert rows.height
    for sn, params in rows.select("feedetl_sn", "params").iter_rows():
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        original = fee.filter(pl.col("feedetl_sn") == json.loads(params)["original"]).row(0, named=True)
        assert original["med_list_codg"] == line["med_list_codg"] and original["mdtrt_id"] == line["mdtrt_id"]
        assert original["fee_ocur_time"].date() == line["fee_ocur_time"].date()


def test_gender_age_items_break_the_restriction_and_the_exemptions_have_their_diagnosis(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    cat = default_catalog()
    people = {r["psn_no"]: r for r in data["psn_info_b"].iter_rows(named=True)}
    fee = data["fee_list_d"]
    rows = labels.filter(pl.col("pattern") == "gender_age")
    assert rows.filter(pl.col("label") == "1").height and rows.filter(pl.col("label") == "0").height
    for sn, psn, label, params in rows.select("feedetl_sn", "psn_no", "label", "params").iter_rows():
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        item = cat.get(line["med_list_codg"], date(YEAR, 7, 1))
        assert item is not None
        p = people[psn]
        on = line["fee_ocur_time"].date()
        age = on.year - p["brdy"].year - ((on.month, on.day) < (p["brdy"].month, p["brdy"].day))
        r = item.restriction
        broken = (r.gend is not None and r.gend != p["gend"]) or (r.age_max is not None and age > r.age_max)
        assert broken, (sn, label)
        if label == "0":
            dx = data["setl_list_diag_d"].filter(pl.col("mdtrt_id") == line["mdtrt_id"]).get_column("diag_code").to_list()
            assert json.loads(params)["diagnosis"] in dx


def test_indication_drugs_lack_their_diagnosis(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cat = default_catalog()
    fee = data["fee_list_d"]
    rows = labels.filter(pl.col("pattern") == "indication")
    assert rows.height
    for sn, mid in rows.select("feedetl_sn", "mdtrt_id").iter_rows():
        line = fee.filter(pl.col("feedetl_sn") == sn).row(0, named=True)
        item = cat.get(line["med_list_codg"], date(YEAR, 7, 1))
        assert item is not None and item.restriction.indications
        dx = data["setl_list_diag_d"].filter(pl.col("mdtrt_id") == mid).get_column("diag_code").to_list()
        assert not any(d.startswith(item.restriction.indications) for d in dx)


def test_upcoded_stays_carry_the_added_or_swapped_diagnoses(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    diag = data["setl_list_diag_d"]
    rows = labels.filter(pl.col("pattern") == "upcoding")
    assert rows.filter(pl.col("label") == "1").height
    for mid, label, params in rows.select("mdtrt_id", "label", "params").iter_rows():
        p = json.loads(params)
        mine = diag.filter(pl.col("mdtrt_id") == mid)
        codes = mine.get_column("diag_code").to_list()
        if label == "0":
            assert p["added"] in codes and p["support"]
        elif p["variant"] == "add_cc":
            assert set(p["added"]) <= set(codes)
        else:
            main = mine.filter(pl.col("maindiag_flag") == "1").get_column("diag_code").to_list()
            assert main == [p["main_to"]] == [_encounter(data, mid)["dscg_maindiag_code"]]


def test_out_of_scope_care_is_billed_as_payable_care(data: dict[str, pl.DataFrame], labels: pl.DataFrame) -> None:
    cat = default_catalog()
    fee = dict(data["fee_list_d"].select("feedetl_sn", "med_list_codg").iter_rows())
    rows = labels.filter(pl.col("pattern") == "catalogue_scope")
    assert rows.height
    for sn, code, params in rows.select("feedetl_sn", "drug_trac_codg", "params").iter_rows():
        p = json.loads(params)
        if p.get("variant") == "department" or p.get("kind") == "consultation":
            continue  # 限定开单科室: the next test
        billed = cat.get(fee[sn], date(YEAR, 7, 1))
        done = cat.get(p["done"], date(YEAR, 7, 1))
        assert billed is not None and done is not None
        assert fee[sn] == p["billed"] and billed.chrgitm_lv != "03" and done.chrgitm_lv == "03"
        if p["variant"] == "supplement":
            assert code[:7] == product_prefix(p["done"])


def test_restricted_items_are_ordered_by_a_department_that_may_not_and_consultations_by_one_that_may(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    depts = default_kb().depts
    caty = {(i, d): caty_code(c) for i, d, c in data["dept_b"].select("fixmedins_code", "dept_codg", "caty").iter_rows()}
    home = {s: (i, d) for s, i, d in data["medstaff_b"].select("staff_codg", "fixmedins_code", "dept_codg").iter_rows()}
    fee = {r[0]: r[1:] for r in data["fee_list_d"].select("feedetl_sn", "med_list_codg", "fixmedins_code", "bilg_dept_codg", "bilg_dr_codg").iter_rows()}  # fmt: skip
    rows = labels.filter((pl.col("pattern") == "catalogue_scope") & pl.col("params").str.contains('"department"|"consultation"'))
    seen = Counter()
    for label, sn, params in rows.select("label", "feedetl_sn", "params").iter_rows():
        p = json.loads(params)
        code, inst, dept, doctor = fee[sn]
        allowed = depts[code]
        assert code == p["item"] and list(allowed) == p["allowed"] and caty[inst, dept] == p["dept_caty"]
        assert not any(caty_covers(a, caty[inst, dept]) for a in allowed)  # billed under a department that may not
        doctor_caty = caty[home[doctor]] if home[doctor][0] == inst else ""
        assert any(caty_covers(a, doctor_caty) for a in allowed) == (label == "0")
        seen[p.get("variant") or p["kind"]] += 1
    assert seen["department"] >= 2 and seen["consultation"] >= 1, seen
    con = connect(threads=1)
    register_frames(con, {t: data[t] for t in ("psn_info_b", "fixmedins_b", "dept_b", "medstaff_b", "mdtrt_d", "fee_list_d")})
    rule = default_library().rule("R-DEPT-01")
    flagged = set(kind_module(rule.kind).batch(con, rule, default_kb()).get_column("feedetl_sn").to_list())
    assert flagged == set(rows.filter(pl.col("label") == "1").get_column("feedetl_sn").to_list())


def test_every_injected_day_is_a_real_datetime(data: dict[str, pl.DataFrame]) -> None:
    assert data["fee_list_d"].get_column("fee_ocur_time").dtype == pl.Datetime("us")
    assert isinstance(data["mdtrt_d"].item(0, "begntime"), datetime)


def test_the_module_examples_run() -> None:
    import doctest
    import importlib

    names = ("_base", "_knowledge", "_legitimate", "check", "sample", *PATTERNS)
    for name in ("", *names):
        module = importlib.import_module("yibao.synth.fraud" + (f".{name}" if name else ""))
        assert doctest.testmod(module).failed == 0, name


def test_phantom_stents_leave_the_stent_rules_traces_and_their_look_alikes_do_not(
    data: dict[str, pl.DataFrame], labels: pl.DataFrame
) -> None:
    # 虚记支架: a phantom stent in a stay has no antiplatelet for its patient anywhere (R-STENT-02), one on an
    # outpatient visit no stay around it (R-STENT-01); the look-alikes (antiplatelets bought at a pharmacy,
    # death in the stay, a stent billed the morning after discharge) trip neither rule
    import duckdb

    from yibao.supervision.audit import DATASET_TABLES, register_frames
    from yibao.supervision.kb import default_kb
    from yibao.supervision.library import default_library, kind_module

    stents = labels.filter(pl.col("case_id").str.contains("-item_swap-S"))
    kinds = {json.loads(p).get("variant") or json.loads(p)["kind"] for p in stents.get_column("params").to_list()}
    assert "phantom_stay" in kinds and {"pharmacy_antiplatelet", "billed_after_discharge"} <= kinds
    con = duckdb.connect()
    register_frames(con, {n: df for n, df in data.items() if n in DATASET_TABLES})
    lib, kb = default_library(), default_kb()
    found = {rid: set(kind_module(lib.rule(rid).kind).batch(con, lib.rule(rid), kb).get_column("feedetl_sn").to_list())
             for rid in ("R-STENT-01", "R-STENT-02")}  # fmt: skip
    fee = data["fee_list_d"].select("feedetl_sn", "med_list_codg")
    for sn, label, params in stents.join(fee, on="feedetl_sn").select("feedetl_sn", "label", "params").iter_rows():
        p = json.loads(params)
        if label == "0":
            assert sn not in found["R-STENT-01"] | found["R-STENT-02"], p
        elif p["variant"] == "phantom_stay":
            assert sn in found["R-STENT-02"], p
        else:
            assert sn in found["R-STENT-01"], p
    b01ac = data["fee_list_d"].filter(pl.col("med_list_codg").str.starts_with("XB01AC"))
    for case in stents.filter(pl.col("params").str.contains("pharmacy_antiplatelet")).partition_by("case_id"):
        person = case.item(0, "psn_no")
        bought = b01ac.filter(pl.col("psn_no") == person).join(data["mdtrt_d"], on="mdtrt_id")
        assert bought.height and set(bought.get_column("med_type").to_list()) == {"41"}  # only at a pharmacy
