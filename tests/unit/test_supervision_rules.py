"""Every rule kind fires on a minimal violating example and stays quiet on its legitimate look-alike,
online (one encounter in national 3101 shapes, with history) and in batch (the same encounters as
dataset views in DuckDB)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
import pytest

from yibao.catalog.trace import product_prefix, trace_code
from yibao.dataset.schema import TABLES
from yibao.supervision.kb import default_kb
from yibao.supervision.library import default_library, kind_module
from yibao.supervision.online import check
from yibao.supervision.rules._base import caty_of
from yibao.supervision.rules._sql import FINDING_COLUMNS

KB = default_kb()
LIB = default_library()

# --- a tiny builder of national encounters ------------------------------------------------------

_serial = [900_000_000]


def code_of(drug: str) -> str:
    """A fresh valid traceability code of ``drug``'s product."""
    _serial[0] += 1
    return trace_code(product_prefix(drug), _serial[0])


def line(code: str, *, cnt: str = "1", pric: str | None = None, time: str | None = None, rx: str | None = None,
         prd_days: int | None = None, rxno: str = "", traces: Sequence[str] = (), returns: Sequence[str] = ()) -> dict[str, Any]:  # fmt: skip
    d: dict[str, Any] = {"hilist_code": code, "hilist_name": KB.name(code), "cnt": cnt, "pric": pric or "10"}
    if time:
        d["drord_begn_date"] = time
    if rx:
        d["rx_id"] = rx
    if prd_days is not None:
        d["prd_days"] = prd_days
    if rxno:
        d["rxno"] = rxno
    info = [{"drug_trac_codg": c} for c in traces] + [
        {"drug_trac_codg": c, "retn_flag": "1"} for c in returns
    ]
    if info:
        d["drugtracinfo"] = info
    return d


def enc(mid: str, lines: Sequence[dict[str, Any]], *, inst: str = "H2", lv: str = "05", med_type: str = "11",
        adm: str = "2024-05-10 09:00:00", dscg: str | None = None, dx: Sequence[str] = (), ops: Sequence[str] = (),
        insutype: str = "310", dept: str = "KSA03", doctor: str = "D1") -> dict[str, Any]:  # fmt: skip
    out = []
    for i, ln in enumerate(lines):
        ln = dict(ln)
        ln.setdefault("rx_id", f"{mid}-{i + 1}")
        ln.setdefault("drord_begn_date", adm)
        ln.setdefault("drord_dr_codg", doctor)
        out.append(ln)
    return {
        "mdtrt_id": mid, "medins_id": inst, "medins_lv": lv, "med_type": med_type, "adm_date": adm,
        "dscg_date": dscg or adm, "insutype": insutype, "adm_dept_codg": dept, "dr_codg": doctor,
        "fsi_diagnose_dtos": [{"dise_codg": c, "maindise_flag": "1" if i == 0 else "0"} for i, c in enumerate(dx)],
        "fsi_operation_dtos": [{"oprn_code": c} for c in ops],
        "fsi_order_dtos": out,
    }  # fmt: skip


def person(
    pid: str = "P1", gend: str = "1", brdy: str = "1980-03-15", death: str | None = None
) -> dict[str, Any]:
    p = {"patn_id": pid, "gend": gend, "brdy": brdy}
    if death:
        p["death_date"] = death
    return p


Case = list[tuple[dict[str, Any], list[dict[str, Any]]]]  # (patient, encounters)


# --- the same encounters as dataset views -------------------------------------------------------


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s if len(s) > 10 else s + " 00:00:00")


def _scaled(v: Any, places: int) -> int:
    return int(Decimal(str(v)) * 10**places)


def frames(case: Case) -> dict[str, pl.DataFrame]:
    """The encounters as dataset tables; dept_b lists each encounter's department (科别 = its code when that is
    a 科别, or ``adm_dept_caty``) and each ordering doctor's own department (``drord_dr_caty``), medstaff_b the
    doctors in them."""
    psn, inst, mdtrt, diag, oprn, fee, trac = [], {}, [], [], [], [], []
    depts: dict[tuple[str, str], dict[str, Any]] = {}
    staff: dict[str, dict[str, Any]] = {}
    for p, encs in case:
        psn.append({"psn_no": p["patn_id"], "gend": p["gend"], "brdy": date.fromisoformat(p["brdy"]), "insutype": "310",
                    "death_date": date.fromisoformat(p["death_date"]) if p.get("death_date") else None})  # fmt: skip
        for e in encs:
            inst[e["medins_id"]] = {"fixmedins_code": e["medins_id"], "fixmedins_type": "2" if e["med_type"] == "41" else "1",
                                    "hosp_lv": e["medins_lv"], "bed_cnt": 100}  # fmt: skip
            mdtrt.append({"mdtrt_id": e["mdtrt_id"], "psn_no": p["patn_id"], "fixmedins_code": e["medins_id"],
                          "med_type": e["med_type"], "begntime": _ts(e["adm_date"]), "endtime": _ts(e["dscg_date"]),
                          "dscg_maindiag_code": e["fsi_diagnose_dtos"][0]["dise_codg"] if e["fsi_diagnose_dtos"] else "",
                          "dept_codg": e["adm_dept_codg"], "atddr_no": e["dr_codg"], "insutype": e["insutype"], "dscg_way": ""})  # fmt: skip
            ward_caty = e.get("adm_dept_caty") or caty_of(e["adm_dept_codg"])
            depts.setdefault((e["medins_id"], e["adm_dept_codg"]), {"fixmedins_code": e["medins_id"],
                             "dept_codg": e["adm_dept_codg"], "dept_name": "", "caty": ward_caty, "bed_cnt": 10})  # fmt: skip
            for ln in e["fsi_order_dtos"]:
                own = ln.get("drord_dr_caty")
                home = f"KS{own}" if own else e["adm_dept_codg"]
                if own:
                    depts.setdefault((e["medins_id"], home), {"fixmedins_code": e["medins_id"], "dept_codg": home,
                                     "dept_name": "", "caty": own, "bed_cnt": 10})  # fmt: skip
                staff.setdefault(ln["drord_dr_codg"], {"staff_codg": ln["drord_dr_codg"], "staff_type": "1",
                                 "fixmedins_code": e["medins_id"], "dept_codg": home})  # fmt: skip
            for d in e["fsi_diagnose_dtos"]:
                diag.append({"mdtrt_id": e["mdtrt_id"], "diag_type": "1", "maindiag_flag": d["maindise_flag"],
                             "diag_code": d["dise_codg"], "diag_name": ""})  # fmt: skip
            for o in e["fsi_operation_dtos"]:
                oprn.append({"mdtrt_id": e["mdtrt_id"], "oprn_code": o["oprn_code"], "oprn_name": "", "main_oprn_flag": "1",
                             "oprn_date": _ts(e["adm_date"]).date()})  # fmt: skip
            for ln in e["fsi_order_dtos"]:
                cnt, pric = _scaled(ln["cnt"], 4), _scaled(ln["pric"], 6)
                item = KB.items.get(ln["hilist_code"])
                fee.append({"feedetl_sn": ln["rx_id"], "mdtrt_id": e["mdtrt_id"], "psn_no": p["patn_id"],
                            "fixmedins_code": e["medins_id"], "med_list_codg": ln["hilist_code"],
                            "med_chrgitm_type": item.med_chrgitm_type if item else "14",
                            "fee_ocur_time": _ts(ln["drord_begn_date"]), "cnt": cnt, "pric": pric,
                            "det_item_fee_sumamt": (pric * cnt + 50_000_000) // 100_000_000,
                            "bilg_dr_codg": ln["drord_dr_codg"], "bilg_dept_codg": e["adm_dept_codg"],
                            "rxno": ln.get("rxno", ""), "prd_days": int(ln.get("prd_days", 0))})  # fmt: skip
                for t in ln.get("drugtracinfo", ()):
                    trac.append({"drug_trac_codg": t["drug_trac_codg"], "feedetl_sn": ln["rx_id"], "mdtrt_id": e["mdtrt_id"],
                                 "med_list_codg": ln["hilist_code"], "fixmedins_code": e["medins_id"],
                                 "sel_time": _ts(ln["drord_begn_date"]), "retn_flag": t.get("retn_flag", "0")})  # fmt: skip
    rows = {"psn_info_b": psn, "fixmedins_b": list(inst.values()), "mdtrt_d": mdtrt, "setl_list_diag_d": diag,
            "setl_list_oprn_d": oprn, "fee_list_d": fee, "drug_trac_d": trac, "dept_b": list(depts.values()),
            "medstaff_b": list(staff.values())}  # fmt: skip
    kinds = {"str": pl.String, "int": pl.Int64, "money": pl.Int64, "count": pl.Int64, "price": pl.Int64, "date": pl.Date,
             "datetime": pl.Datetime("us"), "ratio": pl.Int64, "float": pl.Float64}  # fmt: skip
    out = {}
    for name, data in rows.items():
        t = TABLES[name]
        cols = [c for c in t.columns if not data or c.name in data[0]] if data else list(t.columns)
        schema = {c.name: kinds[c.kind] for c in cols}
        out[name] = pl.DataFrame(data, schema=schema) if data else pl.DataFrame(schema=schema)
    return out


def batch(rule_id: str, case: Case) -> pl.DataFrame:
    con = duckdb.connect()
    for name, df in frames(case).items():
        con.register(f"src_{name}", df.to_arrow())
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM src_{name}")
    rule = LIB.rule(rule_id)
    out = kind_module(rule.kind).batch(con, rule, KB)
    assert tuple(out.columns) == FINDING_COLUMNS
    assert out.get_column("jr_id").is_unique().all()
    return out


def online(rule_id: str, case: Case, *, stage: str = "事后") -> list[Any]:
    """Findings of ``rule_id`` on the last encounter of the last patient, the others being its history."""
    p, encs = case[-1]
    return check(encs[-1], encs[:-1], patient=p, stage=stage, rule_ids=[rule_id])


def both(rule_id: str, case: Case) -> tuple[list[Any], pl.DataFrame]:
    return online(rule_id, case), batch(rule_id, case)


def sns(df: pl.DataFrame) -> list[str]:
    return sorted(df.get_column("feedetl_sn").to_list())


# --- the library ----------------------------------------------------------------------------------


def test_library_has_at_least_25_kinds_each_with_online_and_batch_forms():
    kinds = LIB.kinds()
    assert len(kinds) >= 25
    for k in kinds:
        mod = kind_module(k)
        assert mod.__doc__ and "Before" in mod.__doc__ and "After" in mod.__doc__, k
        for fn in ("prepare", "online", "batch"):
            assert callable(getattr(mod, fn)), (k, fn)


def test_every_rule_has_legal_basis_stage_and_pattern():
    for r in LIB.rules:
        assert r.legal_basis and r.stage and r.pattern and r.logic


# --- catalogue restrictions -------------------------------------------------------------------


TCT = "002703000010000"
LETROZOLE = "XL02BGL110A001010108735"


def test_gender_fires_on_a_womans_test_billed_for_a_man():
    f, b = both("R-GEND-01", [(person(gend="1"), [enc("M1", [line(TCT, pric="100")])])])
    assert [x.rule_id for x in f] == ["R-GEND-01"] and f[0].vola_amt == 10000
    assert sns(b) == ["M1-1"] and b["vola_amt"].to_list() == [10000] and "限女性" in b["vola_cont"][0]


def test_gender_stays_quiet_for_male_breast_cancer_and_for_women():
    case = [(person("P1", "1"), [enc("M1", [line(LETROZOLE, prd_days=30)], dx=["C50.901"])]),
            (person("P2", "2"), [enc("M2", [line(TCT)])])]  # fmt: skip
    f, b = both("R-GEND-01", case)
    assert f == [] and b.height == 0
    assert online("R-GEND-01", case[:1]) == []


def test_gender_leaves_a_card_with_the_other_sexs_diagnoses_to_identity():
    case = [(person(gend="1"), [enc("M1", [line(TCT)], dx=["N87.900"])])]
    f, b = both("R-GEND-01", case)
    assert f == [] and b.height == 0
    assert [x.rule_id for x in online("R-IDENT-01", case)] == ["R-IDENT-01"]


def test_age_fires_on_a_childs_item_for_an_adult_and_not_for_adult_dysphagia():
    scalp = "001204000070000"
    f, b = both("R-AGE-01", [(person(brdy="1972-01-01"), [enc("M1", [line(scalp)])])])
    assert len(f) == 1 and sns(b) == ["M1-1"] and "52岁" in b["vola_cont"][0]
    quiet = [
        (
            person(brdy="1950-01-01"),
            [enc("M1", [line("XM01AEL076A041010175985", prd_days=5)], dx=["R13.x00", "I63.900"])],
        )
    ]
    f, b = both("R-AGE-01", quiet)
    assert f == [] and b.height == 0
    kid = [(person(brdy="2021-01-01"), [enc("M1", [line(scalp)])])]
    assert both("R-AGE-01", kid)[0] == []


def test_visit_type_fires_on_an_inpatient_only_drug_in_an_outpatient_visit():
    aa = "XB05BAG072B003010113859"
    f, b = both("R-VISIT-01", [(person(), [enc("M1", [line(aa)], med_type="11")])])
    assert len(f) == 1 and b.height == 1
    f, b = both(
        "R-VISIT-01", [(person(), [enc("M1", [line(aa)], med_type="21", dscg="2024-05-14 10:00:00")])]
    )
    assert f == [] and b.height == 0


def test_hosp_level_fires_below_the_required_level():
    angio = "003201000010000"
    f, b = both("R-LEVEL-01", [(person(), [enc("M1", [line(angio, pric="1500")], lv="08")])])
    assert len(f) == 1 and b.height == 1 and "二级" in b["vola_cont"][0]
    assert both("R-LEVEL-01", [(person(), [enc("M1", [line(angio, pric="1500")], lv="01")])])[1].height == 0


def test_insutype_fires_on_an_item_only_the_maternity_fund_pays_settled_by_another():
    ivf = "003313030200000"  # 胚胎移植术: restrictions.csv insutypes 510
    f, b = both(
        "R-INSU-01",
        [(person(gend="2"), [enc("M1", [line(ivf, pric="3000")], med_type="21", insutype="310")])],
    )
    assert len(f) == 1 and b.height == 1
    ok = [(person(gend="2"), [enc("M1", [line(ivf, pric="3000")], med_type="52", insutype="510")])]
    assert both("R-INSU-01", ok)[1].height == 0 and online("R-INSU-01", ok) == []


def test_indication_fires_without_the_justifying_diagnosis():
    dapa = "XA10BKN030A001010111970"
    f, b = both("R-IND-01", [(person(), [enc("M1", [line(dapa, prd_days=14)], dx=["K29.500"])])])
    assert len(f) == 1 and b.height == 1 and "K29.500" in b["vola_cont"][0]
    f, b = both("R-IND-01", [(person(), [enc("M1", [line(dapa, prd_days=14)], dx=["K29.500", "E11.900"])])])
    assert f == [] and b.height == 0


def test_catalogue_scope_fires_on_a_supplements_codes_billed_as_a_vitamin():
    vc, multi = "XA11GAW137A001010158992", "XA11AAY138A001010163975"
    codes = [code_of(multi), code_of(multi)]
    f, b = both(
        "R-SCOPE-01",
        [(person(), [enc("M1", [line(vc, cnt="2", pric="3", traces=codes)], med_type="41", inst="Y1")])],
    )
    assert len(f) == 2 and b.height == 2 and sorted(b["drug_trac_codg"].to_list()) == sorted(codes)
    assert b["vola_amt"].to_list() == [300, 300]
    ok = [
        (person(), [enc("M1", [line(vc, cnt="1", pric="3", traces=[code_of(vc)])], med_type="41", inst="Y1")])
    ]
    assert both("R-SCOPE-01", ok)[1].height == 0


def test_catalogue_scope_online_fires_on_a_class_c_line_with_an_in_scope_amount():
    multi = "XA11AAY138A001010163975"
    ln = line(multi, pric="20") | {"ownpay_amt": "0"}
    assert len(online("R-SCOPE-01", [(person(), [enc("M1", [ln])])])) == 1
    ln = line(multi, pric="20") | {"ownpay_amt": "20.00"}
    assert online("R-SCOPE-01", [(person(), [enc("M1", [ln])])]) == []


SINTILIMAB = "XL01FFE116B001010179096"  # 信迪利单抗 限肿瘤科 (A19)、血液内科 (A03.05); C22 among its indications
OLANZAPINE = "XN05AHT124A001010190303"  # 奥氮平片 限精神科 (A15)、神经内科 (A03.03)
CISPLATIN = "XL01XAD103B001010175972"  # 顺铂 (普通使用级): any department may order it


def _verdicts(f: list[Any], b: pl.DataFrame) -> tuple[list[tuple[str, int, str]], list[tuple[str, int, str]]]:
    """(line, amount, sentence up to the amount) of the online findings and of the batch rows (the amount
    is written 2,160.00 online and 2160.00 in batch)."""
    online_ = sorted((x.feedetl_sn, x.vola_amt, x.vola_cont.split("，违规金额")[0]) for x in f)
    return online_, sorted((sn, a, c.split("，违规金额")[0]) for sn, a, c in b.select("feedetl_sn", "vola_amt", "vola_cont").iter_rows())


def test_dept_restriction_fires_on_a_pd1_inhibitor_ordered_by_general_surgery():
    ln = line(SINTILIMAB, cnt="2", pric="1080") | {"drord_dr_caty": "A04.01"}
    case = [(person(), [enc("M1", [ln], dept="A04.01", dx=["C22.000"])])]
    f, b = both("R-DEPT-01", case)
    on, off = _verdicts(f, b)
    assert on == off == [("M1-1", 216000, on[0][2])]
    assert "限肿瘤科（A19）、血液内科（A03.05）开具，开单科室为普通外科（A04.01）" in on[0][2]
    assert f[0].sev_deg == "2" and f[0].pattern == "catalogue_scope"


def test_dept_restriction_exempts_a_consultation_order_of_an_allowed_departments_doctor():
    consult = line(SINTILIMAB, pric="1080") | {"drord_dr_codg": "D9", "drord_dr_caty": "A19"}
    case = [(person(), [enc("M1", [consult], dept="A04.01", dx=["C22.000"])])]
    f, b = both("R-DEPT-01", case)
    assert f == [] and b.height == 0
    # the same order written by a surgeon of the ward is a violation
    ward = line(SINTILIMAB, pric="1080") | {"drord_dr_codg": "D9", "drord_dr_caty": "A04.01"}
    f, b = both("R-DEPT-01", [(person(), [enc("M1", [ward], dept="A04.01", dx=["C22.000"])])])
    assert len(f) == 1 and b.height == 1 and "开单医师 D9 所属科室为普通外科（A04.01）" in b["vola_cont"][0]


def test_dept_restriction_passes_allowed_departments_their_subspecialties_and_unrestricted_items():
    for dept, code in (("A19", SINTILIMAB), ("A03.05", SINTILIMAB), ("A03.03", OLANZAPINE), ("A04.01", CISPLATIN)):
        case = [(person(), [enc("M1", [line(code, pric="100")], dept=dept, dx=["C22.000"])])]
        f, b = both("R-DEPT-01", case)
        assert f == [] and b.height == 0, (dept, code)
    # 神经内科 (A03.03) may order 奥氮平, 内科 (A03) as a whole may not
    f, b = both("R-DEPT-01", [(person(), [enc("M1", [line(OLANZAPINE, pric="20")], dept="A03")])])
    assert len(f) == 1 and _verdicts(f, b)[0] == _verdicts(f, b)[1]


def test_dept_restriction_does_not_judge_an_order_whose_department_is_unknown():
    case = [(person(), [enc("M1", [line(SINTILIMAB, pric="1080")], dept="KS-UNKNOWN", dx=["C22.000"])])]
    f, b = both("R-DEPT-01", case)
    assert f == [] and b.height == 0
    # a 科别 written without its letter, as 诊疗科目 registers do, is read as the 科别
    known = [(person(), [enc("M1", [line(SINTILIMAB, pric="1080")], dept="KS0401", dx=["C22.000"])])]
    known[0][1][0]["adm_dept_caty"] = "04.01"
    f, b = both("R-DEPT-01", known)
    assert len(f) == 1 and b.height == 1 and "普通外科（A04.01）" in b["vola_cont"][0]


def test_a_dept_restriction_naming_an_unknown_department_is_refused_by_line(tmp_path: Any) -> None:
    import shutil

    from yibao.supervision.kb import KBError, load_kb, rules_root

    kb_dir = tmp_path / "kb"
    shutil.copytree(rules_root() / "kb", kb_dir)
    path = kb_dir / "restrictions.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([rows[0], f"{SINTILIMAB},depts,A19|A99,"]) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"restrictions\.csv line 2, column value: 'A99' is not a 科别 code"):
        load_kb(kb_dir)


def test_nonpayable_diagnosis_fires_on_physiotherapy_for_melasma():
    sw = "003401000010000"
    f, b = both(
        "R-NOPAY-01", [(person(gend="2"), [enc("M1", [line(sw, cnt="3", pric="6")], dx=["L81.100"])])]
    )
    assert len(f) == 1 and b.height == 1 and b["vola_amt"].to_list() == [1800]
    assert both("R-NOPAY-01", [(person(), [enc("M1", [line(sw)], dx=["M54.502"])])])[1].height == 0


def test_single_herb_fires_on_a_prescription_of_one_listed_piece():
    f, b = both("R-HERB-01", [(person(), [enc("M1", [line("T000132239", rxno="RX1")])])])
    assert len(f) == 1 and b.height == 1
    ok = [(person(), [enc("M1", [line("T000132239", rxno="RX1"), line("T000607874", rxno="RX1")])])]
    for rid in ("R-HERB-01", "R-HERB-02"):
        f, b = both(rid, ok)
        assert f == [] and b.height == 0
    listed = [(person(), [enc("M1", [line("T002139903", rxno="RX1"), line("T002232445", rxno="RX1")])])]
    f, b = both("R-HERB-02", listed)
    assert len(f) == 2 and b.height == 2
    assert both("R-HERB-01", listed)[1].height == 0


# --- charges --------------------------------------------------------------------------------------


CBC = "002501010150000"
KNEE, KNEE_PROS = "003315060010000", "C03010202700100000179398883"


def test_duplicate_item_fires_on_the_same_test_twice_at_one_time():
    t = "2024-05-10 09:31:00"
    f, b = both("R-DUP-01", [(person(), [enc("M1", [line(CBC, time=t), line(CBC, time=t)])])])
    assert [x.feedetl_sn for x in f] == ["M1-2"] and sns(b) == ["M1-2"]


def test_duplicate_item_stays_quiet_for_a_bilateral_operation_and_a_repeat_test():
    t = "2024-05-10 09:31:00"
    knees = [line(KNEE, pric="4500", time=t), line(KNEE, pric="4500", time=t), line(KNEE_PROS, pric="5000", time=t),
             line(KNEE_PROS, pric="5000", time=t)]  # fmt: skip
    case = [(person(), [enc("M1", knees, med_type="21", ops=["81.5400", "81.5400"], dscg="2024-05-18 10:00:00")]),
            (person("P2"), [enc("M2", [line(CBC, time=t), line(CBC, time="2024-05-10 17:31:00")], med_type="21",
                                dscg="2024-05-12 10:00:00")])]  # fmt: skip
    f, b = both("R-DUP-01", case)
    assert f == [] and b.height == 0
    assert online("R-DUP-01", case[:1]) == []


def test_included_component_fires_on_angiography_next_to_a_stent_procedure():
    pci, angio = "003205000040000", "003201000010000"
    case = [
        (
            person(),
            [
                enc(
                    "M1",
                    [line(pci, pric="4000"), line(angio, pric="1600")],
                    med_type="21",
                    dscg="2024-05-14 10:00:00",
                )
            ],
        )
    ]
    f, b = both("R-INCL-01", case)
    assert (
        [x.feedetl_sn for x in f] == ["M1-2"] and sns(b) == ["M1-2"] and b["vola_amt"].to_list() == [160000]
    )
    alone = [(person(), [enc("M1", [line(angio, pric="1600")], med_type="21", dscg="2024-05-14 10:00:00")])]
    assert both("R-INCL-01", alone)[1].height == 0


def test_exclusive_items_fire_on_two_nursing_levels_in_one_day_but_not_on_two_days():
    n1, n2 = "001201000030000", "001201000040000"
    day = [line(n1, time="2024-05-10 08:00:00"), line(n2, time="2024-05-10 08:00:00")]
    f, b = both("R-EXCL-01", [(person(), [enc("M1", day, med_type="21", dscg="2024-05-14 10:00:00")])])
    assert len(f) == 1 and sns(b) == ["M1-2"]
    days = [line(n1, time="2024-05-10 08:00:00"), line(n2, time="2024-05-11 08:00:00")]
    assert (
        both("R-EXCL-01", [(person(), [enc("M1", days, med_type="21", dscg="2024-05-14 10:00:00")])])[
            1
        ].height
        == 0
    )


def test_overprice_fires_above_the_levels_cap_with_the_price_gap():
    doppler = "002202000010000"  # cap 二级 ¥90.00
    f, b = both("R-PRICE-01", [(person(), [enc("M1", [line(doppler, cnt="2", pric="109.80")], lv="05")])])
    assert f[0].vola_amt == 3960 and b["vola_amt"].to_list() == [3960]
    assert both("R-PRICE-01", [(person(), [enc("M1", [line(doppler, pric="90")], lv="05")])])[1].height == 0
    assert both("R-PRICE-01", [(person(), [enc("M1", [line(doppler, pric="100")], lv="01")])])[1].height == 0


def test_primary_secondary_fires_on_a_second_operation_at_full_price():
    chole, app = "003310010050000", "003310030010000"
    full = [line(chole, pric="2500"), line(app, pric="1200")]
    f, b = both(
        "R-PRIM-01", [(person(), [enc("M1", full, lv="01", med_type="21", dscg="2024-05-14 10:00:00")])]
    )
    assert len(f) == 1 and b["vola_amt"].to_list() == [60000]
    half = [line(chole, pric="2500"), line(app, pric="600")]
    assert (
        both(
            "R-PRIM-01", [(person(), [enc("M1", half, lv="01", med_type="21", dscg="2024-05-14 10:00:00")])]
        )[1].height
        == 0
    )


def test_unbundling_fires_on_one_infusion_split_into_three():
    iv = "001204000060000"
    split = [
        line(iv, time="2024-05-10 10:40:00"),
        line(iv, time="2024-05-10 10:47:00"),
        line(iv, time="2024-05-10 10:58:00"),
    ]
    f, b = both("R-SPLIT-01", [(person(), [enc("M1", split)])])
    assert sorted(x.feedetl_sn for x in f) == ["M1-2", "M1-3"] and sns(b) == ["M1-2", "M1-3"]
    apart = [line(iv, time="2024-05-10 10:40:00"), line(iv, time="2024-05-10 16:40:00")]
    assert both("R-SPLIT-01", [(person(), [enc("M1", apart)])])[1].height == 0


def test_item_swap_names_the_institution_far_above_its_peers_not_its_lines():
    bus, doppler = "002201000010000", "002202000010000"
    case: Case = []
    n = 0
    for h in range(7):
        dear_share = 0.7 if h == 0 else 0.2 + 0.02 * h
        for k in range(40):
            n += 1
            code = doppler if k < int(40 * dear_share) else bus
            case.append(
                (
                    person(f"P{n}"),
                    [enc(f"M{n}", [line(code, pric="90" if code == doppler else "35")], inst=f"H{h}")],
                )
            )
    b = batch("R-SWAP-01", case)
    assert b.height == 1 and b["fixmedins_code"].to_list() == ["H0"] and b["feedetl_sn"].to_list() == [""]
    # 28 of 40 dear; the peers' median share 0.275 → 11 expected, 17 excess × (¥90 − ¥35)
    assert b["vola_amt"].to_list() == [17 * 5500] and b["sev_deg"].to_list() == ["2"]
    cont = b["vola_cont"][0]
    assert "H0" in cont and "彩色多普勒超声" in cont and "估算多收 17 次" in cont and "R-SWAP-01" in cont


def test_swap_level_fires_on_a_dear_twin_the_level_does_not_provide():
    ct, enhanced = "002103000010000", "002103000020000"  # CT增强 has no 一级 price; CT平扫 has (¥90)
    f, b = both("R-SWAP-02", [(person(), [enc("M1", [line(enhanced, pric="170")], lv="10")])])
    assert len(f) == 1 and sns(b) == ["M1-1"]
    assert f[0].vola_amt == b["vola_amt"][0] == 8000 and "疑将「X线计算机体层(CT)平扫」" in b["vola_cont"][0]
    assert f[0].evidence["vola_amt_stas"] == "2"
    # the same item at a 二级 hospital, and the cheap twin at a 一级 one, are what those levels provide
    assert both("R-SWAP-02", [(person(), [enc("M1", [line(enhanced, pric="170")], lv="05")])])[1].height == 0
    assert both("R-SWAP-02", [(person(), [enc("M1", [line(ct, pric="90")], lv="10")])])[1].height == 0


def test_cc_support_fires_on_a_cc_nothing_in_the_stay_supports():
    cbc, oxygen, ceftriaxone = "002501010150000", "001210000010000", "XJ01DDY007B002010154821"
    stay = {"med_type": "21", "dscg": "2024-05-16 10:00:00"}
    lines = [line(cbc, pric="20"), line(ceftriaxone, pric="30", cnt="6")]
    f, b = both("R-CC-01", [(person(), [enc("M1", lines, dx=["J18.900", "I10.x09", "J96.000"], **stay)])])
    assert len(f) == 1 and b["mdtrt_id"].to_list() == ["M1"] and b["feedetl_sn"].to_list() == [""]
    cont = b["vola_cont"][0]
    assert "J96.000 急性呼吸衰竭（MCC）" in cont and "氧气吸入" in cont and "本次住院总费用 200.00 元" in cont
    assert b["vola_amt"].to_list() == [0] and f[0].evidence["vola_amt_stas"] == "0"
    # oxygen supports it; pneumonia is the principal diagnosis (not a CC here) and has its antibiotic anyway
    ok = [*lines, line(oxygen, pric="5", cnt="3")]
    assert (
        both("R-CC-01", [(person(), [enc("M1", ok, dx=["J18.900", "I10.x09", "J96.000"], **stay)])])[1].height
        == 0
    )
    # pneumonia as a secondary diagnosis without any antibacterial is unsupported; a visit is not a stay
    f2, b2 = both(
        "R-CC-01", [(person(), [enc("M1", [line(cbc, pric="20")], dx=["I63.900", "J18.900"], **stay)])]
    )
    assert len(f2) == 1 and "J18.900 肺炎（CC）" in b2["vola_cont"][0]
    assert (
        both("R-CC-01", [(person(), [enc("M1", [line(cbc, pric="20")], dx=["I63.900", "J18.900"])])])[
            1
        ].height
        == 0
    )


def test_consumable_link_fires_on_a_stent_without_a_stent_procedure():
    stent, pci = "C02010101900100001008722701", "003205000040000"
    f, b = both(
        "R-LINK-01",
        [(person(), [enc("M1", [line(stent, pric="700")], med_type="21", dscg="2024-05-14 10:00:00")])],
    )
    assert len(f) == 1 and b.height == 1
    ok = [
        (
            person(),
            [
                enc(
                    "M1",
                    [line(pci, pric="4000"), line(stent, pric="700")],
                    med_type="21",
                    dscg="2024-05-14 10:00:00",
                )
            ],
        )
    ]
    assert both("R-LINK-01", ok)[1].height == 0



def test_consumable_link_takes_a_stent_billed_the_morning_after_discharge_as_the_stays():
    stay = enc("M1", [line(BED), line(PCI, pric="4000")], inst="H5", lv="03", med_type="21", adm="2024-03-01 09:00:00",
               dscg="2024-03-08 10:00:00", dx=["I21.900"])  # fmt: skip
    late = enc("M2", [line(STENT, pric="700")], inst="H5", lv="03", adm="2024-03-09 08:30:00", dx=["I21.900"])
    f, b = both("R-LINK-01", [(person(), [stay, late])])
    assert f == [] and b.height == 0
    # two days later, or after a stay elsewhere, or after a stay without the procedure, it is a finding
    for other in ({**late, "adm_date": "2024-03-10 12:00:00", "dscg_date": "2024-03-10 12:00:00"}, {**late, "medins_id": "H9"}):
        f, b = both("R-LINK-01", [(person(), [stay, other])])
        assert len(f) == 1 and b.height == 1
    plain = {**stay, "fsi_order_dtos": stay["fsi_order_dtos"][:1]}
    assert [len(x) for x in both("R-LINK-01", [(person(), [plain, late])])] == [1, 1]


def test_frequency_fires_on_two_registration_fees_in_one_visit():
    reg = "001101000010000"  # 挂号费: once per encounter
    f, b = both("R-FREQ-01", [(person(), [enc("M1", [line(reg, pric="1"), line(reg, pric="1")])])])
    assert len(f) == 1 and sns(b) == ["M1-2"]
    assert json.loads(b["evidence"][0])["earlier"] == ["M1-1"]  # the charge it repeats, for the reviewer
    two_visits = [
        (
            person(),
            [enc("M1", [line(reg, pric="1")]), enc("M2", [line(reg, pric="1")], adm="2024-05-10 15:00:00")],
        )
    ]
    assert both("R-FREQ-01", two_visits)[1].height == 0


def test_frequency_counts_a_weeks_dialysis_across_encounters():
    dia = "003110000060000"
    encs = [
        enc(f"M{d}", [line(dia, pric="380")], med_type="14", adm=f"2024-05-{d:02d} 09:00:00")
        for d in (6, 7, 8, 9)
    ]
    f, b = both("R-FREQ-01", [(person(), encs)])
    assert len(f) == 1 and sns(b) == ["M9-1"]


def test_quantity_scaled_by_the_stay_fires_on_more_bed_days_than_days_in_hospital():
    bed = "001109000010100"
    f, b = both(
        "R-QTY-02", [(person(), [enc("M1", [line(bed, cnt="9")], med_type="21", dscg="2024-05-15 10:00:00")])]
    )
    assert len(f) == 1 and b.height == 1 and f[0].vola_amt == 3 * 1000
    assert (
        both(
            "R-QTY-02",
            [(person(), [enc("M1", [line(bed, cnt="6")], med_type="21", dscg="2024-05-15 10:00:00")])],
        )[1].height
        == 0
    )


def test_quantity_per_day_fires_on_three_exercise_sessions():
    ex = "003402000010000"
    f, b = both("R-QTY-01", [(person(), [enc("M1", [line(ex, cnt="3")])])])
    assert len(f) == 1 and b.height == 1 and f[0].vola_amt == 1000
    assert both("R-QTY-01", [(person(), [enc("M1", [line(ex, cnt="2")])])])[1].height == 0


# --- drugs ----------------------------------------------------------------------------------------


def test_course_fires_after_twenty_days_of_butylphthalide():
    nbp = "XN07XXU131A013010196842"
    lines = [line(nbp, time=f"2024-05-{d:02d} 09:00:00") for d in range(1, 23)]
    f, b = both(
        "R-COURSE-01",
        [
            (
                person(),
                [
                    enc(
                        "M1",
                        lines,
                        med_type="21",
                        adm="2024-05-01 08:00:00",
                        dscg="2024-05-25 10:00:00",
                        dx=["I63.900"],
                    )
                ],
            )
        ],
    )
    assert len(f) == 2 and b.height == 2
    lines = [line(nbp, time=f"2024-05-{d:02d} 09:00:00") for d in range(1, 21)]
    case = [
        (
            person(),
            [
                enc(
                    "M1",
                    lines,
                    med_type="21",
                    adm="2024-05-01 08:00:00",
                    dscg="2024-05-25 10:00:00",
                    dx=["I63.900"],
                )
            ],
        )
    ]
    assert both("R-COURSE-01", case)[1].height == 0


def test_days_supply_fires_on_ninety_days_of_a_30_day_drug():
    met = "XA10BAY026A001010127690"
    f, b = both(
        "R-DAYS-01", [(person(), [enc("M1", [line(met, cnt="6", pric="10", prd_days=90)], dx=["E11.900"])])]
    )
    assert len(f) == 1 and b["vola_amt"].to_list() == [4000] and f[0].vola_amt == 4000


def test_days_supply_stays_quiet_for_a_long_prescription_of_a_chronic_disease():
    nif = "XC08CAZ037A004010198715"
    f, b = both(
        "R-DAYS-01",
        [(person(), [enc("M1", [line(nif, cnt="3", prd_days=84)], med_type="14", dx=["I10.x09"])])],
    )
    assert f == [] and b.height == 0
    f, b = both("R-DAYS-01", [(person(), [enc("M1", [line(nif, cnt="3", prd_days=84)], dx=["J06.900"])])])
    assert len(f) == 1 and b.height == 1


def test_early_refill_fires_on_a_second_supply_nine_days_into_thirty():
    aml = "XC08CAD036A001010172582"
    first = enc("M1", [line(aml, prd_days=30)], adm="2024-03-01 09:00:00", dx=["I10.x09"])
    f, b = both(
        "R-REFILL-01",
        [(person(), [first, enc("M2", [line(aml, prd_days=30)], adm="2024-03-10 09:00:00", dx=["I10.x09"])])],
    )
    assert len(f) == 1 and sns(b) == ["M2-1"] and f[0].vola_amt == b["vola_amt"][0] == 700
    on_time = [
        (person(), [first, enc("M2", [line(aml, prd_days=30)], adm="2024-03-29 09:00:00", dx=["I10.x09"])])
    ]
    f, b = both("R-REFILL-01", on_time)
    assert f == [] and b.height == 0



def test_early_refill_counts_what_is_left_at_the_new_dose_after_a_dose_change():
    aml = "XC08CAD036A001010172582"
    first = enc("M1", [line(aml, prd_days=28)], adm="2024-03-01 09:00:00", dx=["I10.x09"])

    def refill(day: int, prd_days: int) -> Case:
        again = enc("M2", [line(aml, prd_days=prd_days)], adm=f"2024-03-{day:02d} 09:00:00", dx=["I10.x09"])
        return [(person(), [first, again])]

    # doubled on day 14: the 14 days left at 5 mg last 7 at 10 mg (≤ 30 % of 28)
    f, b = both("R-REFILL-01", refill(15, 14))
    assert f == [] and b.height == 0
    # doubled on day 8: 21 days left last 10.5 at the new dose, still early; vola_amt on the 10 days
    f, b = both("R-REFILL-01", refill(8, 14))
    assert len(f) == 1 and sns(b) == ["M2-1"] and f[0].vola_amt == b["vola_amt"][0] == 714
    assert "加量后余药仍够 10.5 天" in f[0].vola_cont and "10.5" in b["vola_cont"][0]
    # the same packages for more days is a lower dose: plainly early
    assert both("R-REFILL-01", refill(8, 56))[1].height == 1

def test_dose_fires_above_the_maximum_daily_dose():
    ator = "XC10AAZ046A001010179788"
    f, b = both(
        "R-DOSE-01", [(person(), [enc("M1", [line(ator, cnt="6", pric="30", prd_days=28)], dx=["E78.500"])])]
    )
    assert len(f) == 1 and b.height == 1 and f[0].vola_amt == b["vola_amt"][0] == 6000
    assert both("R-DOSE-01", [(person(), [enc("M1", [line(ator, cnt="1", prd_days=28)])])])[1].height == 0


def test_incompatible_fires_on_sildenafil_with_nitroglycerin_and_on_a_named_herb_pair():
    sil, ntg = "XG04BEX095A001010183810", "XC01DAQ056A001010199759"
    f, b = both("R-INCOMP-02", [(person(), [enc("M1", [line(sil), line(ntg)])])])
    assert len(f) == 1 and sns(b) == ["M1-2"]
    assert both("R-INCOMP-02", [(person(), [enc("M1", [line(ntg)])])])[1].height == 0
    assert online("R-INCOMP-01", [(person(), [enc("M1", [line(sil), line(ntg)])])]) == []
    herbs = [
        line("T000551384", rxno="RX1"),
        {"hilist_code": "LOCAL-GS", "hilist_name": "甘遂", "cnt": "3", "pric": "1", "rxno": "RX1"},
    ]
    assert len(online("R-INCOMP-01", [(person(), [enc("M1", herbs)])])) == 1


# --- traceability codes ---------------------------------------------------------------------------


ATOR = "XC10AAZ046A001010179788"


def test_trace_duplicate_fires_when_a_code_is_settled_again_elsewhere():
    c = code_of(ATOR)
    case = [(person("P1"), [enc("M1", [line(ATOR, traces=[c], prd_days=28)], adm="2024-03-02 09:00:00", inst="H1")]),
            (person("P2"), [enc("M2", [line(ATOR, traces=[c], prd_days=28)], adm="2024-04-18 09:00:00", inst="Y7", med_type="41")])]  # fmt: skip
    b = batch("R-TRACE-01", case)
    assert sns(b) == ["M1-1", "M2-1"] and sorted(b["vola_amt"].to_list()) == [0, 1000]
    # online: the buyer's purchase against a ledger that holds the first sale
    resale = case[1][1][0]
    assert len(check(resale, [case[0][1][0]], patient=case[1][0], stage="事中", rule_ids=["R-TRACE-01"])) == 1


def test_trace_duplicate_stays_quiet_on_a_return_then_resale():
    c = code_of(ATOR)
    case = [(person("P1"), [enc("M1", [line(ATOR, traces=[c], prd_days=28)], adm="2024-03-02 09:00:00", inst="Y1", med_type="41"),
                            enc("M1R", [line(ATOR, cnt="0", returns=[c])], adm="2024-03-05 09:00:00", inst="Y1", med_type="41")]),
            (person("P2"), [enc("M2", [line(ATOR, traces=[c], prd_days=28)], adm="2024-03-20 09:00:00", inst="Y1", med_type="41")])]  # fmt: skip
    assert batch("R-TRACE-01", case).height == 0
    history = case[0][1]
    assert check(case[1][1][0], history, patient=case[1][0], stage="事中", rule_ids=["R-TRACE-01"]) == []


def test_drug_swap_fires_when_the_codes_product_is_not_the_billed_drug():
    met, glim = "XA10BAY026A001010127690", "XA10BBG028A001010199861"
    swapped = [(person(), [enc("M1", [line(glim, cnt="2", pric="26", traces=[code_of(met), code_of(met)], prd_days=30)], inst="Y1", med_type="41")]),
               (person("P2"), [enc("M2", [line(met, pric="9.9", traces=[code_of(met)], prd_days=30)], inst="Y1", med_type="41")])]  # fmt: skip
    b = batch("R-DSWAP-01", swapped)
    assert (
        b.height == 2
        and set(b["feedetl_sn"].to_list()) == {"M1-1"}
        and b["vola_amt"].to_list() == [1610, 1610]
    )
    assert len(online("R-DSWAP-01", swapped[:1])) == 2
    assert online("R-DSWAP-01", swapped) == []


def test_trace_invalid_names_an_unmapped_product_and_passes_a_mapped_one_beside_it():
    unmapped = "8" + "999999" + code_of(ATOR)[7:]  # well formed, but no catalogue product has the prefix
    f, b = both(
        "R-TRACE-02", [(person(), [enc("M1", [line(ATOR, traces=[code_of(ATOR), unmapped], prd_days=28)])])]
    )
    assert len(f) == 1 and b.get_column("evidence").str.contains("prefix").to_list() == [True]
    assert unmapped in b.item(0, "vola_cont")


def test_trace_invalid_fires_on_a_malformed_code():
    f, b = both("R-TRACE-02", [(person(), [enc("M1", [line(ATOR, traces=["7123456"], prd_days=28)])])])
    assert len(f) == 1 and b.height == 1
    assert (
        both("R-TRACE-02", [(person(), [enc("M1", [line(ATOR, traces=[code_of(ATOR)], prd_days=28)])])])[
            1
        ].height
        == 0
    )


# --- encounters -----------------------------------------------------------------------------------

BED = "001109000010100"


def stay(mid: str, inst: str, a: str, b: str) -> dict[str, Any]:
    return enc(mid, [line(BED, time=a)], inst=inst, med_type="21", adm=a, dscg=b, dx=["I63.900"])


def test_overlap_stay_fires_on_two_stays_at_once_but_not_on_a_transfer():
    case = [(person(), [stay("M1", "HA", "2024-04-03 08:00:00", "2024-04-12 10:00:00"),
                        stay("M3", "HB", "2024-04-06 09:00:00", "2024-04-10 10:00:00")])]  # fmt: skip
    f, b = both("R-OVLP-01", case)
    assert len(f) == 1 and sorted(b["mdtrt_id"].to_list()) == ["M1", "M3"]
    transfer = [(person(), [stay("M1", "HA", "2024-04-03 08:00:00", "2024-04-12 10:00:00"),
                            stay("M2", "HB", "2024-04-12 14:00:00", "2024-04-18 09:00:00")])]  # fmt: skip
    f, b = both("R-OVLP-01", transfer)
    assert f == [] and b.height == 0


def test_outpatient_during_a_stay_elsewhere_fires():
    case = [(person(), [stay("M1", "HA", "2024-04-03 08:00:00", "2024-04-12 10:00:00"),
                        enc("M2", [line(ATOR, prd_days=28)], inst="Y1", med_type="41", adm="2024-04-06 15:00:00")])]  # fmt: skip
    f, b = both("R-OVLP-02", case)
    assert len(f) == 1 and b["mdtrt_id"].to_list() == ["M2"]
    after = [
        (
            person(),
            [
                case[0][1][0],
                enc("M2", [line(ATOR, prd_days=28)], inst="Y1", med_type="41", adm="2024-04-13 15:00:00"),
            ],
        )
    ]
    assert both("R-OVLP-02", after)[1].height == 0


def test_fee_outside_stay_fires_after_discharge():
    e = enc("M1", [line(BED, time="2024-04-05 08:00:00"), line(BED, time="2024-04-15 08:00:00")], med_type="21",
            adm="2024-04-03 08:00:00", dscg="2024-04-12 10:00:00")  # fmt: skip
    f, b = both("R-OUTSTAY-01", [(person(), [e])])
    assert [x.feedetl_sn for x in f] == ["M1-2"] and sns(b) == ["M1-2"]


def test_after_death_fires_on_a_visit_after_death_and_not_on_dying_in_hospital():
    p = person(death="2024-08-14")
    f, b = both(
        "R-DEATH-01", [(p, [enc("M2", [line(ATOR, prd_days=28)], med_type="14", adm="2024-09-02 09:00:00")])]
    )
    assert len(f) == 1 and b["mdtrt_id"].to_list() == ["M2"] and "19 天" in b["vola_cont"][0]
    died = [
        (
            p,
            [
                enc(
                    "M1",
                    [line(BED, time="2024-08-14 06:00:00")],
                    med_type="21",
                    adm="2024-08-10 08:00:00",
                    dscg="2024-08-14 07:00:00",
                )
            ],
        )
    ]
    f, b = both("R-DEATH-01", died)
    assert f == [] and b.height == 0


def test_identity_contradiction_fires_on_a_childbirth_on_a_mans_card_and_on_an_adult_diagnosis_for_a_child():
    birth = "003316010010000"
    f, b = both(
        "R-IDENT-01",
        [(person(gend="1"), [enc("M1", [line(birth, pric="700")], med_type="52", dx=["O80.000"])])],
    )
    assert len(f) == 1 and b.height == 1 and b["vola_amt"].to_list() == [70000]
    assert (
        both("R-IDENT-01", [(person(gend="2"), [enc("M1", [line(birth)], med_type="52", dx=["O80.000"])])])[
            1
        ].height
        == 0
    )
    adult_in_paediatrics = [
        (person(brdy="1970-01-01"), [enc("M1", [line(CBC)], dept="KSA07", dx=["J06.900"])])
    ]
    assert (
        both("R-IDENT-01", adult_in_paediatrics)[1].height == 0
    )  # off in the shipped library (paediatric_depts: [])
    rule = LIB.rule("R-IDENT-01").model_copy(update={"params": {"paediatric_depts": ["A07"]}})
    mod = kind_module(rule.kind)
    from yibao.supervision.rules._base import parse_encounter

    e = parse_encounter(adult_in_paediatrics[0][1][0], adult_in_paediatrics[0][0])
    assert len(mod.online(e, rule, mod.prepare(rule, KB))) == 1
    f, b = both("R-IDENT-01", [(person(brdy="2019-01-01"), [enc("M1", [line(CBC)], dx=["I10.x09"])])])
    assert len(f) == 1 and b.height == 1


def test_prescription_burst_fires_on_many_cards_in_minutes():
    sema = "XA10BJG032B001010188734"
    burst = [(person(f"P{i}"), [enc(f"M{i}", [line(sema, pric="380", prd_days=28)], adm=f"2024-05-10 09:{i:02d}:00", doctor="D9",
                                    dx=["E11.900"])]) for i in range(9)]  # fmt: skip
    assert batch("R-BURST-01", burst).height == 9
    spread = [(person(f"P{i}"), [enc(f"M{i}", [line(sema, pric="380", prd_days=28)], adm=f"2024-05-10 {9 + i:02d}:00:00", doctor="D9",
                                     dx=["E11.900"])]) for i in range(9)]  # fmt: skip
    assert batch("R-BURST-01", spread).height == 0


def test_visit_frequency_fires_on_four_visits_in_a_day():
    visits = [
        enc(f"M{h}", [line("001102000010000")], inst=f"H{h}", adm=f"2024-05-10 {8 + h:02d}:00:00")
        for h in range(4)
    ]
    f, b = both("R-VFREQ-01", [(person(), visits)])
    assert len(f) == 1 and b.height == 1 and b["psn_no"].to_list() == ["P1"]
    assert both("R-VFREQ-01", [(person(), visits[:3])])[1].height == 0


def test_visit_frequency_counts_a_month_from_its_first_day_to_its_last():
    def visits(days: list[date]) -> list[dict[str, Any]]:
        return [enc(f"M{i}", [line("001102000010000")], adm=f"{d} 09:00:00") for i, d in enumerate(days)]

    december = [date(2024, 12, 1) + timedelta(days=d) for d in range(19)] + [date(2024, 12, 31)]
    around = [date(2024, 11, 30), date(2025, 1, 1)]  # the days either side do not count
    f, b = both("R-VFREQ-01", [(person(), visits([*around, *december[:-1]]))])
    assert f == [] and b.height == 0
    f, b = both("R-VFREQ-01", [(person(), visits([*around, *december]))])
    assert len(f) == 1 and "每月第 20 次" in f[0].vola_cont and b.height == 1


def test_visit_frequency_does_not_count_the_dialysis_sessions_of_a_registered_chronic_disease():
    hd = "003110000060000"  # 血液透析
    days = [date(2024, 1, 1) + timedelta(days=d) for d in range(366) if d % 7 in (0, 2, 4)][:150]
    sessions = [enc(f"M{i}", [line(hd)], med_type="14", adm=f"{d} 08:00:00", dx=["N18.500"]) for i, d in enumerate(days)]
    visit = enc("MX", [line("001102000010000")], adm="2024-12-30 09:00:00")
    f, b = both("R-VFREQ-01", [(person(), [*sessions, visit])])
    assert f == [] and b.height == 0
    # the same 150 visits as ordinary outpatient ones pass the year's threshold of 100
    ordinary = [{**s, "med_type": "11"} for s in sessions]
    assert batch("R-VFREQ-01", [(person(), ordinary)]).height >= 1


# --- coronary stents ------------------------------------------------------------------------------

STENT, PCI = "C02010101900100001008722701", "003205000040000"
ASA, CLOP = "XB01ACF050A002010101715", "XB01ACW051A001010114649"


def pci_stay(mid: str = "M1", *, inst: str = "H5", adm: str = "2024-03-01 09:00:00", dscg: str = "2024-03-08 10:00:00",
             drugs: Sequence[str] = (), stent: bool = True, at: str = "2024-03-02 10:00:00") -> dict[str, Any]:  # fmt: skip
    lines = [line(BED, time=adm), line(PCI, pric="4000", time=at)]
    lines += [line(STENT, pric="700", time=at)] if stent else []
    lines += [line(d, time=dscg[:10] + " 08:00:00", prd_days=14) for d in drugs]
    return enc(mid, lines, inst=inst, lv="03", med_type="21", adm=adm, dscg=dscg, dx=["I21.900"], ops=["36.0601"])


def outpatient_stent(mid: str = "M2", *, inst: str = "H5", adm: str = "2024-05-10 09:20:00") -> dict[str, Any]:
    return enc(mid, [line(STENT, pric="700")], inst=inst, lv="03", adm=adm, dx=["I25.103"])


def test_stent_stay_fires_on_an_outpatient_stent_with_no_stay_around_it():
    f, b = both("R-STENT-01", [(person(), [outpatient_stent()])])
    assert len(f) == 1 and sns(b) == ["M2-1"] and b["vola_amt"].to_list() == [70000] and f[0].vola_amt == 70000
    assert "前后 24 小时内无该参保人的住院" in b["vola_cont"][0] and "本机构无该参保人的住院记录" in f[0].vola_cont
    # a stay at the same hospital two months earlier is named, and does not cover the line
    f, b = both("R-STENT-01", [(person(), [pci_stay(), outpatient_stent()])])
    assert len(f) == 1 and b.height == 1 and "最近一次住院：M1，2024-03-01 至 2024-03-08" in b["vola_cont"][0]
    assert f[0].evidence["nearest_stay"] == "M1" and json.loads(b["evidence"][0])["nearest_stay"] == "M1"
    # a stay within 24 hours at another hospital does not cover it either
    elsewhere = [(person(), [pci_stay(inst="H9"), outpatient_stent(adm="2024-03-09 08:30:00")])]
    assert [len(x) for x in (online("R-STENT-01", elsewhere), batch("R-STENT-01", elsewhere))] == [1, 1]
    # a stent sold by a pharmacy
    sale = [(person(), [enc("M3", [line(STENT, pric="700")], inst="Y1", med_type="41")])]
    f, b = both("R-STENT-01", sale)
    assert "药店购药（M3）" in f[0].vola_cont and "药店购药（M3）" in b["vola_cont"][0]


def test_stent_stay_passes_a_stent_billed_the_morning_after_discharge_and_a_stent_in_a_stay():
    after = [(person(), [pci_stay(stent=False), outpatient_stent(adm="2024-03-09 08:30:00")])]  # 22.5 h after
    f, b = both("R-STENT-01", after)
    assert f == [] and b.height == 0
    before = [(person(), [pci_stay(stent=False, adm="2024-03-01 23:00:00"), outpatient_stent(adm="2024-03-01 02:00:00")])]
    assert both("R-STENT-01", before)[1].height == 0  # the emergency room, 21 hours before admission
    late = [(person(), [pci_stay(stent=False), outpatient_stent(adm="2024-03-09 11:00:00")])]  # 25 h after
    assert batch("R-STENT-01", late).height == 1
    f, b = both("R-STENT-01", [(person(), [pci_stay()])])
    assert f == [] and b.height == 0


def test_stent_antiplatelet_fires_on_a_stent_and_its_pci_with_no_antiplatelet_anywhere():
    case = [(person(), [pci_stay()])]
    f, b = both("R-STENT-02", case)
    assert sorted(x.feedetl_sn for x in f) == ["M1-2", "M1-3"] == sns(b)
    assert sorted(b["vola_amt"].to_list()) == [70000, 400000] and sorted(x.vola_amt for x in f) == [70000, 400000]
    assert set(b["sev_deg"].to_list()) == {"2"} and {x.sev_deg for x in f} == {"2"}
    stent_text = b.filter(pl.col("feedetl_sn") == "M1-3")["vola_cont"][0]
    assert "住院（M1，2024-03-01 至 2024-03-08）" in stent_text and "2024-02-01 至 2024-03-08" in stent_text
    assert "任何机构（含药店）均无抗血小板药" in stent_text and "仅观察 6 天" in stent_text  # the data end on 03-08
    ev = json.loads(b.filter(pl.col("feedetl_sn") == "M1-3")["evidence"][0])
    assert ev["observed_days"] == 6 and ev["after_days"] == 366 and ev["role"] == "stent"
    assert "同次就诊的支架（M1-3）" in b.filter(pl.col("feedetl_sn") == "M1-2")["vola_cont"][0]
    # an aspirin 40 days before the stent is outside the window
    early = [(person(), [enc("M0", [line(ASA, prd_days=30)], adm="2024-01-22 09:00:00"), pci_stay()])]
    assert [len(x) for x in (online("R-STENT-02", early), batch("R-STENT-02", early))] == [2, 2]


def test_stent_antiplatelet_passes_discharge_drugs_a_pharmacy_purchase_elsewhere_and_an_earlier_aspirin():
    assert both("R-STENT-02", [(person(), [pci_stay(drugs=[ASA, CLOP])])])[1].height == 0
    bought = enc("M3", [line(CLOP, prd_days=14)], inst="Y1", med_type="41", adm="2024-03-20 15:00:00")
    f, b = both("R-STENT-02", [(person(), [bought, pci_stay()])])
    assert f == [] and b.height == 0
    on_aspirin = enc("M0", [line(ASA, prd_days=30)], adm="2024-02-10 09:00:00")  # 20 days before
    f, b = both("R-STENT-02", [(person(), [on_aspirin, pci_stay()])])
    assert f == [] and b.height == 0


def test_stent_antiplatelet_exempts_a_death_soon_after_and_ends_the_window_at_a_later_death():
    f, b = both("R-STENT-02", [(person(death="2024-03-08"), [pci_stay()])])
    assert f == [] and b.height == 0
    year_end = (person("P2"), [enc("M9", [line(CBC)], adm="2024-12-31 09:00:00")])  # the data run to 12-31
    later = [(person(death="2024-09-30"), [pci_stay(), enc("M4", [line(CBC)], adm="2024-09-20 09:00:00")]), year_end]
    b = batch("R-STENT-02", later)
    assert b.height == 2 and "参保人 2024-09-30 死亡，观察至死亡日，共 212 天" in b["vola_cont"][0]
    f = check(later[0][1][0], later[0][1][1:], patient=later[0][0], stage="事后", rule_ids=["R-STENT-02"])
    assert len(f) == 2 and f[0].evidence["data_end"] == "2024-09-20"  # online: what the history knows


def test_stent_antiplatelet_is_only_a_reminder_at_the_bill_of_the_stay():
    p, e = person(), pci_stay()
    f = check(e, [], patient=p, stage="事中", rule_ids=["R-STENT-02"])
    assert len(f) == 2 and {x.sev_deg for x in f} == {"3"} and "事中提示" in f[0].vola_cont
    assert check(pci_stay(drugs=[CLOP]), [], patient=p, stage="事中", rule_ids=["R-STENT-02"]) == []


def test_a_coronary_stent_row_with_a_wrong_role_or_an_unknown_atc_prefix_is_refused_by_line(tmp_path: Any) -> None:
    import shutil

    from yibao.supervision.kb import KBError, load_kb, rules_root

    kb_dir = tmp_path / "kb"
    shutil.copytree(rules_root() / "kb", kb_dir)
    path = kb_dir / "coronary_stent.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*rows, "antiplatelet,,B01AX,"]) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"coronary_stent\.csv line 8, column atc_prefix: no catalogue drug has"):
        load_kb(kb_dir)
    path.write_text("\n".join([*rows, f"stent,{ASA},,"]) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"coronary_stent\.csv line 8, column med_list_codg: .* is a drug, not a consumable"):
        load_kb(kb_dir)
    # the ATC prefix stands for every B01AC drug, listed or not; warfarin (B01AA) is not one
    assert KB.stent.is_antiplatelet("XB01ACX999A001010100000") and not KB.stent.is_antiplatelet("XB01AAG053A001010124422")


@pytest.mark.parametrize("rule_id", [r.id for r in LIB.rules if "事后" in r.stage])
def test_every_post_event_rule_runs_on_an_empty_dataset(rule_id):
    out = batch(rule_id, [(person(), [enc("M1", [line(CBC)])])])
    assert out.height == 0 or rule_id in {"R-VFREQ-01"}


def test_a_cc_support_row_with_an_unknown_level_or_item_is_refused_by_line(tmp_path: Any) -> None:
    import shutil

    from yibao.supervision.kb import KBError, load_kb, rules_root

    kb_dir = tmp_path / "kb"
    shutil.copytree(rules_root() / "kb", kb_dir)
    path = kb_dir / "cc_support.csv"
    rows = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([rows[0], "J96.0,急性呼吸衰竭,XCC,001210000010000,"]) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"cc_support\.csv line 2, column cc_level: must be MCC or CC"):
        load_kb(kb_dir)
    path.write_text("\n".join([rows[0], "J96.0,急性呼吸衰竭,MCC,001210000019999,"]) + "\n", encoding="utf-8")
    with pytest.raises(KBError, match=r"cc_support\.csv line 2, column evidence: '001210000019999' is not"):
        load_kb(kb_dir)
