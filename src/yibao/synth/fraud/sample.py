"""A tiny clean region for the injectors' examples and tests — not calibrated, not the care generator.

``sample_region`` makes a few hundred persons, three hospitals (三级, 二级, 一级 with beds), three
clinics and four pharmacies (one in another region), their departments and staff, a few employers,
and a year of clean care: outpatient visits, chronic-disease visits, pharmacy purchases and inpatient
stays (bed, nursing and ward-round lines of one unit per night, as the care generator bills them;
admission tests, drugs with one trace code per package, operations for surgical stays), all within the catalogue's restrictions and price caps, no person in two
places at once and nobody treated after death. It has every column of the dataset schema.

>>> t = sample_region(1, persons=60)
>>> sorted(t)[:4]
['contribution_d', 'dept_b', 'drug_trac_d', 'emp_b']
>>> t["fee_list_d"].height > 100
True
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from yibao.catalog.loader import default_catalog
from yibao.catalog.model import Catalog
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.ids import synthetic_certno
from yibao.synth.fraud import _knowledge as k
from yibao.synth.fraud._base import UNIT, YUAN, Context, PriceBook, Rows, Serials, Tables, at_time

HOSPITALS = (
    ("H99010000011", "样例市第一人民医院", "02", 600),
    ("H99010000012", "样例市第二人民医院", "05", 200),
    ("H99010000013", "样例镇卫生院", "08", 30),
)
CLINICS = (
    ("H99010000021", "样例社区卫生服务站", "10"),
    ("H99010000022", "样例村卫生室", ""),
    ("H99010000023", "样例诊所", ""),
)
PHARMACIES = (
    ("P99010000031", "样例大药房", "990100"),
    ("P99010000032", "样例仁和药店", "990100"),
    ("P99010000033", "样例便民药店", "990100"),
    ("P99020000034", "外市连锁药房", "990200"),
)
HOSPITAL_DEPTS = (
    ("D01", "内科", "03"),
    ("D02", "外科", "04"),
    ("D03", "妇产科", "05"),
    ("D04", "儿科", "07"),
    ("D05", "肿瘤科", "19"),
    ("D06", "眼科", "10"),
)

_DRUG_PRICES = {
    k.AMOXICILLIN: 15.80, k.CEFUROXIME: 22.50, k.CEFTRIAXONE: 8.60, k.LEVOFLOXACIN: 12.40, k.AZITHROMYCIN: 18.00,
    k.METFORMIN: 9.90, k.GLIMEPIRIDE: 26.00, k.AMLODIPINE: 12.30, k.NIFEDIPINE_CR: 31.20, k.LOSARTAN: 24.60,
    k.ENALAPRIL: 6.50, k.METOPROLOL: 8.80, k.ATORVASTATIN: 18.90, k.EZETIMIBE: 38.00, k.ASPIRIN: 14.50,
    k.OMEPRAZOLE: 11.20, k.FAMOTIDINE: 7.40, k.SALINE: 3.50, k.GLUCOSE_5: 3.80, k.IBUPROFEN_SR: 16.50,
    k.PARACETAMOL: 5.60, k.LIANHUA: 27.80, k.DANSHEN: 32.00, k.BANLANGEN: 12.00, k.NAOXINTONG: 45.00,
    k.MONTMORILLONITE: 11.50, k.FUROSEMIDE: 4.20, k.RABEPRAZOLE: 36.00, k.CLOPIDOGREL: 42.00,
    k.BISOPROLOL: 28.00, k.ROSUVASTATIN: 22.00, k.CELECOXIB: 30.00,
}  # fmt: skip
"""Clean unit prices (yuan) of the sample's drugs — plausible figures, not a price list."""

OUTPATIENT_DX = ("J06.900", "K29.500", "M54.502", "J18.900", "K21.001")
OUTPATIENT_DRUGS = {
    "J06.900": (k.LIANHUA, k.AMOXICILLIN, k.PARACETAMOL, k.BANLANGEN),
    "K29.500": (k.OMEPRAZOLE, k.FAMOTIDINE),
    "M54.502": (k.IBUPROFEN_SR, k.CELECOXIB),
    "J18.900": (k.CEFUROXIME, k.LEVOFLOXACIN, k.AZITHROMYCIN),
    "K21.001": (k.RABEPRAZOLE, k.OMEPRAZOLE),
    "I10.x09": (k.AMLODIPINE, k.NIFEDIPINE_CR, k.LOSARTAN, k.METOPROLOL),
    "E11.900": (k.METFORMIN, k.GLIMEPIRIDE),
}
STAYS = (
    # principal dx, dept, drugs, surgery (item, anaesthesia, consumables, procedure)
    ("J18.900", "D01", (k.CEFTRIAXONE, k.SALINE), None),
    ("I63.900", "D01", (k.SALINE, k.ASPIRIN, k.ATORVASTATIN), None),
    ("I50.900", "D01", (k.FUROSEMIDE, k.GLUCOSE_5), None),
    ("J44.100", "D01", (k.CEFTRIAXONE, k.SALINE), None),
    ("K80.101", "D02", (k.CEFUROXIME, k.SALINE), (k.LAP_CHOLECYSTECTOMY, k.GENERAL_ANAESTHESIA, (k.TROCAR,), "51.2300")),
    ("K35.300", "D02", (k.CEFTRIAXONE, k.SALINE), (k.APPENDECTOMY, k.SPINAL_ANAESTHESIA, (k.SILK_SUTURE,), "47.0901")),
    ("H25.900", "D06", (k.LEVOFLOXACIN,), (k.CATARACT, k.LOCAL_ANAESTHESIA, (k.LENS,), "13.4100x001")),
    ("S72.000", "D02", (k.CEFUROXIME, k.SALINE), (k.HIP_REPLACEMENT, k.GENERAL_ANAESTHESIA, (k.HIP_PROSTHESIS, k.BONE_CEMENT), "81.5100")),
)  # fmt: skip


def _inst_tables() -> Tables:
    fix: list[dict[str, object]] = [
        {
            "fixmedins_code": c,
            "fixmedins_name": n,
            "fixmedins_type": "1",
            "hosp_lv": lv,
            "admdvs": "990100",
            "bed_cnt": b,
        }
        for c, n, lv, b in HOSPITALS
    ]
    fix += [
        {
            "fixmedins_code": c,
            "fixmedins_name": n,
            "fixmedins_type": "1",
            "hosp_lv": lv,
            "admdvs": "990100",
            "bed_cnt": 0,
        }
        for c, n, lv in CLINICS
    ]
    fix += [
        {
            "fixmedins_code": c,
            "fixmedins_name": n,
            "fixmedins_type": "2",
            "hosp_lv": "",
            "admdvs": a,
            "bed_cnt": 0,
        }
        for c, n, a in PHARMACIES
    ]
    dept: list[dict[str, object]] = []
    staff: list[dict[str, object]] = []
    for c, _, _, _ in HOSPITALS:
        for d, name, caty in HOSPITAL_DEPTS:
            dept.append({"fixmedins_code": c, "dept_codg": d, "dept_name": name, "caty": caty, "bed_cnt": 20})
            for i in range(3):
                staff.append(
                    {"staff_codg": f"D{c[-3:]}{d}{i}", "staff_name": f"医师{c[-2:]}{d}{i}", "staff_type": "1",
                     "fixmedins_code": c, "dept_codg": d, "profttl": str(2 + i)}
                )  # fmt: skip
            staff.append(
                {"staff_codg": f"N{c[-3:]}{d}", "staff_name": f"护士{c[-2:]}{d}", "staff_type": "3",
                 "fixmedins_code": c, "dept_codg": d, "profttl": "4"}
            )  # fmt: skip
    for c, _, _ in CLINICS:
        dept.append(
            {"fixmedins_code": c, "dept_codg": "D00", "dept_name": "全科医疗科", "caty": "02", "bed_cnt": 0}
        )
        for i in range(2):
            staff.append(
                {"staff_codg": f"D{c[-3:]}D00{i}", "staff_name": f"医师{c[-2:]}{i}", "staff_type": "1",
                 "fixmedins_code": c, "dept_codg": "D00", "profttl": "4"}
            )  # fmt: skip
    for c, _, _ in PHARMACIES:
        dept.append({"fixmedins_code": c, "dept_codg": "Y00", "dept_name": "药房", "caty": "", "bed_cnt": 0})
        for i in range(2):
            staff.append(
                {"staff_codg": f"Y{c[-3:]}{i}", "staff_name": f"药师{c[-2:]}{i}", "staff_type": "2",
                 "fixmedins_code": c, "dept_codg": "Y00", "profttl": "3"}
            )  # fmt: skip
    return {
        "fixmedins_b": _frame("fixmedins_b", fix),
        "dept_b": _frame("dept_b", dept),
        "medstaff_b": _frame("medstaff_b", staff),
    }


def _frame(name: str, rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = polars_schema(TABLES[name])
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def sample_region(
    seed: int = 0, *, persons: int = 400, year: int = 2024, chunk: int = 0, catalog: Catalog | None = None
) -> Tables:
    """A small clean chunk with its institution tables (see the module docstring)."""
    cat = catalog if catalog is not None else default_catalog()
    rng = np.random.default_rng([seed, chunk, 77])
    pyrng = random.Random(seed * 1000 + chunk)  # noqa: S311 - synthetic data, not security
    tables = _inst_tables()
    ctx = Context(
        "sample", 99, "S", chunk=chunk, year=year, rate=0.0, catalog=cat,
        book=PriceBook(pl.DataFrame({"med_list_codg": [], "pric": [], "lv": []},
                                    schema={"med_list_codg": pl.String, "pric": pl.Int64, "lv": pl.String}), cat, year),
        serials=Serials.clean(chunk),
    )  # fmt: skip
    rows = Rows(ctx)
    emp: list[dict[str, object]] = [
        {"emp_no": "E9901000001", "emp_name": "样例机械厂", "emp_type": "1", "emp_size": 800},
        {"emp_no": "E9901000002", "emp_name": "样例物流公司", "emp_type": "1", "emp_size": 300},
        {"emp_no": "E9901000003", "emp_name": "样例中学", "emp_type": "2", "emp_size": 120},
        {"emp_no": "E9901000004", "emp_name": "灵活就业人员", "emp_type": "3", "emp_size": 0},
    ]
    psn: list[dict[str, object]] = []
    insu: list[dict[str, object]] = []
    contrib: list[dict[str, object]] = []
    start, end = date(year, 1, 1), date(year, 12, 31)
    doctors: dict[tuple[str, str], list[str]] = {}
    for code, _inst, dept in (
        tables["medstaff_b"]
        .filter(pl.col("staff_type") == "1")
        .select("staff_codg", "fixmedins_code", "dept_codg")
        .iter_rows()
    ):
        doctors.setdefault((_inst, dept), []).append(code)
    for i in range(persons):
        psn_no = f"P{chunk}S{i + 1:07d}"
        gend = "1" if rng.random() < 0.5 else "2"
        age = int(
            rng.choice([rng.integers(0, 18), rng.integers(18, 60), rng.integers(60, 90)], p=[0.15, 0.5, 0.35])
        )
        brdy = date(year - age - 1, 1, 1) + timedelta(days=int(rng.integers(0, 365)))
        employee = 18 <= age < 75 and rng.random() < 0.45
        emp_no = emp[int(rng.choice(4, p=[0.55, 0.2, 0.15, 0.1]))]["emp_no"] if employee else ""
        insutype = "310" if employee else "390"
        psn_type = ("1201" if age >= 60 else "1101") if employee else ("1403" if age < 18 else "1501")
        death = start + timedelta(days=int(rng.integers(30, 360))) if rng.random() < 0.04 else None
        psn.append(
            {"psn_no": psn_no, "certno": synthetic_certno(pyrng, birth_date=brdy, gend=gend), "psn_name": f"样例{i}",
             "gend": gend, "brdy": brdy, "insutype": insutype, "psn_type": psn_type, "insuplc_admdvs": "990100",
             "emp_no": emp_no, "psn_idet_type": "", "death_date": death, "acct_balc_begn": 50000 if employee else 0,
             "mulaid_psn_no": ""}
        )  # fmt: skip
        insu.append(
            {"psn_no": psn_no, "insutype": insutype, "begndate": date(year - 5, 1, 1), "enddate": death,
             "in_window": "1", "repaid": "0", "zero_claim": ""}
        )  # fmt: skip
        contrib.append(
            {"psn_no": psn_no, "emp_no": emp_no, "insutype": insutype, "clct_month": f"{year}-01",
             "clct_type": "1" if employee else "3", "amount": 60000 if employee else 38000, "to_account": 0}
        )  # fmt: skip
        last = death or end
        busy: list[tuple[date, date]] = []

        def free(a: date, b: date, busy: list[tuple[date, date]] = busy) -> bool:
            return all(b < x or a > y for x, y in busy)

        chronic = (
            "I10.x09"
            if age >= 45 and rng.random() < 0.35
            else ("E11.900" if age >= 45 and rng.random() < 0.2 else "")
        )
        # inpatient stays
        for _ in range(int(rng.random() < 0.2) + int(rng.random() < 0.05)):
            los = int(rng.integers(3, 13))
            a = start + timedelta(days=int(rng.integers(0, 330)))
            b = a + timedelta(days=los)
            if b > last or not free(a - timedelta(days=20), b + timedelta(days=20)):
                continue
            busy.append((a, b))
            _stay(rng, rows, psn_no, gend, age, insutype, a, b, doctors, cat)
        # outpatient, chronic, pharmacy
        n_out = int(rng.poisson(2.0))
        for _ in range(n_out):
            d = start + timedelta(days=int(rng.integers(0, 365)))
            if d > last or not free(d, d):
                continue
            _visit(rng, rows, psn_no, age, insutype, d, doctors, chronic="")
        if chronic:
            for m in range(1, 13):
                d = date(year, m, int(rng.integers(1, 28)))
                if d > last or not free(d, d) or rng.random() < 0.3:
                    continue
                _visit(rng, rows, psn_no, age, insutype, d, doctors, chronic=chronic)
        for _ in range(int(rng.poisson(1.5))):
            d = start + timedelta(days=int(rng.integers(0, 365)))
            if d > last or not free(d, d):
                continue
            _pharmacy(rng, rows, psn_no, insutype, d, chronic)
    tables["emp_b"] = _frame("emp_b", emp)
    tables["psn_info_b"] = _frame("psn_info_b", psn)
    tables["psn_insu_d"] = _frame("psn_insu_d", insu)
    tables["contribution_d"] = _frame("contribution_d", contrib)
    for t in ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d", "fee_list_d", "drug_trac_d"):
        tables[t] = rows.frame(t)
    return tables


def _price(code: str, lv: str, cat: Catalog, year: int) -> int:
    item = cat.get(code, date(year, 7, 1))
    if code in _DRUG_PRICES:
        return round(_DRUG_PRICES[code] * 100) * 10_000
    assert item is not None, code
    cap = item.price_cap(lv)
    if cap is None:
        cap = min(item.pric_uplmt.values()) if item.pric_uplmt else 10 * YUAN
    return cap


def _lv(inst: str) -> str:
    for c, _, lv, _ in HOSPITALS:
        if c == inst:
            return {"02": "3", "05": "2", "08": "1"}[lv]
    return "1"


def _stay(
    rng: np.random.Generator,
    rows: Rows,
    psn_no: str,
    gend: str,
    age: int,
    insutype: str,
    a: date,
    b: date,
    doctors: dict[tuple[str, str], list[str]],
    cat: Catalog,
) -> None:
    choices = [s for s in STAYS if not (s[0] == "H25.900" and age < 50)]
    dx0, dept, drugs, surgery = choices[int(rng.integers(len(choices)))]
    if age < 14:
        dx0, dept, drugs, surgery = "J18.900", "D04", (k.CEFTRIAXONE, k.SALINE), None
    birth = gend == "2" and 20 <= age <= 40 and rng.random() < 0.4
    if birth:
        dx0, dept, drugs, surgery = "O80.000", "D03", (k.SALINE,), None
    inst_i = int(rng.choice(3, p=[0.4, 0.35, 0.25]))
    if surgery is not None and inst_i == 2:
        inst_i = 1
    inst = HOSPITALS[inst_i][0]
    lv = _lv(inst)
    dr = doctors[(inst, dept)][int(rng.integers(3))]
    begin = at_time(a, int(rng.integers(8, 18)), int(rng.integers(60)))
    endt = at_time(b, int(rng.integers(9, 12)), int(rng.integers(60)))
    bed = f"{dept}-{int(rng.integers(1, 60)):02d}"
    mid = rows.encounter(
        psn_no=psn_no, fixmedins_code=inst, med_type="52" if birth else "21", begntime=begin, endtime=endt, diag=k.dx(dx0),
        dept_codg=dept, atddr_no=dr, insutype=insutype, adm_bed=bed, dscg_way="1",
    )  # fmt: skip
    dx = [k.dx(dx0)]
    if age >= 50 and rng.random() < 0.5:
        dx.append(k.dx("I10.x09"))
    rows.diagnoses(mid, dx)
    year = a.year

    def add(code: str, when: datetime, cnt: int = UNIT, days: int = 0) -> None:
        rows.line(
            mdtrt_id=mid, psn_no=psn_no, fixmedins_code=inst, med_list_codg=code, when=when, cnt=cnt,
            pric=_price(code, lv, cat, year), doctor=dr, dept=dept, prd_days=days,
        )  # fmt: skip

    nights = (b - a).days
    add(k.BED, begin + timedelta(minutes=5), cnt=UNIT * nights)
    add(k.NURSE_2, begin + timedelta(minutes=6), cnt=UNIT * nights)
    add(k.WARD_ROUND, begin + timedelta(minutes=20), cnt=UNIT * nights)
    for d in range(nights):
        day = a + timedelta(days=d)
        if d < nights - 1:
            for drug in drugs:
                add(drug, max(at_time(day, 10, 30), begin + timedelta(minutes=40)), cnt=UNIT, days=1)
            add(k.IV_DRIP, max(at_time(day, 10, 40), begin + timedelta(minutes=45)))
            add(k.INFUSION_SET, max(at_time(day, 10, 40), begin + timedelta(minutes=45)))
    first = begin + timedelta(minutes=30)
    for code in (k.CBC, k.URINE, k.ALT, k.CREATININE, k.GLUCOSE, k.ECG, k.DR_CHEST):
        add(code, first)
    if rng.random() < 0.4:
        add(k.CRP, first)
    if birth:
        add(k.NORMAL_DELIVERY, begin + timedelta(hours=3))
        add(k.TRANSVAGINAL_US, first)
    if surgery is not None:
        op_item, anaes, consumables, oprn = surgery
        op_day = a + timedelta(days=1)
        op_time = max(at_time(op_day, 14), begin + timedelta(hours=2))
        add(op_item, op_time)
        add(anaes, op_time)
        for c in consumables:
            add(c, op_time)
        rows.oprn(mid, oprn, k.OPRN[oprn], op_day, main=True)


def _visit(
    rng: np.random.Generator,
    rows: Rows,
    psn_no: str,
    age: int,
    insutype: str,
    d: date,
    doctors: dict[tuple[str, str], list[str]],
    *,
    chronic: str,
) -> None:
    cat = rows.ctx.catalog
    if chronic:
        inst = (*[h[0] for h in HOSPITALS], *[c[0] for c in CLINICS])[int(rng.integers(6))]
        dept = "D01" if inst.endswith(("11", "12", "13")) else "D00"
        med_type, dx0 = "14", chronic
    elif rng.random() < 0.6:
        inst, dept = CLINICS[int(rng.integers(3))][0], "D00"
        med_type, dx0 = "11", OUTPATIENT_DX[int(rng.integers(len(OUTPATIENT_DX)))]
    else:
        inst = HOSPITALS[int(rng.integers(3))][0]
        dept = "D04" if age < 14 else "D01"
        med_type, dx0 = "11", OUTPATIENT_DX[int(rng.integers(len(OUTPATIENT_DX)))]
    lv = _lv(inst)
    dr = doctors[(inst, dept)][int(rng.integers(len(doctors[(inst, dept)])))]
    t = at_time(d, int(rng.integers(8, 17)), int(rng.integers(60)), int(rng.integers(60)))
    mid = rows.encounter(
        psn_no=psn_no, fixmedins_code=inst, med_type=med_type, begntime=t, endtime=t + timedelta(minutes=20),
        diag=k.dx(dx0), dept_codg=dept, atddr_no=dr, insutype=insutype,
    )  # fmt: skip
    rows.diagnoses(mid, [k.dx(dx0)])
    year = d.year

    def add(code: str, cnt: int = UNIT, days: int = 0) -> None:
        rows.line(
            mdtrt_id=mid, psn_no=psn_no, fixmedins_code=inst, med_list_codg=code, when=t + timedelta(minutes=5),
            cnt=cnt, pric=_price(code, lv, cat, year), doctor=dr, dept=dept, prd_days=days,
        )  # fmt: skip

    add(k.OUT_VISIT)
    if rng.random() < 0.5:
        add(k.CBC)
    drugs = OUTPATIENT_DRUGS[dx0]
    n = 1 if chronic else int(rng.integers(1, 3))
    for i in rng.choice(len(drugs), size=min(n, len(drugs)), replace=False):
        days = 30 if chronic else 7
        add(drugs[int(i)], cnt=UNIT * (2 if chronic else 1), days=days)


def _pharmacy(
    rng: np.random.Generator, rows: Rows, psn_no: str, insutype: str, d: date, chronic: str
) -> None:
    inst = PHARMACIES[int(rng.choice(4, p=[0.4, 0.3, 0.25, 0.05]))][0]
    pharmacist = f"Y{inst[-3:]}{int(rng.integers(2))}"
    t = at_time(d, int(rng.integers(8, 21)), int(rng.integers(60)), int(rng.integers(60)))
    dx0 = OUTPATIENT_DX[int(rng.integers(len(OUTPATIENT_DX)))]
    mid = rows.encounter(
        psn_no=psn_no, fixmedins_code=inst, med_type="41", begntime=t, endtime=t, diag=("", ""),
        dept_codg="Y00", atddr_no=pharmacist, insutype=insutype,
    )  # fmt: skip
    long = bool(chronic) and rng.random() < 0.5
    drugs = OUTPATIENT_DRUGS[chronic if long else dx0]
    for i in rng.choice(len(drugs), size=min(int(rng.integers(1, 3)), len(drugs)), replace=False):
        code = drugs[int(i)]
        rows.line(
            mdtrt_id=mid, psn_no=psn_no, fixmedins_code=inst, med_list_codg=code, when=t, cnt=UNIT * int(rng.integers(1, 3)),
            pric=_price(code, "1", rows.ctx.catalog, d.year), doctor=pharmacist, dept="Y00", prd_days=30 if long else 7,
        )  # fmt: skip
