"""Designated institutions of the synthetic region: hospitals by level, primary care, pharmacies, their
departments and staff (fixmedins_b, dept_b, medstaff_b).

Counts follow the national density per insured person (2023–2024 health statistics, rounded):

==========================================  ===================  ==========================================
unit                                        per 100,000 insured  notes
==========================================  ===================  ==========================================
三级 hospitals                               0.29                 800–3,000 beds (mean ≈ 1,200)
二级 hospitals                               0.85                 200–800 beds (mean ≈ 310)
一级 hospitals                               1.70                 20–150 beds (mean ≈ 45; incl. unrated)
community health centres, township hospitals 5.3                  一级 or unrated; township ones have beds
clinics (诊所, 门诊部)                        8.0                  unrated, no beds; village clinics omitted
designated retail pharmacies                38 (3.8 per 10,000)  ≈ 500,000 for 1.33 bn insured
==========================================  ===================  ==========================================

China has about 38,000 hospitals (2.9 per 100,000 people) and about a million primary units, most of
them village clinics and small private clinics; a synthetic region keeps the hospitals at the national
density and represents primary care by fewer, larger units. Every region has at least one hospital of
each level, one primary unit, one clinic and one pharmacy, however small (a region of 1,000 persons is
therefore over-provided).

Codes are national in style: ``fixmedins_code`` = ``H`` (hospitals, clinics) or ``P`` (pharmacies) +
admdvs (6) + 5 digits; staff codes = ``D`` (医保医师), ``N`` (护士) or ``Y`` (药师) + admdvs + 7 digits;
``dept_codg`` = ``KS`` + the department's 科别 (caty) without the dot, unique within an institution.
``hosp_lv`` is the national code 01–10, empty for unrated units and pharmacies; ``fixmedins_type`` tells
a hospital or clinic (1) from a pharmacy (2).

>>> import numpy as np
>>> t = make_institutions(np.random.default_rng(1), 1_000)
>>> sorted(t)
['dept_b', 'fixmedins_b', 'medstaff_b']
>>> from yibao.codes import coarse_hosp_lv
>>> hospitals = t["fixmedins_b"].filter(pl.col("fixmedins_type") == "1")
>>> sorted({coarse_hosp_lv(lv or None) for lv in hospitals["hosp_lv"]})
['1', '2', '3']
>>> t["fixmedins_b"]["fixmedins_code"][0]
'H99010000001'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from yibao import codes
from yibao.synth import names

__all__ = ["CATY", "DENSITY_PER_100K", "InstitutionKind", "make_institutions"]

CATY = codes.CATY
"""科别 (诊疗科目) codes used by the region and their names (:data:`yibao.codes.CATY`)."""

# Inpatient weight of a department (share of beds); 0 = no beds (outpatient, technical, pharmacy).
_BED_WEIGHT: dict[str, float] = {
    "A03": 3.0, "A03.01": 1.0, "A03.02": 0.9, "A03.03": 1.0, "A03.04": 1.2, "A03.05": 0.5, "A03.06": 0.6,
    "A03.07": 0.6, "A03.10": 0.8, "A04": 2.5, "A04.01": 1.1, "A04.02": 0.7, "A04.03": 1.1, "A04.04": 0.7,
    "A04.05": 0.5, "A04.06": 0.4, "A05": 1.5, "A05.01": 0.7, "A05.02": 0.8, "A07": 1.2, "A07.01": 0.4,
    "A10": 0.3, "A11": 0.3, "A12": 0.1, "A13": 0.15, "A15": 0.5, "A16": 0.4, "A19": 1.0, "A21": 0.6,
    "A28": 0.3, "A50": 0.8, "A50.01": 1.2, "A50.02": 0.5, "A50.03": 0.4, "A50.04": 0.4, "A50.10": 0.8,
    "A50.11": 0.3, "A50.13": 0.4, "A50.14": 0.3,
}  # fmt: skip
_TECHNICAL = ("A30", "A31", "A32", "A26")  # staffed by doctors (A32, A31, A26) or technicians; no beds

_GENERAL_3 = ("A03.01", "A03.02", "A03.03", "A03.04", "A03.05", "A03.06", "A03.07", "A03.10", "A04.01",
              "A04.02", "A04.03", "A04.04", "A04.05", "A04.06", "A05.01", "A05.02", "A07", "A07.01", "A10",
              "A11", "A12", "A13", "A16", "A19", "A20", "A21", "A26", "A28", "A50", "A30", "A31", "A32")  # fmt: skip
_TCM_3 = ("A50.01", "A50.02", "A50.03", "A50.04", "A50.10", "A50.11", "A50.13", "A50.14", "A03.04", "A20",
          "A21", "A26", "A30", "A32")  # fmt: skip
_MCH_3 = ("A05.01", "A05.02", "A06", "A07", "A07.01", "A09", "A20", "A26", "A30", "A32")
_LEVEL_2 = ("A03", "A04", "A05", "A07", "A10", "A11", "A12", "A20", "A21", "A26", "A50", "A30", "A32")
_LEVEL_2_OPTIONAL = {"A13": 0.5, "A19": 0.3, "A28": 0.5, "A16": 0.3}
_LEVEL_1 = ("A02", "A03", "A04", "A50", "A30", "A32")
_LEVEL_1_OPTIONAL = {"A05": 0.5, "A07": 0.5, "A21": 0.5, "A12": 0.3}
_PRIMARY = ("A01", "A02", "A50", "A30")
_PRIMARY_OPTIONAL = {"A03": 0.5, "A12": 0.3, "A21": 0.3}
_CLINIC_CHOICES = ("A02", "A03", "A12", "A50")


@dataclass(frozen=True, slots=True)
class InstitutionKind:
    """One kind of designated unit: how many per 100,000 insured, its level codes, beds and staff ratios."""

    name: str
    per_100k: float
    hosp_lv: tuple[tuple[str, float], ...]  # (national code, share); "" = unrated
    beds: tuple[int, int]  # range of beds (skewed to the low end: lo + (hi − lo) × Beta(1.2, 5))
    doctors_per_bed: float
    nurses_per_bed: float
    pharmacists: tuple[int, int]  # fixed range per unit, added to beds × 0.03 for hospitals
    base_doctors: tuple[int, int]  # doctors of units without (or with few) beds


DENSITY_PER_100K: dict[str, InstitutionKind] = {
    k.name: k
    for k in (
        InstitutionKind("hospital_3", 0.29, (("02", 0.65), ("03", 0.33), ("04", 0.02)), (800, 3000), 0.33, 0.60, (4, 10), (0, 0)),
        InstitutionKind("hospital_2", 0.85, (("05", 0.5), ("06", 0.4), ("07", 0.1)), (200, 800), 0.28, 0.48, (2, 5), (0, 0)),
        InstitutionKind("hospital_1", 1.70, (("08", 0.25), ("09", 0.35), ("10", 0.1), ("", 0.3)), (20, 150), 0.30, 0.45, (1, 2), (3, 6)),
        InstitutionKind("primary", 5.3, (("08", 0.1), ("09", 0.4), ("10", 0.1), ("", 0.4)), (0, 60), 0.10, 0.30, (1, 3), (6, 25)),
        InstitutionKind("clinic", 8.0, (("", 1.0),), (0, 0), 0.0, 0.0, (0, 0), (1, 4)),
        InstitutionKind("pharmacy", 38.0, (("", 1.0),), (0, 0), 0.0, 0.0, (1, 4), (0, 0)),
    )
}  # fmt: skip
"""Designated units per 100,000 insured by kind (see the module docstring)."""

_PROFTTL = {  # shares of 职称 1 主任 / 2 副主任 / 3 主治 (中级) / 4 住院 · 医师 (初级)
    "hospital_3": (0.10, 0.20, 0.35, 0.35),
    "hospital_2": (0.06, 0.16, 0.38, 0.40),
    "other": (0.02, 0.08, 0.40, 0.50),
}
_BRANDS = ("康宁", "益民", "仁心", "惠民", "福康", "百信", "安康", "济世", "同仁堂记", "万家", "健民", "德济")
_STAFF_PREFIX = {"1": "D", "2": "Y", "3": "N"}


def _count(kind: InstitutionKind, n_persons: int) -> int:
    return max(1, round(kind.per_100k * n_persons / 100_000))


def _beds(rng: np.random.Generator, kind: InstitutionKind) -> int:
    lo, hi = kind.beds
    if hi == 0:
        return 0
    if lo == 0:  # primary units: township hospitals have beds, community centres few or none
        return int(rng.integers(0, hi + 1)) if rng.random() < 0.7 else 0
    return round(lo + (hi - lo) * float(rng.beta(1.2, 5.0)))


def _level(rng: np.random.Generator, kind: InstitutionKind) -> str:
    codes = [c for c, _ in kind.hosp_lv]
    p = np.array([s for _, s in kind.hosp_lv])
    return codes[int(rng.choice(len(codes), p=p / p.sum()))]


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split ``total`` over ``weights`` by largest remainders (deterministic, exact)."""
    w = np.asarray(weights, dtype=np.float64)
    if total <= 0 or w.sum() <= 0:
        return [0] * len(weights)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    order = np.argsort(-(raw - out), kind="stable")
    out[order[:rest]] += 1
    return [int(x) for x in out]


def _hospital_names(kind: str, count: int, rng: np.random.Generator) -> list[tuple[str, tuple[str, ...]]]:
    """(name, departments) of each hospital of a level."""
    city = names.CITY
    out: list[tuple[str, tuple[str, ...]]] = []
    if kind == "hospital_3":
        fixed = [
            (f"{city}市第一人民医院", _GENERAL_3), (f"{city}市中医医院", _TCM_3), (f"{city}市第二人民医院", _GENERAL_3),
            (f"{city}市妇幼保健院", _MCH_3), (f"{city}医学院附属医院", _GENERAL_3), (f"{city}市中心医院", _GENERAL_3),
        ]  # fmt: skip
        for i in range(count):
            if i < len(fixed):
                out.append(fixed[i])
            else:
                out.append((f"{city}市第{_chinese_number(i - 3)}人民医院", _GENERAL_3))
        return out
    districts = list(names.DISTRICTS)
    if kind == "hospital_2":
        for i in range(count):
            d = districts[i % len(districts)]
            kind_name = ("人民医院", "中医医院", "妇幼保健院", "第二人民医院")[(i // len(districts)) % 4]
            suffix = "" if i < 4 * len(districts) else str(i // (4 * len(districts)) + 1)
            depts = _LEVEL_2 + tuple(c for c, p in _LEVEL_2_OPTIONAL.items() if rng.random() < p)
            out.append((f"{city}市{d}{kind_name}{suffix}", depts))
        return out
    places = names.place_names(rng, count)
    for i in range(count):
        depts = _LEVEL_1 + tuple(c for c, p in _LEVEL_1_OPTIONAL.items() if rng.random() < p)
        label = ("医院", "骨科医院", "康复医院", "中西医结合医院")[i % 4]
        out.append((f"{city}市{names.DISTRICTS[i % len(districts)]}{places[i]}{label}", depts))
    return out


def _chinese_number(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n < 10:
        return digits[n]
    if n < 20:
        return "十" + (digits[n % 10] if n % 10 else "")
    return digits[n // 10] + "十" + (digits[n % 10] if n % 10 else "")


def make_institutions(
    rng: np.random.Generator, n_persons: int, admdvs: str = "990100"
) -> dict[str, pl.DataFrame]:
    """fixmedins_b, dept_b and medstaff_b for a region of ``n_persons`` insured (see the module docstring)."""
    if n_persons < 1:
        raise ValueError(f"n_persons must be at least 1, got {n_persons}")
    inst: dict[str, list[Any]] = {
        k: [] for k in ("fixmedins_code", "fixmedins_name", "fixmedins_type", "hosp_lv", "admdvs", "bed_cnt")
    }
    dept: dict[str, list[Any]] = {
        k: [] for k in ("fixmedins_code", "dept_codg", "dept_name", "caty", "bed_cnt")
    }
    staff: dict[str, list[Any]] = {
        k: [] for k in ("staff_type", "fixmedins_code", "dept_codg", "profttl", "_kind")
    }
    serial = {"H": 0, "P": 0}

    def add(prefix: str, name: str, kind: InstitutionKind, depts: tuple[str, ...]) -> None:
        serial[prefix] += 1
        code = f"{prefix}{admdvs}{serial[prefix]:05d}"
        beds = _beds(rng, kind)
        inst["fixmedins_code"].append(code)
        inst["fixmedins_name"].append(name)
        inst["fixmedins_type"].append("2" if prefix == "P" else "1")
        inst["hosp_lv"].append("" if prefix == "P" else _level(rng, kind))
        inst["admdvs"].append(admdvs)
        inst["bed_cnt"].append(beds)
        if prefix == "H" and beds > 0:
            depts = (*depts, "A69")  # 药剂科 for the hospital pharmacy
        elif prefix == "H" and kind.pharmacists[1] > 0:
            depts = (*depts, "A69")
        weights = [_BED_WEIGHT.get(c, 0.0) for c in depts]
        dept_beds = _apportion(beds, weights) if beds else [0] * len(depts)
        codes = [f"KS{c.replace('.', '')}" for c in depts]
        for c, dc, b in zip(depts, codes, dept_beds, strict=True):
            dept["fixmedins_code"].append(code)
            dept["dept_codg"].append(dc)
            dept["dept_name"].append("零售药房" if prefix == "P" else ("药剂科" if c == "A69" else CATY[c]))
            dept["caty"].append(c)
            dept["bed_cnt"].append(b)
        # staff: doctors over clinical departments (beds + a base), nurses by beds, pharmacists at A69
        clinical = [i for i, c in enumerate(depts) if c not in ("A30", "A69")]
        n_doc = round(beds * kind.doctors_per_bed) + int(
            rng.integers(kind.base_doctors[0], kind.base_doctors[1] + 1)
        )
        n_nurse = round(beds * kind.nurses_per_bed) + (
            int(rng.integers(1, 6)) if kind.name == "primary" else 0
        )
        n_pharm = round(beds * 0.03) + int(rng.integers(kind.pharmacists[0], kind.pharmacists[1] + 1))
        if clinical:
            base = max(1.0, beds / max(1, len(clinical)) * 0.15)
            doc_w = [dept_beds[i] + base for i in clinical]
            for i, k in zip(clinical, _apportion(n_doc, doc_w), strict=True):
                staff_rows("1", code, codes[i], k, kind.name)
            nurse_w = [dept_beds[i] + (base if depts[i] == "A20" else 0.2 * base) for i in clinical]
            for i, k in zip(clinical, _apportion(n_nurse, nurse_w), strict=True):
                staff_rows("3", code, codes[i], k, kind.name)
        pharmacy_dept = [dc for c, dc in zip(depts, codes, strict=True) if c == "A69"]
        if pharmacy_dept:
            staff_rows("2", code, pharmacy_dept[0], n_pharm, kind.name)

    def staff_rows(staff_type: str, code: str, dept_codg: str, k: int, kind: str) -> None:
        staff["staff_type"].extend([staff_type] * k)
        staff["fixmedins_code"].extend([code] * k)
        staff["dept_codg"].extend([dept_codg] * k)
        staff["_kind"].extend([kind] * k)

    for kind_name in ("hospital_3", "hospital_2", "hospital_1"):
        kind = DENSITY_PER_100K[kind_name]
        for name, depts in _hospital_names(kind_name, _count(kind, n_persons), rng):
            add("H", name, kind, depts)
    primary = DENSITY_PER_100K["primary"]
    n_primary = _count(primary, n_persons)
    for i, place in enumerate(names.place_names(rng, n_primary)):
        district = names.DISTRICTS[i % len(names.DISTRICTS)]
        label = "社区卫生服务中心" if district.endswith("区") else "镇卫生院"
        depts = _PRIMARY + tuple(c for c, p in _PRIMARY_OPTIONAL.items() if rng.random() < p)
        add(
            "H",
            f"{names.CITY}市{district}{place}{'街道' if label.startswith('社区') else ''}{label}",
            primary,
            depts,
        )
    clinic = DENSITY_PER_100K["clinic"]
    n_clinic = _count(clinic, n_persons)
    for i, place in enumerate(names.place_names(rng, n_clinic)):
        caty = _CLINIC_CHOICES[int(rng.integers(0, len(_CLINIC_CHOICES)))]
        label = {"A02": "综合门诊部", "A03": "内科诊所", "A12": "口腔诊所", "A50": "中医诊所"}[caty]
        add("H", f"{names.CITY}市{names.DISTRICTS[i % len(names.DISTRICTS)]}{place}{label}", clinic, (caty,))
    pharmacy = DENSITY_PER_100K["pharmacy"]
    n_pharmacy = max(1, round(pharmacy.per_100k * n_persons / 100_000))
    for i, place in enumerate(names.place_names(rng, n_pharmacy)):
        if rng.random() < 0.6:  # chain stores
            brand = _BRANDS[int(rng.integers(0, len(_BRANDS)))]
            name = f"{names.CITY}{brand}大药房连锁有限公司{place}店"
        else:
            name = f"{names.CITY}市{names.DISTRICTS[i % len(names.DISTRICTS)]}{place}药店"
        add("P", name, pharmacy, ("A69",))

    fixmedins = pl.DataFrame(inst, schema={"fixmedins_code": pl.String, "fixmedins_name": pl.String,
                                           "fixmedins_type": pl.String, "hosp_lv": pl.String, "admdvs": pl.String,
                                           "bed_cnt": pl.Int64})  # fmt: skip
    dept_b = pl.DataFrame(dept, schema={"fixmedins_code": pl.String, "dept_codg": pl.String, "dept_name": pl.String,
                                        "caty": pl.String, "bed_cnt": pl.Int64})  # fmt: skip
    return {"fixmedins_b": fixmedins, "dept_b": dept_b, "medstaff_b": _staff_frame(rng, staff, admdvs)}


def _staff_frame(rng: np.random.Generator, staff: dict[str, list[Any]], admdvs: str) -> pl.DataFrame:
    n = len(staff["staff_type"])
    frame = pl.DataFrame({k: staff[k] for k in ("staff_type", "fixmedins_code", "dept_codg", "_kind")},
                         schema={k: pl.String for k in ("staff_type", "fixmedins_code", "dept_codg", "_kind")})  # fmt: skip
    kinds = frame.get_column("_kind").to_numpy()
    types = frame.get_column("staff_type").to_numpy()
    u = rng.random(n)
    profttl = np.full(n, "4", dtype=object)
    for kind, shares in _PROFTTL.items():
        sel = kinds == kind if kind != "other" else ~np.isin(kinds, ["hospital_3", "hospital_2"])
        cum = np.cumsum(shares)
        profttl[sel] = np.array(["1", "2", "3", "4"], dtype=object)[
            np.minimum(np.searchsorted(cum, u[sel], side="right"), 3)
        ]
    # serials per staff type across the region, in institution order
    serials = np.zeros(n, dtype=np.int64)
    for t in ("1", "2", "3"):
        sel = types == t
        serials[sel] = np.arange(1, int(sel.sum()) + 1)
    age = rng.integers(25, 61, n)
    male = rng.random(n) < np.where(types == "3", 0.05, 0.5)
    codes = [
        f"{_STAFF_PREFIX[t]}{admdvs}{s:07d}" for t, s in zip(types.tolist(), serials.tolist(), strict=True)
    ]
    return pl.DataFrame(
        {
            "staff_codg": pl.Series(codes, dtype=pl.String),
            "staff_name": names.person_names(rng, male, (2024 - age).astype(np.int64)),
            "staff_type": frame.get_column("staff_type"),
            "fixmedins_code": frame.get_column("fixmedins_code"),
            "dept_codg": frame.get_column("dept_codg"),
            "profttl": pl.Series(profttl.tolist(), dtype=pl.String),
        }
    )
