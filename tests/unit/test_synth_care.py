"""Care of the synthetic region: encounters, diagnoses, procedures, fee lines, traceability codes."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from yibao import codes
from yibao.catalog.loader import default_catalog
from yibao.catalog.model import LineContext
from yibao.catalog.trace import product_prefix, validate_trace_code
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.supervision.audit import connect, register_frames
from yibao.supervision.kb import default_kb
from yibao.supervision.library import default_library, kind_module
from yibao.synth import diagnoses as dx
from yibao.synth.care import CARE_TABLES, make_care
from yibao.synth.institutions import make_institutions
from yibao.synth.population import make_employers, make_persons
from yibao.synth.targets import TARGETS

N = 3_000
CHUNK = 2
YEAR = 2024


def _region(n: int, seed: int, chunk: int = CHUNK) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    employers = make_employers(np.random.default_rng([seed, 1]), n)
    persons = make_persons(np.random.default_rng([seed, 2]), n, chunk=chunk, first_seq=chunk * n, year=YEAR,
                           employers=employers, admdvs="990100")["psn_info_b"]  # fmt: skip
    institutions = make_institutions(np.random.default_rng([seed, 3]), n)
    care = make_care(np.random.default_rng([seed, 4]), persons, institutions, default_catalog(), year=YEAR, chunk=chunk)
    return persons, institutions, care


@pytest.fixture(scope="module")
def region() -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    return _region(N, 11)


@pytest.fixture(scope="module")
def enc(region: tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, pl.DataFrame]]) -> pl.DataFrame:
    persons, _, care = region
    kind = pl.col("med_type").replace_strict({m: codes.visit_kind(m) for m in codes.MED_TYPE})
    return care["mdtrt_d"].with_columns(kind.alias("kind")).join(
        persons.select("psn_no", "gend", "brdy", "death_date"), on="psn_no"
    )


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --- tables and ids -------------------------------------------------------------------------------


def test_every_table_has_the_schema_columns_and_kinds(region) -> None:
    _, _, care = region
    assert sorted(care) == sorted(CARE_TABLES)
    for name, frame in care.items():
        assert dict(frame.schema) == polars_schema(TABLES[name]), name
        assert frame.height > 0, name


def test_ids_are_unique_start_with_a_letter_and_carry_the_chunk(region) -> None:
    _, _, care = region
    m, f = care["mdtrt_d"], care["fee_list_d"]
    assert m["mdtrt_id"].n_unique() == m.height
    assert f["feedetl_sn"].n_unique() == f.height
    assert m["mdtrt_id"].str.starts_with(f"M{CHUNK:04d}").all()
    assert f["feedetl_sn"].str.starts_with(f"F{CHUNK:04d}").all()
    rx = f.filter(pl.col("rxno") != "")["rxno"]
    assert rx.str.starts_with(f"R{CHUNK:04d}").all()
    assert not m["mdtrt_id"].str.contains(r"^\d{17}[\dX]$").any()


def test_another_chunk_gets_disjoint_ids() -> None:
    _, _, a = _region(400, 5, chunk=7)
    _, _, b = _region(400, 5, chunk=8)
    assert set(a["mdtrt_d"]["mdtrt_id"]).isdisjoint(b["mdtrt_d"]["mdtrt_id"])
    assert set(a["fee_list_d"]["feedetl_sn"]).isdisjoint(b["fee_list_d"]["feedetl_sn"])
    assert set(a["drug_trac_d"]["drug_trac_codg"]).isdisjoint(b["drug_trac_d"]["drug_trac_codg"])


def test_the_same_generator_gives_the_same_tables() -> None:
    _, _, a = _region(600, 9)
    _, _, b = _region(600, 9)
    for name in CARE_TABLES:
        assert a[name].equals(b[name]), name


def test_batches_of_a_chunk_continue_ids_serials_and_wards(monkeypatch) -> None:
    from yibao.synth import care as care_module

    monkeypatch.setattr(care_module, "BATCH_PERSONS", 300)
    persons, _, care = _region(1_000, 21, chunk=4)
    m, f, t = care["mdtrt_d"], care["fee_list_d"], care["drug_trac_d"]
    assert m["mdtrt_id"].n_unique() == m.height and f["feedetl_sn"].n_unique() == f.height
    assert t["drug_trac_codg"].n_unique() == t.height
    stays = m.filter(pl.col("adm_bed") != "")
    assert stays["adm_bed"].str.slice(5, 2).n_unique() > 1  # one ward per batch
    employees = persons.filter(pl.col("insutype") == "310").height
    visits = m.filter(pl.col("insutype") == "310", pl.col("med_type").is_in(["11", "13"])).height
    assert visits == pytest.approx(TARGETS["employee.outpatient_per_insured"].value * employees, rel=0.01)


def test_no_persons_give_empty_tables(region) -> None:
    persons, institutions, _ = region
    care = make_care(np.random.default_rng(1), persons.head(0), institutions, default_catalog(), year=YEAR, chunk=0)
    for name, frame in care.items():
        assert frame.height == 0 and dict(frame.schema) == polars_schema(TABLES[name])


# --- encounters -----------------------------------------------------------------------------------


def test_all_kinds_of_care_occur(enc) -> None:
    assert set(enc["med_type"]) >= {"11", "13", "14", "21", "41"}
    assert set(enc["insutype"]) == {"310", "390"}


def test_no_care_before_birth_or_after_death(enc) -> None:
    assert enc.filter(pl.col("begntime").dt.date() < pl.col("brdy")).height == 0
    assert enc.filter(pl.col("endtime").dt.date() > pl.col("death_date")).height == 0
    died_in_hospital = enc.filter(pl.col("dscg_way") == "5")
    assert (died_in_hospital["endtime"].dt.date() == died_in_hospital["death_date"]).all()


def test_encounters_begin_before_they_end_inside_the_year(enc) -> None:
    assert enc.filter(pl.col("endtime") <= pl.col("begntime")).height == 0
    assert (enc["begntime"].dt.year() == YEAR).all() and (enc["endtime"].dt.year() == YEAR).all()


def test_stays_never_overlap_and_no_visit_falls_inside_a_stay(enc) -> None:
    stays = enc.filter(pl.col("kind") == "inpatient").select(
        "psn_no", "mdtrt_id", pl.col("begntime").dt.date().alias("a"), pl.col("endtime").dt.date().alias("b")
    )
    pairs = stays.join(stays, on="psn_no").filter(pl.col("mdtrt_id") < pl.col("mdtrt_id_right"))
    assert pairs.filter((pl.col("a") <= pl.col("b_right")) & (pl.col("a_right") <= pl.col("b"))).height == 0
    visits = enc.filter(pl.col("kind") != "inpatient").select("psn_no", pl.col("begntime").dt.date().alias("d"))
    inside = visits.join(stays, on="psn_no").filter((pl.col("d") >= pl.col("a")) & (pl.col("d") <= pl.col("b")))
    assert inside.height == 0


def test_no_bed_holds_two_patients_at_once(enc) -> None:
    beds = enc.filter(pl.col("kind") == "inpatient").select(
        "fixmedins_code", "dept_codg", "adm_bed", "mdtrt_id",
        pl.col("begntime").dt.date().alias("a"), pl.col("endtime").dt.date().alias("b"),
    )  # fmt: skip
    assert beds["adm_bed"].str.contains(rf"^B{CHUNK:04d}\d{{2}}-\d{{5}}$").all()
    pairs = beds.join(beds, on=["fixmedins_code", "dept_codg", "adm_bed"]).filter(
        pl.col("mdtrt_id") < pl.col("mdtrt_id_right")
    )
    assert pairs.filter((pl.col("a") < pl.col("b_right")) & (pl.col("a_right") < pl.col("b"))).height == 0
    assert (enc.filter(pl.col("kind") != "inpatient")["adm_bed"] == "").all()


def test_stays_have_a_discharge_way_and_visits_none(enc) -> None:
    assert set(enc.filter(pl.col("kind") == "inpatient")["dscg_way"]) <= set(codes.DSCG_WAY)
    assert (enc.filter(pl.col("kind") != "inpatient")["dscg_way"] == "").all()


def test_encounters_have_a_department_and_a_doctor_of_their_institution(region, enc) -> None:
    _, institutions, _ = region
    staff = institutions["medstaff_b"].select("staff_codg", "fixmedins_code", "staff_type")
    joined = enc.join(staff, left_on="atddr_no", right_on="staff_codg", how="left")
    assert (joined["fixmedins_code"] == joined["fixmedins_code_right"]).all()
    doctors = joined.filter(pl.col("kind") != "pharmacy")
    assert (doctors["staff_type"] == "1").all()
    depts = institutions["dept_b"].select("fixmedins_code", "dept_codg")
    assert enc.join(depts, on=["fixmedins_code", "dept_codg"], how="anti").height == 0


def test_pharmacy_purchases_happen_at_pharmacies_also_in_the_evening(region, enc) -> None:
    _, institutions, _ = region
    pharmacies = set(institutions["fixmedins_b"].filter(pl.col("fixmedins_type") == "2")["fixmedins_code"])
    purchases = enc.filter(pl.col("kind") == "pharmacy")
    assert set(purchases["fixmedins_code"]) <= pharmacies
    assert (purchases["begntime"].dt.hour() >= 18).any()
    night = enc.filter(pl.col("begntime").dt.hour() < 6)
    assert set(night["med_type"]) <= {"13", "24"}


# --- diagnoses and procedures ---------------------------------------------------------------------


def test_diagnoses_fit_sex_and_age(region, enc) -> None:
    _, _, care = region
    d = care["setl_list_diag_d"].join(enc.select("mdtrt_id", "gend", "brdy", "begntime"), on="mdtrt_id")
    rows = d.select("diag_code", "gend", "brdy", pl.col("begntime").dt.date().alias("on")).iter_rows()
    for code, gend, born, on in rows:
        age = _age(born, on)
        if re.match(r"^(O|Z34|C5[0-8]|N7[0-7]|N8|N9[0-8]|D25|M81\.0)", code):
            assert gend == "2", (code, gend)
        if re.match(r"^(O|Z34)", code):
            assert 15 <= age <= 50, (code, age)
        if re.match(r"^(N4[0-9]|C6[0-3])", code):
            assert gend == "1", (code, gend)
        if code.startswith("P"):
            assert age == 0, (code, age)


def test_neoplasms_and_circulatory_disease_rise_with_age(region, enc) -> None:
    _, _, care = region
    principal = care["setl_list_diag_d"].filter(pl.col("maindiag_flag") == "1")
    d = principal.join(enc.select("mdtrt_id", "brdy", "begntime", "kind"), on="mdtrt_id").filter(pl.col("kind") == "inpatient")
    d = d.with_columns(((pl.col("begntime").dt.date() - pl.col("brdy")).dt.total_days() // 365).alias("age"))
    old = d.filter(pl.col("age") >= 60)
    young = d.filter(pl.col("age") < 45)
    share = lambda f, pat: f.filter(pl.col("diag_code").str.contains(pat)).height / max(f.height, 1)  # noqa: E731
    assert share(old, r"^(C|I|Z51)") > 2 * share(young, r"^(C|I|Z51)")


def test_principal_diagnosis_comes_first_and_matches_the_encounter(region) -> None:
    _, _, care = region
    d = care["setl_list_diag_d"]
    firsts = d.group_by("mdtrt_id", maintain_order=True).agg(pl.col("maindiag_flag").first(), pl.col("diag_code").first())
    assert (firsts["maindiag_flag"] == "1").all()
    assert d.filter(pl.col("maindiag_flag") == "1").group_by("mdtrt_id").len()["len"].max() == 1
    m = care["mdtrt_d"].join(firsts, on="mdtrt_id")
    assert (m["dscg_maindiag_code"] == m["diag_code"]).all()
    assert d.group_by("mdtrt_id", "diag_code").len()["len"].max() == 1
    assert d.group_by("mdtrt_id").len()["len"].max() <= 7
    assert (d["diag_type"] == "1").all()
    assert d["diag_code"].str.contains(r"^[A-Z]\d{2}").all() and (d["diag_name"].str.len_chars() > 0).all()


def test_surgical_stays_have_procedures_main_first_within_the_stay(region, enc) -> None:
    _, _, care = region
    o = care["setl_list_oprn_d"]
    assert o.height > 0
    assert o["oprn_code"].str.contains(r"^\d{2}\.[\dx]{2}").all()
    assert (o.group_by("mdtrt_id", maintain_order=True).agg(pl.col("main_oprn_flag").first())["main_oprn_flag"] == "1").all()
    j = o.join(enc.select("mdtrt_id", "kind", "begntime", "endtime"), on="mdtrt_id")
    assert (j["kind"] == "inpatient").all()
    assert j.filter((pl.col("oprn_date") < pl.col("begntime").dt.date()) | (pl.col("oprn_date") > pl.col("endtime").dt.date())).height == 0


# --- fee lines ------------------------------------------------------------------------------------


def test_line_amounts_are_exact_and_quantities_whole(region) -> None:
    _, _, care = region
    f = care["fee_list_d"]
    expected = (2 * f["pric"] * f["cnt"] + 10**8) // (2 * 10**8)
    assert (f["det_item_fee_sumamt"] == expected).all()
    assert (f["cnt"] > 0).all() and (f["cnt"] % 10_000 == 0).all()
    assert (f["pric"] > 0).all() and (f["pric"] % 10_000 == 0).all()


def test_prices_never_exceed_the_cap_at_the_institutions_level(region) -> None:
    _, institutions, care = region
    catalog = default_catalog()
    caps = {i.med_list_codg: i.pric_uplmt for i in catalog.items()}
    level = {r[0]: codes.coarse_hosp_lv(r[1] or None) for r in institutions["fixmedins_b"].select("fixmedins_code", "hosp_lv").iter_rows()}
    pairs = care["fee_list_d"].select("fixmedins_code", "med_list_codg", "pric").unique()
    for inst, item, pric in pairs.iter_rows():
        cap = caps[item].get(level[inst])
        if cap is not None:
            assert pric <= cap, (inst, item, pric, cap)


def test_clean_lines_respect_every_catalogue_restriction(region, enc) -> None:
    _, institutions, care = region
    items = {i.med_list_codg: i for i in default_catalog().items()}
    level = {r[0]: codes.coarse_hosp_lv(r[1] or None) for r in institutions["fixmedins_b"].select("fixmedins_code", "hosp_lv").iter_rows()}
    diag = care["setl_list_diag_d"].group_by("mdtrt_id", maintain_order=True).agg(pl.col("diag_code"))
    diagnoses = dict(zip(diag["mdtrt_id"].to_list(), diag["diag_code"].to_list(), strict=True))
    info = {r[0]: r[1:] for r in enc.select("mdtrt_id", "gend", "brdy", "fixmedins_code", "kind").iter_rows()}
    lines = care["fee_list_d"].select("mdtrt_id", "med_list_codg", "fee_ocur_time", "prd_days")
    broken = []
    for mdtrt_id, code, when, prd in lines.iter_rows():
        gend, born, inst, kind = info[mdtrt_id]
        item = items[code]
        days = prd if item.list_type in ("drug", "herb") and prd else None
        ctx = LineContext(gend, _age(born, when.date()), level[inst], kind, tuple(diagnoses.get(mdtrt_id, ())), days)
        reason = item.restriction.violation(ctx)
        if reason:
            broken.append((item.name, reason))
    assert broken == []


def test_lines_fall_inside_their_encounter_and_carry_the_encounters_doctor(region) -> None:
    _, _, care = region
    f = care["fee_list_d"].join(care["mdtrt_d"].select("mdtrt_id", "begntime", "endtime", "atddr_no", "dept_codg", "psn_no", "fixmedins_code"), on="mdtrt_id")
    assert f.filter((pl.col("fee_ocur_time") < pl.col("begntime")) | (pl.col("fee_ocur_time") > pl.col("endtime"))).height == 0
    restricted = pl.col("med_list_codg").is_in(list(default_kb().depts))  # 会诊 orders: see the test below
    assert (f.filter(~restricted)["bilg_dr_codg"] == f.filter(~restricted)["atddr_no"]).all()
    assert (f["bilg_dept_codg"] == f["dept_codg"]).all()
    assert (f["psn_no"] == f["psn_no_right"]).all() and (f["fixmedins_code"] == f["fixmedins_code_right"]).all()


def test_drug_lines_have_a_prescription_and_days_of_supply(region) -> None:
    _, _, care = region
    kinds = {i.med_list_codg: i.list_type for i in default_catalog().items()}
    f = care["fee_list_d"].with_columns(pl.col("med_list_codg").replace_strict(kinds).alias("lt"))
    rx = f.filter(pl.col("lt").is_in(["drug", "herb"]))
    assert (rx["rxno"] != "").all() and (rx["prd_days"] >= 1).all()
    other = f.filter(~pl.col("lt").is_in(["drug", "herb"]))
    assert (other["rxno"] == "").all() and (other["prd_days"] == 0).all()
    visits = rx.join(care["mdtrt_d"].select("mdtrt_id", "med_type"), on="mdtrt_id").filter(pl.col("med_type").is_in(["11", "13", "14", "41"]))
    assert visits["prd_days"].max() <= 30


def _refills(care: dict[str, pl.DataFrame], enc: pl.DataFrame) -> pl.DataFrame:
    """Each dispense of a drug with at least 7 days supplied outside stays, with the share of that supply
    used when the same person gets the same drug again at the same institution (``used``)."""
    drugs = {i.med_list_codg for i in default_catalog().items() if i.list_type == "drug"}
    lines = care["fee_list_d"].filter(pl.col("med_list_codg").is_in(list(drugs)) & (pl.col("prd_days") > 0))
    lines = lines.join(enc.filter(pl.col("kind") != "inpatient").select("mdtrt_id", "kind"), on="mdtrt_id")
    keys = ["psn_no", "med_list_codg", "fixmedins_code"]
    return (
        lines.sort([*keys, "fee_ocur_time", "mdtrt_id"])
        .with_columns(
            pl.col("fee_ocur_time").shift(1).over(keys).alias("prev_t"), pl.col("prd_days").shift(1).over(keys).alias("prev_days"),
            (pl.col("cnt") / pl.col("prd_days") / (pl.col("cnt") / pl.col("prd_days")).shift(1)).over(keys).alias("dose_ratio"),
        )
        .filter(pl.col("prev_t").is_not_null() & (pl.col("prev_days") >= 7))
        .with_columns(((pl.col("fee_ocur_time").dt.date() - pl.col("prev_t").dt.date()).dt.total_days() / pl.col("prev_days")).alias("used"))
    )  # fmt: skip


def test_chronic_patients_refill_long_prescriptions_roughly_on_schedule(region, enc) -> None:
    # real patients on long prescriptions come a few days early often, with more than a third of the
    # supply left rarely (the early-refill rule flags under 70 %): clean care must not look like abuse
    _, _, care = region
    refills = _refills(care, enc)
    assert refills.height > 500
    early = refills.filter(pl.col("used") < 2 / 3).height / refills.height
    assert 0.001 < early < 0.05, early  # (some early refills: dose changes; 0.19 % at this size)
    assert refills.filter(pl.col("used") < 0.7).height / refills.height < 0.05
    on_time = refills.filter(pl.col("used").is_between(0.75, 1.0)).height
    assert on_time > 3 * refills.filter(pl.col("used") < 2 / 3).height
    chronic = refills.filter(pl.col("kind") == "chronic")
    assert chronic.height > 100 and chronic.filter(pl.col("used") < 0.7).height / chronic.height < 0.06


def test_early_refills_are_dose_changes_whose_old_supply_at_the_new_dose_is_used_up(region, enc) -> None:
    # a refill with more than a third left comes with the daily dose doubled (packages ÷ days): what is
    # left, taken at the new dose, is 30 % of the old supply or less, so the refill is not an early one
    _, _, care = region
    early = _refills(care, enc).filter(pl.col("used").is_between(0.4, 0.65))
    assert early.height > 10
    doubled = early.filter(pl.col("dose_ratio") >= 1.9)
    assert doubled.height / early.height > 0.7, early.select("used", "dose_ratio")
    assert ((1 - doubled["used"]) / doubled["dose_ratio"]).max() <= 0.31


def test_inpatient_stays_bill_bed_and_nursing_for_every_day(region, enc) -> None:
    _, _, care = region
    names = {i.med_list_codg: i.med_chrgitm_type for i in default_catalog().items()}
    f = care["fee_list_d"].with_columns(pl.col("med_list_codg").replace_strict(names).alias("t"))
    stays = enc.filter(pl.col("kind") == "inpatient").select(
        "mdtrt_id", pl.max_horizontal(1, (pl.col("endtime").dt.date() - pl.col("begntime").dt.date()).dt.total_days()).alias("los")
    )
    beds = f.filter(pl.col("t") == "01").group_by("mdtrt_id").agg((pl.col("cnt").sum() // 10_000).alias("bed_days"))
    j = stays.join(beds, on="mdtrt_id", how="left")
    assert (j["bed_days"] == j["los"]).all()


def test_class_mix_has_all_three_classes(region) -> None:
    _, _, care = region
    classes = {i.med_list_codg: i.chrgitm_lv for i in default_catalog().items()}
    mix = care["fee_list_d"].with_columns(pl.col("med_list_codg").replace_strict(classes).alias("lv"))
    shares = mix.group_by("lv").agg(pl.col("det_item_fee_sumamt").sum()).with_columns(pl.col("det_item_fee_sumamt") / pl.col("det_item_fee_sumamt").sum())
    share = dict(shares.iter_rows())
    assert set(share) == {"01", "02", "03"}
    assert share["03"] < 0.1 < share["01"]


# --- traceability codes ---------------------------------------------------------------------------


def test_one_valid_unique_code_per_package_of_every_drug_line(region) -> None:
    _, _, care = region
    kinds = {i.med_list_codg: i.list_type for i in default_catalog().items()}
    f = care["fee_list_d"].with_columns(pl.col("med_list_codg").replace_strict(kinds).alias("lt"))
    t = care["drug_trac_d"]
    assert t["drug_trac_codg"].n_unique() == t.height
    assert t["drug_trac_codg"].str.contains(r"^8\d{19}$").all()
    assert all(validate_trace_code(c) is None for c in t["drug_trac_codg"].to_list())
    pairs = t.select(pl.col("drug_trac_codg").str.slice(0, 7).alias("p"), "med_list_codg").unique()
    assert all(product_prefix(code) == p for p, code in pairs.iter_rows())
    per_line = t.group_by("feedetl_sn").len()
    drugs = f.filter(pl.col("lt") == "drug").join(per_line, on="feedetl_sn", how="left")
    assert (drugs["len"] * 10_000 == drugs["cnt"]).all()
    assert t.join(f.filter(pl.col("lt") != "drug"), on="feedetl_sn").height == 0
    j = t.join(f.select("feedetl_sn", "mdtrt_id", "med_list_codg", "fixmedins_code", "fee_ocur_time"), on="feedetl_sn")
    assert (j["sel_time"] == j["fee_ocur_time"]).all()
    assert (j["mdtrt_id"] == j["mdtrt_id_right"]).all() and (j["med_list_codg"] == j["med_list_codg_right"]).all()
    assert (j["fixmedins_code"] == j["fixmedins_code_right"]).all()
    assert (t["retn_flag"] == "0").all()
    assert t["drug_trac_codg"].str.slice(7, 3).cast(pl.Int64).eq(CHUNK).all()


def test_pharmacy_sales_carry_codes(region) -> None:
    _, _, care = region
    sales = care["mdtrt_d"].filter(pl.col("med_type") == "41").select("mdtrt_id")
    assert care["drug_trac_d"].join(sales, on="mdtrt_id").height > 0


# --- the diagnosis table --------------------------------------------------------------------------


def test_builtin_code_book_has_a_named_code_for_every_condition() -> None:
    book = dx.code_book(use_tables=False)
    assert set(book["cond"]) == set(range(len(dx.CONDITIONS)))
    assert book["diag_code"].str.contains(r"^[A-Z]\d{2}\.[\dx]{3}").all()
    assert (book["diag_name"].str.len_chars() > 1).all()
    weights = book.group_by("cond").agg(pl.col("weight").sum())["weight"]
    assert ((weights - 1).abs() < 1e-9).all()
    codes_all = {c.code for c in dx.CONDITIONS} | {m.code for m in dx.COMORBIDITIES}
    codes_all |= {code for c in dx.CONDITIONS for code, _ in c.extra_codes}
    assert len(codes_all) + len(dx.PROCEDURES) >= 140


def test_conditions_name_items_of_the_starter_catalogue() -> None:
    names = {i.name for i in default_catalog().items()}
    missing = {(c.key, n) for c in dx.CONDITIONS for n in (*c.drugs, *c.tests, *c.treatments, *c.always) if n not in names}
    missing |= {(p.code, n) for p in dx.PROCEDURES for n in (p.service, p.anaesthesia, *(x for x, _ in p.consumables)) if n and n not in names}
    assert missing == set()


def test_conditions_keep_to_their_sex_and_age() -> None:
    delivery = dx.CONDITIONS_BY_KEY["delivery"]
    assert not dx.fits(delivery, gend="1", age=30) and not dx.fits(delivery, gend="2", age=12)
    assert dx.fits(delivery, gend="2", age=30)
    assert not dx.fits(dx.CONDITIONS_BY_KEY["bph"], gend="2", age=70)
    assert not dx.fits(dx.CONDITIONS_BY_KEY["neonatal_jaundice"], gend="1", age=1)


@pytest.mark.skipif(dx.drg_tables() is None, reason="CHS-DRG tables not present")
def test_builtin_codes_are_in_the_chs_drg_tables_with_clean_names() -> None:
    tables = dx.drg_tables()
    assert tables is not None
    for c in dx.CONDITIONS:
        assert tables.name(c.code) is not None, c.code
    book = dx.code_book()
    assert not book["diag_name"].str.contains("~~").any()
    assert not book["diag_name"].str.contains(r"\d \p{Han}|\p{Han} ").any()
    assert book.height > dx.code_book(use_tables=False).height


def test_tables_folder_comes_from_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(dx.DRG_TABLES_ENV, str(tmp_path))
    assert dx.drg_tables_folder() == tmp_path
    assert dx.drg_tables(tmp_path) is None
    assert dx.code_book(tmp_path).height == dx.code_book(use_tables=False).height


# --- care a real hospital would bill (clean data keeps the billing rules) -------------------------


@pytest.fixture(scope="module")
def wide_region() -> tuple[pl.DataFrame, dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """A larger region, so that rare care (maintenance dialysis, PET/CT, decoctions, stents) occurs."""
    return _region(12_000, 5, chunk=3)


@pytest.fixture(scope="module")
def wide(wide_region) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], pl.DataFrame]:
    """A larger region, so that rare care (maintenance dialysis, PET/CT, decoctions) occurs."""
    persons, _, care = wide_region
    kind = pl.col("med_type").replace_strict({m: codes.visit_kind(m) for m in codes.MED_TYPE})
    return persons, care, care["mdtrt_d"].with_columns(kind.alias("kind"))


def _code(name: str) -> str:
    return next(i.med_list_codg for i in default_catalog().items() if i.name == name)


def test_every_decoction_has_a_herb_that_is_paid_alone(wide) -> None:
    # 黄芪, 党参, 甘草 … are paid only inside a formula: a clean 复方 is built on herbs that are paid alone
    _, care, _ = wide
    herbs = {i.med_list_codg: "单独使用时不予支付" not in i.restriction.text and i.chrgitm_lv != "03"
             for i in default_catalog().items() if i.list_type == "herb"}  # fmt: skip
    lines = care["fee_list_d"].filter(pl.col("med_list_codg").is_in(list(herbs)))
    rx = lines.group_by("rxno").agg(
        pl.len().alias("n"), pl.col("med_list_codg").replace_strict(herbs).any().alias("principal"), pl.col("cnt").min()
    )
    assert rx.height > 50
    assert (rx["n"] >= 2).all() and rx["principal"].all()  # a 复方, led by a herb paid alone
    assert (rx["cnt"] >= 6 * 7 * 10_000).all()  # whole 付: at least 6 g a day for 7 days


def test_dialysis_sessions_keep_a_weekly_timetable(wide) -> None:
    # maintenance haemodialysis: three set days a week (Mon/Wed/Fri or Tue/Thu/Sat), never four
    _, care, enc = wide
    hd = care["fee_list_d"].filter(pl.col("med_list_codg") == _code("血液透析")).join(
        enc.filter(pl.col("kind") != "inpatient").select("mdtrt_id"), on="mdtrt_id"
    )
    assert hd.height > 200
    hd = hd.with_columns(pl.col("fee_ocur_time").dt.weekday().alias("wd"), pl.col("fee_ocur_time").dt.truncate("1w").alias("wk"))
    assert hd.group_by("psn_no", "wk").agg(pl.col("cnt").sum())["cnt"].max() <= 3 * 10_000
    days = hd.group_by("psn_no").agg(pl.col("wd").unique())
    assert all(set(d) <= {1, 3, 5} or set(d) <= {2, 4, 6} for d in days["wd"].to_list())


def test_pet_ct_stages_a_cancer_at_most_once_a_half_year(wide) -> None:
    _, care, _ = wide
    pet = care["fee_list_d"].filter(pl.col("med_list_codg") == _code("正电子发射计算机断层显像(PET/CT)"))
    assert pet.height > 5
    assert pet.group_by("psn_no").agg(pl.col("cnt").sum())["cnt"].max() <= 2 * 10_000


def test_chronic_conditions_listed_on_a_stay_are_treated_in_it(wide) -> None:
    # a 心力衰竭 listed as a secondary diagnosis comes with one of its drugs (the CC is supported)
    _, care, enc = wide
    hf = next(c for c in dx.CONDITIONS if c.key == "heart_failure")
    drugs = [_code(n) for n in hf.drugs]
    stays = enc.filter(pl.col("kind") == "inpatient").select("mdtrt_id")
    listed = care["setl_list_diag_d"].filter((pl.col("maindiag_flag") == "0") & pl.col("diag_code").str.starts_with("I50"))
    listed = listed.join(stays, on="mdtrt_id").select("mdtrt_id").unique()
    treated = care["fee_list_d"].filter(pl.col("med_list_codg").is_in(drugs)).select("mdtrt_id").unique()
    assert listed.height > 20
    assert listed.join(treated, on="mdtrt_id", how="anti").height == 0


def test_no_drug_is_dispensed_twice_a_day_at_one_place(wide) -> None:
    _, care, enc = wide
    drugs = [i.med_list_codg for i in default_catalog().items() if i.list_type == "drug"]
    lines = care["fee_list_d"].filter(pl.col("med_list_codg").is_in(drugs) & (pl.col("prd_days") > 0))
    lines = lines.join(enc.filter(pl.col("kind") != "inpatient").select("mdtrt_id"), on="mdtrt_id")
    per_day = lines.group_by("psn_no", "med_list_codg", "fixmedins_code", pl.col("fee_ocur_time").dt.date()).agg(
        pl.col("mdtrt_id").n_unique().alias("n")
    )
    assert lines.height > 10_000
    assert per_day.filter(pl.col("n") > 1).height <= lines.height // 10_000  # only an encounter's only line


def test_items_only_some_departments_may_order_are_ordered_by_them(wide) -> None:
    # 限定开单科室 (R-DEPT-01) holds in clean care: the item is given only where an allowed department is,
    # and a line of it in another department's encounter is a 会诊 order of an allowed department's doctor
    persons, care, _ = wide
    institutions = make_institutions(np.random.default_rng([5, 3]), 12_000)
    con = connect(threads=1)
    register_frames(con, {"psn_info_b": persons, **institutions, **{t: care[t] for t in ("mdtrt_d", "fee_list_d")}})
    rule = default_library().rule("R-DEPT-01")
    assert kind_module(rule.kind).batch(con, rule, default_kb()).height == 0
    f = care["fee_list_d"].filter(pl.col("med_list_codg").is_in(list(default_kb().depts)))
    consults = f.join(care["mdtrt_d"].select("mdtrt_id", "atddr_no"), on="mdtrt_id").filter(pl.col("bilg_dr_codg") != pl.col("atddr_no"))
    staff = institutions["medstaff_b"].select("staff_codg", pl.col("fixmedins_code").alias("home"))
    assert f.height > 100 and consults.height > 5
    homes = consults.join(staff, left_on="bilg_dr_codg", right_on="staff_codg")
    assert homes.height == consults.height and (homes["home"] == homes["fixmedins_code"]).all()


def test_every_encounter_has_a_fee_line(wide) -> None:
    _, care, enc = wide
    assert enc.join(care["fee_list_d"].select("mdtrt_id").unique(), on="mdtrt_id", how="anti").height == 0


def test_every_stent_stay_bills_dual_antiplatelet_therapy_and_trips_no_stent_rule(wide_region) -> None:
    # a stent without aspirin + clopidogrel / ticagrelor is a phantom stent (R-STENT-02); one billed
    # outside a stay is another (R-STENT-01): clean care shows neither
    import duckdb

    from yibao.supervision.audit import register_frames
    from yibao.supervision.kb import default_kb
    from yibao.supervision.library import default_library, kind_module

    persons, institutions, care = wide_region
    fee = care["fee_list_d"]
    stent_stays = fee.filter(pl.col("med_list_codg") == _code("冠状动脉药物洗脱支架")).select("mdtrt_id").unique()
    assert stent_stays.height > 15
    for drugs in (["阿司匹林肠溶片"], ["硫酸氢氯吡格雷片", "替格瑞洛片"]):
        given = fee.filter(pl.col("med_list_codg").is_in([_code(n) for n in drugs])).select("mdtrt_id").unique()
        assert stent_stays.join(given, on="mdtrt_id", how="anti").height == 0, drugs
    con = duckdb.connect()
    register_frames(con, {"psn_info_b": persons, "fixmedins_b": institutions["fixmedins_b"], **care})
    lib = default_library()
    for rid in ("R-STENT-01", "R-STENT-02"):
        rule = lib.rule(rid)
        assert kind_module(rule.kind).batch(con, rule, default_kb()).height == 0, rid
