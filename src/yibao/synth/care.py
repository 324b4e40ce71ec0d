"""Care of the synthetic region: encounters, diagnoses, procedures, fee lines and traceability codes.

:func:`make_care` turns one chunk of persons (psn_info_b) into the care they receive in a year, over the
region's institutions and the catalogue, as five tables: ``mdtrt_d``, ``setl_list_diag_d``,
``setl_list_oprn_d``, ``fee_list_d`` and ``drug_trac_d``. Everything is vectorised over the chunk
(NumPy index arithmetic; no Python loop per person, encounter or line):

1. **Who uses care.** Each scheme's encounter counts are the bulletin's person-times per insured
   (``TARGETS *_per_insured``) times the chunk's insured of that scheme — fixed totals, so the figures
   hold exactly in expectation — shared out over persons by a multinomial whose weights are the person's
   exposure (days alive in the year), an age × sex rate, a gamma frailty (so the counts per person are
   negative-binomial: a few heavy users) and, for chronic and pharmacy care, the person's registered
   chronic conditions (:data:`yibao.synth.diagnoses.CONDITIONS` ``chronic`` prevalences; dialysis and
   cancer patients come most often). Nobody receives care after death_date or before birth.
2. **Where.** Hospital level (三/二/一) by kind of care — for admissions exactly the bulletin's level
   shares (``TARGETS *.admission_share.*``); a home institution per person and level (70 % of visits);
   the department whose 科别 fits the condition (children to 儿科, emergencies to 急诊医学科); a doctor
   of that department (pharmacists at pharmacies).
3. **What and when.** A condition that fits age and sex, with a 医保版 code; dates from seasonal
   profiles (winter respiratory peak, the Chinese New Year dip, weekdays, National Day) inside the
   person's window; stays never overlap and no visit falls inside a stay; outpatient visits in the
   daytime, emergencies also at night, pharmacies into the evening.
4. **Length and cost of stays.** Per scheme × level cell, lognormal length of stay and cost are scaled
   so that the cell's total days and mean cost equal ``TARGETS *.los.*`` and ``*.cost_per_admission.*``
   exactly (the heavy tail stays; the realised mean no longer depends on it). Cost rises with the
   condition, the length of stay, surgery and intensive care.
5. **Fee lines** from the catalogue: bed, nursing and 诊察费 per day (cnt = LOS), laboratory tests and
   examinations, drugs (injections one line per day, oral drugs per prescription), consumables,
   surgery and anaesthesia; outpatient 诊察费, tests, 1–4 drugs; pharmacy 1–4 drugs; chronic visits up to 6
   drugs, a month of each of the conditions'. Prices are the item's cap at the institution's level (most at the
   cap, 30 % of institution × item pairs up to 5 % below), or for uncapped items the reference price of
   :data:`REFERENCE_PRICES` (pharmacies up to 12 % above it). Every restriction of the catalogue (sex,
   age, level, visit kind, indications, days of supply) holds in clean data.
   Each encounter draws its cost (lognormal around the cell's target: scheme × kind, or scheme ×
   level for stays, weighted by level, condition and — for visits — the condition's typical cost);
   optional orders are kept in random order up to :attr:`_LineBuilder.FILL` of it, then quantities
   (whole packages, whole times; cheap items are never multiplied) are scaled to it by unbiased random
   rounding within plausible maxima, and corrected per cell until the cell's mean meets its target.
6. **Traceability codes**: one per package dispensed on every drug line (西药中成药), 20 digits (see
   :mod:`yibao.catalog.trace`), never reused.
7. **Refills of long prescriptions** (``_Simulation._refills``): a person's visits and purchases for one
   chronic condition that dispense 7 days or more form a refill series, dated so that each refill
   comes when 80–100 % of the last supply is used (a few days early is common), late in a quarter of
   cases (a gap in the treatment) and with more than a third of the supply left in only 3 % — a dose
   change: the doctor doubles the dose, so the refill's packages last half its days and what is left
   of the old supply, taken at the new dose, is used up on schedule; a drug's days supplied never run
   past the person's next dispense of it (a frequent buyer gets shorter prescriptions). So clean
   chronic patients are not early-refill cases: about 2 % of their refills come before 70 % of the
   supply is used (the rule's threshold), against 16 % with independent dates, and those are mostly dose
   changes, which the rule recognises.
   Counts are unchanged; no drug is dispensed twice on one day at one place (the repeat line, a few in
   100,000, is dropped), otherwise costs and quantities are unchanged.
8. **Care a real hospital would bill** (so clean data keeps the billing rules a supervisor checks):
   an item only some departments may order (限定开单科室, the knowledge base's restrictions.csv ``depts``)
   is given only at an institution with such a department, and in another department's encounter its
   line is a 会诊 order of a doctor of that department (:class:`_Restricted`);
   a decoction is led by a herb that is paid alone (君药; 黄芪, 甘草 … are paid only in a formula) and
   dosed by the gram; maintenance haemodialysis keeps a weekly timetable (Mon/Wed/Fri or Tue/Thu/Sat,
   never four sessions a week, :meth:`_Simulation._dialysis_sessions`); a staging scan (PET/CT) is done
   at most once a half-year; every chronic condition listed on a stay gets one of its drugs continued
   (a listed 心力衰竭 has its diuretic or β-blocker); two charges of a stay seldom share an instant.

Ids start with a letter and carry the chunk number: mdtrt_id ``M`` + chunk (4) + 8 digits, feedetl_sn
``F`` + chunk + 10 digits, rxno ``R`` + chunk + encounter (8) + day (3). A bed number
``B<chunk><batch>-<bed>`` is a bed of the chunk's own ward of the department: chunks (and the batches
of :data:`BATCH_PERSONS` persons a chunk is simulated in, to bound memory) are generated independently,
so each gets its ward and no bed is ever given to two patients at once.

>>> import numpy as np
>>> from yibao.catalog.loader import default_catalog
>>> from yibao.synth.institutions import make_institutions
>>> from yibao.synth.population import make_employers, make_persons
>>> rng = np.random.default_rng(7)
>>> emp = make_employers(rng, 2_000)
>>> persons = make_persons(rng, 2_000, chunk=0, first_seq=0, year=2024, employers=emp, admdvs="990100")["psn_info_b"]
>>> care = make_care(rng, persons, make_institutions(rng, 2_000), default_catalog(), year=2024, chunk=0)
>>> sorted(care)
['drug_trac_d', 'fee_list_d', 'mdtrt_d', 'setl_list_diag_d', 'setl_list_oprn_d']
>>> care["mdtrt_d"]["mdtrt_id"][0][:5]
'M0000'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from yibao import codes
from yibao.catalog.model import Catalog, CatalogItem
from yibao.catalog.trace import product_prefix, serial, trace_codes
from yibao.dataset.io import polars_schema
from yibao.dataset.schema import TABLES
from yibao.drg import tables as drg_tables
from yibao.supervision.kb import default_kb
from yibao.synth import diagnoses as dx
from yibao.synth.kept import of_region
from yibao.synth.targets import TARGETS

__all__ = ["BATCH_PERSONS", "CARE_TABLES", "CHRONIC_LEVEL", "COST_SIGMA", "LOS_SIGMA", "make_care"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

CARE_TABLES = ("mdtrt_d", "setl_list_diag_d", "setl_list_oprn_d", "fee_list_d", "drug_trac_d")

# kinds of care, schemes, levels ---------------------------------------------------------------
OUT, CHR, INP, PHA = 0, 1, 2, 3
KIND_NAMES = ("outpatient", "chronic", "inpatient", "pharmacy")
SCHEMES = ("employee", "resident")
INSUTYPE = ("310", "390")
VISIT_BIT = {"outpatient": 1, "chronic": 2, "inpatient": 4, "pharmacy": 8, "ltc": 16}
KIND_BIT = np.array([1, 2, 4, 8], dtype=np.int64)

RATE_BY_BAND: dict[int, tuple[float, ...]] = {
    OUT: (2.2, 2.0, 1.0, 0.75, 1.0, 1.5, 1.8),
    INP: (1.6, 0.9, 0.4, 0.5, 1.0, 2.0, 3.3),
    PHA: (0.2, 0.3, 0.4, 0.9, 1.1, 1.3, 1.3),
}
"""Relative rate of each kind of care by age band (<1, 1–4, 5–14, 15–44, 45–59, 60–74, 75+)."""
FEMALE_FACTOR = {OUT: 1.15, INP: 1.0, PHA: 1.1}
CHILDBIRTH_FACTOR = 1.9
"""Extra inpatient weight of women aged 15–44 (deliveries)."""
FRAILTY_SHAPE = {OUT: 1.4, CHR: 2.0, INP: 0.7, PHA: 0.7}
"""Gamma shape of each person's frailty per kind (lower = more heavy users)."""
CHRONIC_PHARMACY_BOOST = {0: 2.5, 1: 12.0}
"""Pharmacy weight of a person with a chronic condition, per scheme: residents rarely use pharmacies
except for the drugs of a chronic or special disease (双通道), hence their dear purchases (611 元)."""
CHRONIC_PURCHASE_SHARE = {0: 0.6, 1: 0.95}
DUAL_CHANNEL = {"hepatitis_c": 20.0, "ra": 10.0, "kidney_transplant": 10.0, "hepatitis_b": 3.0, "diabetes": 2.0,
                "cml": 30.0, "gh_deficiency": 10.0}  # fmt: skip
DUAL_CANCER = 30.0
"""Weight of a chronic condition in residents' pharmacy purchases (cancers 30, others 1): the dear
negotiated drugs that residents buy at designated pharmacies (双通道)."""
DEATH_INPATIENT_BOOST = 3.0
TERMINAL_STAY_SHARE = 0.5
"""Share of persons dying in the year with a stay whose last one ends on the day of death (dscg_way 5)."""

OUT_LEVEL = {0: (0.32, 0.26, 0.42), 1: (0.42, 0.30, 0.28)}
"""General outpatient visits by level (一 / 二 / 三) per scheme (employees: more 三级)."""
ER_LEVEL = (0.10, 0.35, 0.55)
CHRONIC_LEVEL = {0: (0.20, 0.35, 0.45), 1: (0.30, 0.40, 0.30)}
OUT_COST_LEVEL = (0.55, 1.0, 1.45)
"""Relative cost of a general outpatient visit at 一 / 二 / 三级 (normalised to the scheme's mean)."""
CHR_COST_LEVEL = (0.75, 1.0, 1.3)
NATURAL_WEIGHT = 0.8
"""How far a visit's drawn cost follows its condition's typical cost (its drugs' and tests' usual prices):
0 = not at all, 1 = proportionally. Dear conditions (dialysis, cancer drugs) cost more, a refill less."""
ER_COST = 1.4
HOME_SHARE = 0.7
CHEAP_YUAN = 10.0
COST_SIGMA = {OUT: 0.65, CHR: 0.55, INP: 0.45, PHA: 0.7}
"""σ of the lognormal cost per encounter around its expected value (a moderate tail for inpatients:
the cell means are exact anyway, and σ = 0.45 combined with the condition, LOS and surgery factors
gives a coefficient of variation of about 0.9 per admission)."""
SEVERITY_COST = (1.0, 1.25, 1.7)
"""A stay's cost relative to a stay of its cell without complications, when its secondary diagnoses
count as a CC or an MCC (CHS-DRG 1.1 5_MCC/6_CC, less the exclusions of 表 7-n, as the grouper counts
them): about the spread of CHS-DRG weights between the groups of one ADRG (…5 : …3 : …1). Inferred,
not a bulletin figure; the cell's mean cost stays its target. Without the tables: 1 for every stay."""
LOS_SIGMA = 0.55
SEVERITY_LOS = (1.0, 1.25, 1.5)
"""A stay's length relative to one of its cell without complications, when the chronic conditions it
lists count as a CC or an MCC (known when its length is drawn); the cell's mean length stays its
target. Inferred, not a bulletin figure (about the spread of mean stays between the groups of one ADRG)."""
COMORBIDITY_LOS = 0.6
"""How much a stay's comorbidities follow its length: the number a stay lists is Poisson with the age
band's mean times exp(β z − β²/2), z the normal draw of the stay's lognormal LOS (mean count kept).
Sicker patients stay longer and list more complications, so stays with a CC or an MCC are longer than
those without, as between the groups of one ADRG. Inferred, not a bulletin figure."""
MAX_LOS = 150

# refills of long prescriptions -------------------------------------------------------------------
REFILL_ON_TIME = (0.8, 1.0)
"""A refill on schedule comes when 80–100 % of the last supply is used (a few days early is common)."""
REFILL_EARLY = 0.03
REFILL_EARLY_USED = (0.4, 0.66)
"""Share of refills that come with more than a third of the supply left — uncommon — and how much
of the supply they have used. Such a refill is a dose change (a titration step, 5 → 10 mg): the
doctor doubles the dose, so the same packages last half the days, and the supply left (34–60 % of
the old days) lasts 17–30 % of them at the new dose."""
REFILL_LATE = 0.25
REFILL_LATE_MEAN = 0.5
"""Share of refills that come late (a gap in the treatment), 1 + Exp(0.5) supplies after the last."""
REFILL_MIN_DAYS = 7
"""Supplies shorter than this (acute courses) are not refilled on a schedule."""
STAGING_SCANS = ("正电子发射计算机断层显像(PET/CT)",)
"""Scans that stage a cancer and assess its response (at diagnosis, after a course of treatment), not
follow-up at every visit: a person has at most one in each half of the year."""
DIALYSIS_ITEMS = ("血液透析", "血液透析器", "血液透析管路")
"""The charges of one haemodialysis session (the service first); a visit that carries it is a session."""
DIALYSIS_DAYS = ((0, 2, 4), (1, 3, 5))
"""The two weekly timetables of a dialysis unit: Mon/Wed/Fri and Tue/Thu/Sat (weekday 0 = Monday)."""

# seasonality -----------------------------------------------------------------------------------
_MONTH = {
    "flat": (1.05, 0.92, 1.04, 1.0, 0.98, 0.97, 1.0, 1.0, 0.98, 0.95, 1.03, 1.08),
    "winter": (1.55, 1.25, 1.1, 0.9, 0.75, 0.7, 0.7, 0.72, 0.82, 0.95, 1.2, 1.5),
    "summer": (0.75, 0.7, 0.8, 0.9, 1.1, 1.35, 1.45, 1.4, 1.15, 0.95, 0.8, 0.75),
}
SEASONS = ("flat", "winter", "summer")
_WEEKDAY = {  # Monday … Sunday
    OUT: (1.25, 1.1, 1.05, 1.05, 1.0, 0.7, 0.55),
    CHR: (1.2, 1.1, 1.1, 1.1, 1.05, 0.6, 0.45),
    INP: (1.3, 1.15, 1.1, 1.05, 1.0, 0.65, 0.55),
    PHA: (0.95, 0.95, 0.95, 0.95, 1.0, 1.15, 1.1),
    4: (1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05),  # emergencies
}
CHINESE_NEW_YEAR = {
    2020: date(2020, 1, 25), 2021: date(2021, 2, 12), 2022: date(2022, 2, 1), 2023: date(2023, 1, 22),
    2024: date(2024, 2, 10), 2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6),
    2028: date(2028, 1, 26), 2029: date(2029, 2, 13), 2030: date(2030, 2, 3),
}  # fmt: skip
_CNY_DIP = {OUT: 0.45, CHR: 0.4, INP: 0.5, PHA: 0.65, 4: 1.0}
_HOURS = {
    OUT: {8: 1.0, 9: 1.3, 10: 1.2, 11: 0.9, 12: 0.15, 13: 0.3, 14: 0.85, 15: 0.75, 16: 0.6, 17: 0.2},
    CHR: {8: 1.1, 9: 1.3, 10: 1.1, 11: 0.8, 13: 0.2, 14: 0.8, 15: 0.7, 16: 0.5},
    PHA: {8: 0.5, 9: 0.8, 10: 1.0, 11: 1.0, 12: 0.8, 13: 0.6, 14: 0.7, 15: 0.8, 16: 0.9, 17: 1.0, 18: 1.2,
          19: 1.35, 20: 1.2, 21: 0.7, 22: 0.25},
    4: dict(enumerate((0.7, 0.6, 0.5, 0.4, 0.4, 0.4, 0.5, 0.6, 0.8, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.9, 1.0,
                       1.2, 1.3, 1.3, 1.2, 1.0, 0.8))),
    5: {8: 0.8, 9: 1.2, 10: 1.2, 11: 1.0, 12: 0.3, 13: 0.5, 14: 0.9, 15: 0.9, 16: 0.7, 17: 0.4},  # admissions
    6: {8: 0.3, 9: 1.0, 10: 1.2, 11: 0.9, 12: 0.3, 14: 0.4, 15: 0.4, 16: 0.3},  # discharges
}  # fmt: skip

TCM_CONDITIONS = ("gastritis", "insomnia", "menstrual", "bronchitis", "back_pain", "disc", "cervical",
                  "frozen_shoulder", "constipation", "anxiety", "vertigo")  # fmt: skip
TCM_SHARE = 0.10
"""Share of outpatient visits for TCM-friendly conditions seen at 中医科 with a decoction (中药饮片)."""

# catalogue names of the fixed and general lines --------------------------------------------------
BEDS = (("普通病房床位费(三人间)", 0.75), ("普通病房床位费(双人间)", 0.2), ("普通病房床位费(单人间)", 0.05))
NURSING = (("II级护理", 0.6), ("I级护理", 0.3), ("III级护理", 0.1))
INPATIENT_CONSULT = "住院诊察费"
CONSULT_3 = (("普通门诊诊察费", 0.78), ("副主任医师门诊诊察费", 0.14), ("主任医师门诊诊察费", 0.08))
CONSULT_2 = (("普通门诊诊察费", 0.86), ("副主任医师门诊诊察费", 0.14))
CONSULT_1 = (("一般诊疗费", 0.75), ("普通门诊诊察费", 0.25))
ER_CONSULT = "急诊诊察费"
REGISTRATION = "挂号费"
INPATIENT_LABS = (
    ("血细胞分析(血常规)", 1.0, 4), ("尿液分析(尿常规)", 0.9, 10), ("血清总胆红素测定(肝功能)", 0.8, 8),
    ("血清丙氨酸氨基转移酶测定(肝功能)", 0.85, 8), ("血清肌酐测定(肾功能)", 0.85, 8), ("血清尿酸测定(肾功能)", 0.6, 10),
    ("葡萄糖测定(血糖)", 0.8, 3), ("血清总胆固醇测定", 0.5, 0), ("C反应蛋白测定(CRP)", 0.45, 6), ("D-二聚体测定", 0.3, 0),
    ("乙型肝炎表面抗原测定(HBsAg)", 0.55, 0), ("人免疫缺陷病毒抗体测定(Anti-HIV)", 0.4, 0), ("ABO血型鉴定", 0.25, 0),
    ("常规心电图检查", 0.75, 10), ("数字化X线摄影(DR)胸部正位", 0.5, 0), ("B超常规检查", 0.3, 0),
    ("彩色多普勒超声常规检查", 0.25, 0), ("X线计算机体层(CT)平扫", 0.25, 0),
)  # fmt: skip
"""(name, probability, one more test every N days of stay (0 = once)) of the routine inpatient work-up."""
INPATIENT_DRUGS = (
    ("0.9%氯化钠注射液", 0.9), ("5%葡萄糖注射液", 0.45), ("10%氯化钾注射液", 0.15), ("注射用奥美拉唑钠", 0.3),
    ("地塞米松磷酸钠注射液", 0.08), ("盐酸利多卡因注射液", 0.05), ("复方氨基酸注射液(18AA)", 0.1),
    ("中/长链脂肪乳注射液(C8-24)", 0.06), ("血塞通软胶囊", 0.06), ("维生素C片", 0.04), ("盐酸氨溴索注射液", 0.12),
    ("注射用头孢曲松钠", 0.1), ("依诺肝素钠注射液", 0.06), ("人血白蛋白", 0.04), ("舒血宁注射液", 0.08),
    ("清开灵注射液", 0.05),
)  # fmt: skip
INPATIENT_IMAGING = (
    ("X线计算机体层(CT)平扫", 0.3), ("X线计算机体层(CT)增强扫描", 0.12), ("磁共振(MRI)平扫", 0.12),
    ("磁共振(MRI)增强扫描", 0.05), ("彩色多普勒超声常规检查", 0.3), ("超声心动图(心脏彩超)", 0.2), ("动态心电图", 0.08),
)  # fmt: skip
"""Further examinations of a stay, more likely at 三级 and in dear stays."""
INTENSIVE = (("人血白蛋白", 0.6), ("注射用美罗培南", 0.35), ("注射用盐酸万古霉素", 0.15), ("复方氨基酸注射液(18AA)", 0.5),
             ("中/长链脂肪乳注射液(C8-24)", 0.4), ("注射用甲泼尼龙琥珀酸钠", 0.3))  # fmt: skip
ICU_BED = "监护病房床位费(ICU)"
ICU_CARE = "重症监护"
ICU_LINES = (("一次性使用中心静脉导管", 0.6, 1), ("一次性使用吸痰管", 0.5, 4), ("呼吸机辅助呼吸", 0.35, 24))
IV_SERVICE = "静脉输液"
IV_SET = "一次性使用输液器(带针)"
STAY_CONSUMABLES = (("一次性使用无菌注射器(5ml)", 0.7), ("一次性使用静脉留置针", 0.6), ("一次性使用真空采血管", 0.8))
SURGICAL_EXTRAS = (("换药(中)", 0.7), ("一次性使用导尿管(双腔气囊)", 0.3), ("医用脱脂纱布块", 0.5))
CPR = "心肺复苏术"
NEWBORN_NURSING = "新生儿护理"
DAPT = (("阿司匹林肠溶片", 1, 30), ("硫酸氢氯吡格雷片", 2, 14), ("替格瑞洛片", 2, 14))
"""Dual antiplatelet therapy after a coronary stent, as 出院带药: aspirin + clopidogrel or ticagrelor
(packages, days supplied)."""
OTC = (
    ("连花清瘟胶囊", 1.0), ("感冒清热颗粒", 0.8), ("板蓝根颗粒", 0.6), ("对乙酰氨基酚片", 0.7), ("布洛芬缓释胶囊", 0.8),
    ("蒙脱石散", 0.4), ("藿香正气水", 0.5), ("小柴胡颗粒", 0.5), ("双黄连口服液", 0.4), ("牛黄解毒片", 0.4),
    ("云南白药胶囊", 0.5), ("六味地黄丸(浓缩丸)", 0.6), ("补中益气丸", 0.4), ("逍遥丸", 0.3), ("维生素C片", 0.5),
    ("奥美拉唑肠溶胶囊", 0.5), ("多潘立酮片", 0.4), ("阿莫西林胶囊", 0.5), ("左氧氟沙星滴眼液", 0.3), ("阿昔洛韦乳膏", 0.2),
    ("复方丹参滴丸", 0.4), ("速效救心丸", 0.3), ("蒲地蓝消炎口服液", 0.4), ("小儿豉翘清热颗粒", 0.3), ("布洛芬混悬液", 0.3),
    ("多维元素片(29)", 0.25), ("维生素E软胶囊", 0.15), ("医用外科口罩", 0.2), ("医用压力袜", 0.05), ("血糖试纸", 0.08),
)  # fmt: skip
"""Over-the-counter baskets at pharmacies (name, relative weight); 丙类 items among them are self-paid."""
HERB_DOSE = (6, 15)
HERB_DAYS = 7

# a small ordered cache key, so the compiled catalogue is built once per process and catalogue
_INJECTABLE = re.compile(r"注射|输液")


BATCH_PERSONS = 25_000
"""Persons simulated at once inside a chunk: bounds memory (about 0.4 GB of working arrays per batch).
Ids, traceability serials and bed wards continue from batch to batch; each batch meets the targets."""


@dataclass
class _Counters:
    """What continues from one batch of a chunk to the next: id sequences, serials, the ward."""

    encounters: int = 0
    lines: int = 0
    batch: int = 0
    serials: npt.NDArray[np.int64] | None = None  # next serial per prefix group


def make_care(
    rng: np.random.Generator,
    persons: pl.DataFrame,
    institutions: dict[str, pl.DataFrame],
    catalog: Catalog,
    *,
    year: int,
    chunk: int,
) -> dict[str, pl.DataFrame]:
    """The care of one chunk of persons in ``year`` (see the module docstring)."""
    if chunk < 0 or chunk > 9999:
        raise ValueError(f"chunk must be between 0 and 9999, got {chunk}")
    cat = _compiled(catalog, year)
    frames = tuple(institutions.get(t) for t in ("fixmedins_b", "dept_b", "medstaff_b"))
    reg = of_region("care: institutions", frames, lambda: _Region.build(institutions))
    counters = _Counters(serials=np.zeros(len(np.unique(cat.prefix)), dtype=np.int64))
    parts: dict[str, list[pl.DataFrame]] = {name: [] for name in CARE_TABLES}
    for start in range(0, max(persons.height, 1), BATCH_PERSONS):
        ppl = _People.build(persons.slice(start, BATCH_PERSONS), year)
        tables = _Simulation(rng, ppl, reg, cat, year, chunk, counters).run()
        counters.batch += 1
        for name in CARE_TABLES:
            parts[name].append(tables[name])
    return {name: pl.concat(frames, rechunk=False) for name, frames in parts.items()}


# =============================================================================================
# Small vector helpers
# =============================================================================================


def _segments(counts: I64) -> tuple[I64, I64]:
    """For segment lengths ``counts``: the segment of every element and its position inside it."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    seg = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    return seg, pos


def _cum_table(weights: F64) -> F64:
    """Row-normalised cumulative weights of a (classes × categories) matrix, offset by the row number."""
    w = np.asarray(weights, dtype=np.float64)
    total = w.sum(axis=1, keepdims=True)
    safe = np.where(total > 0, total, 1.0)
    cum = np.cumsum(w, axis=1) / safe
    cum[total[:, 0] <= 0] = 0.0
    cum[:, -1] = np.where(total[:, 0] > 0, 1.0, 0.0)
    return cum + np.arange(w.shape[0], dtype=np.float64)[:, None]


def _draw(cum: F64, cls: I64, u: F64) -> I64:
    """One category per row from the cumulative table of its class (-1 when the class has no weight)."""
    n_cat = cum.shape[1]
    flat = cum.ravel()
    target = cls.astype(np.float64) + np.clip(u, 1e-12, 1 - 1e-12)
    idx = np.searchsorted(flat, target, side="left")
    cat = idx - cls * n_cat
    bad = (cat < 0) | (cat >= n_cat) | (cum[cls, -1] <= cls)
    return np.where(bad, -1, cat).astype(np.int64)


def _csr_pick(offsets: I64, cumw: F64, owner: I64, u: F64) -> I64:
    """Weighted pick of one element of the CSR segment of each ``owner`` (-1 for an empty segment)."""
    if not len(cumw):
        return np.full(len(owner), -1, dtype=np.int64)
    start, end = offsets[owner], offsets[owner + 1]
    base = np.where(start > 0, cumw[np.maximum(start - 1, 0)], 0.0)
    top = np.where(end > 0, cumw[np.maximum(end - 1, 0)], 0.0)
    target = base + u * (top - base)
    idx = np.searchsorted(cumw, target, side="right")
    idx = np.clip(idx, start, np.maximum(end - 1, start))
    return np.where(end > start, idx, -1)


def _stochastic_round(x: F64, u: F64) -> I64:
    """Unbiased rounding: floor(x + u) with u uniform in [0, 1)."""
    return np.floor(x + u).astype(np.int64)


def _apportion(total: int, shares: Sequence[float]) -> I64:
    """Largest-remainder split of ``total`` by ``shares``."""
    w = np.asarray(shares, dtype=np.float64)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return np.asarray(out, dtype=np.int64)


def _mix(a: I64, b: I64, salt: int) -> F64:
    """A deterministic uniform in [0, 1) from two integer arrays (SplitMix-style hashing)."""
    x = (a.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) ^ (b.astype(np.uint64) + np.uint64(salt))
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


_WORDS = np.frombuffer(b"".join(f"{i:04d}".encode() for i in range(10_000)), dtype="<u4")


def _numbered(prefix: str, values: I64, width: int, *, present: B | None = None) -> pl.Series:
    """Strings ``prefix`` + ``values`` zero-padded to ``width`` digits, built as bytes (fast); where
    ``present`` is False the string is empty.

    The bytes are written straight into an Arrow string-view array, the layout of Polars' strings, so
    Polars takes it over as it is: each 4-digit group as one little-endian word of ASCII digits (the
    spare leading digits of the first word fall on the prefix, written after them), a string of up to 12
    bytes inside its 16-byte view, a longer one in a data buffer that its view points to. Measured on a
    chunk of 25,000 persons (mdtrt_id, adm_bed, feedetl_sn, rxno: 1.3 million strings): 0.12 → 0.09 CPU-s.

    >>> _numbered("F0001", np.array([7, 1234567890, 12345678901]), 10).to_list()
    ['F00010000000007', 'F00011234567890', 'F00012345678901']
    >>> _numbered("B-", np.array([3, 42, 5]), 3, present=np.array([True, False, True])).to_list()
    ['B-003', '', 'B-005']
    """
    values = np.asarray(values, dtype=np.int64)
    n_all = len(values)
    if present is not None:
        values = values[present]
    n = len(values)
    head = prefix.encode("ascii")
    length = len(head) + width
    groups = -(-width // 4)
    spill = max(4 * groups - length, 0)  # bytes of the first word before the string (an empty prefix)
    inline = length <= 12
    # each string's row: inline in its view (after the 4 bytes of length), or a row of the data buffer
    stride, start = (16, 4) if inline else (spill + length, spill)
    data = np.zeros(n * stride, dtype=np.uint8).reshape(n, stride)
    rest = values.astype(np.uint64)  # unsigned division by a constant is the fast one
    for g in range(groups - 1, -1, -1):
        q = rest // np.uint64(10_000)
        at = start + length - 4 * (groups - g)
        data[:, at : at + 4].view("<u4")[:, 0] = _WORDS[rest - q * np.uint64(10_000)]
        rest = q
    for at, piece in zip(range(start, start + len(head)), head, strict=True):
        data[:, at] = piece
    if inline:
        data[:, :4].view("<u4")[:, 0] = length
        views = data.view("<u4")
        buffers = [None, pa.py_buffer(views)]
    else:
        if n * stride >= 2**31:
            raise ValueError(f"{n:,} strings of {length} bytes are too many for one string-view buffer")
        views = np.zeros((n, 4), dtype="<u4")
        views[:, 0] = length
        views[:, 1] = data[:, start : start + 4].view("<u4")[:, 0]  # the first 4 bytes, the view's prefix
        views[:, 3] = np.arange(start, n * stride, stride, dtype=np.uint32)
        buffers = [None, pa.py_buffer(views), pa.py_buffer(data)]
    if present is not None:
        every = np.zeros(n_all, dtype="V16")  # absent: the empty string
        every[np.flatnonzero(present)] = views.view("V16")[:, 0]  # (as 16-byte items: 4 times faster)
        buffers[1] = pa.py_buffer(every)
    out = pl.from_arrow(pa.Array.from_buffers(pa.string_view(), n_all, buffers))
    assert isinstance(out, pl.Series)
    fits = n == 0 or (int(values[0]) >= 0 and int(values[-1]) < 10**width)  # (ascending: the ends)
    return _sorted_if(out, present is None and _ascending(values) and fits)  # same width: same order


def _lexsort(keys: Sequence[npt.NDArray[Any]]) -> I64:
    """``np.lexsort(keys)``, the same order (the last key sorts first; ties keep their order), faster.

    Integer keys are packed into one int64 key (mixed radix over each key's range) when their ranges fit,
    then sorted once, stably; with a float key (a random tie-break) Polars' stable multi-column sort does
    it. Measured on a chunk's 300,000 drug lines with five integer keys: 0.03 instead of 0.14 CPU-s; on
    590,000 orders by encounter and a random number: 0.04 instead of 0.13.

    >>> ints = (np.array([3, 1, 2, 1, 0]), np.array([0, -1, 0, -1, 7]))
    >>> floats = (np.array([0.5, 0.25, 0.5, 0.75, 0.0]), np.array([2, 1, 2, 1, 0]))
    >>> all(_lexsort(k).tolist() == np.lexsort(k).tolist() for k in (ints, floats))
    True
    """
    n = len(keys[0])
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if all(np.issubdtype(k.dtype, np.integer) for k in keys):
        packed = np.zeros(n, dtype=np.int64)
        room = 1
        for k in reversed(keys):  # the first-sorting key in the highest digits
            low = int(k.min())
            span = int(k.max()) - low + 1
            room *= span
            if room >= 2**62:
                return np.asarray(np.lexsort(keys), dtype=np.int64)
            packed = packed * span + (k.astype(np.int64) - low)
        return np.asarray(np.argsort(packed, kind="stable"), dtype=np.int64)
    frame = pl.DataFrame({f"k{i}": k for i, k in enumerate(reversed(keys))})
    order = frame.select(pl.arg_sort_by(frame.columns, maintain_order=True)).to_series()
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _argsort_stable(key: I64) -> I64:
    """``np.argsort(key, kind="stable")`` by Polars' stable sort: measured on a chunk's 1,000,000 fee lines,
    0.08 instead of 0.10 CPU-s (medians; NumPy sorts 64-bit integers stably by timsort).

    >>> key = np.array([3, 1, 2, 1, 0, 3])
    >>> _argsort_stable(key).tolist() == np.argsort(key, kind="stable").tolist()
    True
    """
    if not len(key):
        return np.zeros(0, dtype=np.int64)
    order = pl.DataFrame({"k": key}).select(pl.arg_sort_by("k", maintain_order=True)).to_series()
    return np.asarray(order.to_numpy(), dtype=np.int64)


def _take(series: pl.Series, idx: I64, key: I64 | None = None) -> pl.Series:
    """``series.gather(idx)``; strings (without nulls) by a NumPy gather of their 16-byte Arrow string views,
    which keep pointing into the series' own data buffers. Marked sorted (:func:`_sorted_if`) when
    ``series`` is and ``idx`` ascends, or when ``key`` (integers that order the strings of ``series``
    as they sort) ascends over ``idx``.

    Polars' gather of a million strings spends most of its time faulting in fresh pages for the new views
    (4 KiB pages, where NumPy's large arrays get huge pages). Measured on a chunk of 25,000 persons (30
    gathers, 12 million strings, mostly the fee and traceability tables): 0.25 → 0.09 CPU-s.

    >>> s = pl.Series("s", ["a", "a string of more than 12 bytes", "c"])
    >>> _take(s, np.array([1, 0, 1, 2])).to_list()
    ['a string of more than 12 bytes', 'a', 'a string of more than 12 bytes', 'c']
    >>> _take(s[1:], np.array([1, 0])).equals(s.gather([2, 1]))
    True
    """
    if series.dtype != pl.String or series.has_nulls():
        return series.gather(pl.Series(idx, dtype=pl.Int64))
    arr = series.to_arrow(compat_level=pl.CompatLevel.newest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    _, view_buffer, *data = arr.buffers()  # (no validity: no nulls)
    views = np.frombuffer(view_buffer, dtype="V16")[arr.offset : arr.offset + len(arr)]
    gathered = pa.py_buffer(np.take(views, idx))
    out = pl.from_arrow(pa.Array.from_buffers(pa.string_view(), len(idx), [None, gathered, *data]))
    assert isinstance(out, pl.Series)
    ascending = _ascending(key[idx]) if key is not None else series.flags["SORTED_ASC"] and _ascending(idx)
    return _sorted_if(out.alias(series.name), ascending)


def _ascending(values: npt.NDArray[Any]) -> bool:
    return bool(np.all(values[1:] >= values[:-1]))


def _sorted_if(series: pl.Series, ascending: bool) -> pl.Series:
    """``series`` marked as sorted when ``ascending`` (known from the integers it was made of): the
    fraud stage finds the lines of some encounters by bisection once it sees the key sorted, and
    checking a million strings costs more than checking their integers (0.05 against 0.002 CPU-s)."""
    return series.set_sorted() if ascending else series


def _int64(values: npt.NDArray[Any]) -> pl.Series:
    """An Int64 column on the array itself (``pl.Series(values, dtype=pl.Int64)`` copies it: 0.015 CPU-s
    for a million values)."""
    return pl.Series(np.asarray(values, dtype=np.int64))


def _datetimes(seconds: I64) -> pl.Series:
    return pl.Series(np.asarray(seconds, dtype=np.int64) * 1_000_000).cast(pl.Datetime("us"))


def _epoch_day(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def _ymd(days: I64) -> tuple[I64, I64, I64]:
    dt = np.asarray(days, dtype="int64").astype("datetime64[D]")
    y = dt.astype("datetime64[Y]").astype(np.int64) + 1970
    m_all = dt.astype("datetime64[M]")
    m = m_all.astype(np.int64) % 12 + 1
    d = (dt - m_all.astype("datetime64[D]")).astype(np.int64) + 1
    return y, m, d


def _age_on(brdy: I64, on: I64) -> I64:
    """Age in whole years on the day ``on`` (both epoch days).

    The calendar (year, month × 32 + day) of the days spanned is computed once and looked up: measured on
    a chunk of 25,000 persons (four calls), 0.01 instead of 0.04 CPU-s (NumPy's datetime conversion per element).

    >>> brdy = np.array([_epoch_day(date(2000, 2, 29)), _epoch_day(date(1950, 12, 31))])
    >>> _age_on(brdy, np.array([_epoch_day(date(2024, 2, 28)), _epoch_day(date(2024, 12, 31))])).tolist()
    [23, 74]
    """
    brdy, on = np.asarray(brdy, dtype=np.int64), np.asarray(on, dtype=np.int64)
    if not len(brdy):
        return np.zeros(0, dtype=np.int64)
    first = min(int(brdy.min()), int(on.min()))
    year, month, day = _ymd(np.arange(first, max(int(brdy.max()), int(on.max())) + 1, dtype=np.int64))
    month_day = month * 32 + day
    b, o = brdy - first, on - first
    before = month_day[o] < month_day[b]  # the birthday is still to come in the year
    return np.asarray(np.maximum(year[o] - year[b] - before.astype(np.int64), 0), dtype=np.int64)


# =============================================================================================
# The compiled catalogue
# =============================================================================================

_LIST_TYPES = ("drug", "herb", "service", "consumable")
_REF_BANDS = (  # stable reference prices (yuan) of items without any cap: (pattern on dosform/unit, lo, hi)
    ("大容量注射液", 3.0, 20.0), ("注射", 10.0, 300.0), ("吸入|气雾", 40.0, 200.0), ("贴剂", 30.0, 120.0),
    ("乳膏|滴眼|搽剂|混悬|滴剂|口服溶液", 8.0, 50.0), ("", 10.0, 90.0),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Catalogue:
    """The catalogue as arrays (one row per code in force in the year), and the item pools."""

    code: pl.Series
    chrgitm: pl.Series
    names: dict[str, int]
    list_type: I64  # index into _LIST_TYPES
    lv: I64  # 1 甲 2 乙 3 丙
    cap: I64  # (4, n): price cap at coarse level 1–3 in 1e-6 yuan, -1 = none (row 0 unused)
    has_cap: B
    ref_price: I64  # 1e-6 yuan
    gend: I64
    age_min: I64
    age_max: I64
    lv_min: I64
    visits: I64
    has_ind: B
    max_days: I64
    injectable: B
    per_pack_days: F64
    unit_hours: B
    prefix: I64
    pools: _Pools


@dataclass(frozen=True, slots=True)
class _Pools:
    """Item pools in CSR form: pool → items with an inclusion probability (or weight)."""

    offsets: I64
    items: I64
    prob: F64
    index: dict[str, int]
    cond_drugs: I64  # pool id per condition (−1 none)
    cond_tests: I64
    cond_treat: I64
    cond_always: I64
    cond_procs: tuple[tuple[int, ...], ...]  # available procedure indices per condition
    natural_visit: F64  # a condition's typical general-visit cost (yuan), from its pools' usual prices
    natural_chronic: F64  # … and of a chronic visit (a month of its drugs)
    procs: tuple[_Proc, ...]

    def size(self, pool: I64) -> I64:
        return self.offsets[pool + 1] - self.offsets[pool]


@dataclass(frozen=True, slots=True)
class _Proc:
    proc: dx.Procedure
    service: int
    anaesthesia: int
    consumables: tuple[tuple[int, int], ...]
    min_level: int
    name: str
    secondary: tuple[tuple[str, str], ...]


_NONE = np.zeros(0, dtype=np.int64)
_EMPTY_POOLS = _Pools(offsets=np.zeros(1, dtype=np.int64), items=_NONE, prob=np.zeros(0), index={}, cond_drugs=_NONE,
                      cond_tests=_NONE, cond_treat=_NONE, cond_always=_NONE, cond_procs=(), procs=(),
                      natural_visit=np.zeros(0), natural_chronic=np.zeros(0))  # fmt: skip


def _version(items: list[CatalogItem], on: date) -> CatalogItem | None:
    live = [i for i in items if i.in_force(on)]
    return live[-1] if live else None


PACK_DAYS = {
    "阿仑膦酸钠片": 7.0, "司美格鲁肽注射液": 28.0, "利拉鲁肽注射液": 10.0, "甘精胰岛素注射液": 15.0,
    "门冬胰岛素注射液": 10.0, "生物合成人胰岛素注射液": 20.0, "依洛尤单抗注射液": 14.0, "阿达木单抗注射液": 14.0,
    "注射用重组人生长激素": 2.0, "雷珠单抗注射液": 30.0, "芬太尼透皮贴剂": 3.0, "人用狂犬病疫苗(Vero细胞)": 3.0,
    "九价人乳头瘤病毒疫苗(酿酒酵母)": 60.0, "破伤风人免疫球蛋白": 30.0, "重组人促红素注射液": 3.0,
}  # fmt: skip
"""Days one package lasts for drugs whose dose the package text does not tell (weekly tablets, pens …)."""


def _pack_days(item: CatalogItem) -> float:
    """Days of treatment one package supplies (a rough, documented model from spec and dosage form)."""
    if item.name in PACK_DAYS:
        return PACK_DAYS[item.name]
    form = item.dosform
    m = re.search(r"\*(\d+)", item.spec) or re.match(r"^(\d+)(片|粒|丸|袋|支|揿|吸)", item.spec)
    units = int(m.group(1)) if m else 1
    if _INJECTABLE.search(form):
        return 7.0
    if re.search(r"乳膏|滴眼|搽剂|混悬|滴剂|口服溶液", form):
        return 10.0
    if re.search(r"气雾|吸入", form):
        return max(units / 4.0, 7.0)
    if "贴剂" in form:
        return 3.0
    if re.search(r"颗粒|散剂|口服液|酊剂", form):
        return max(units / 3.0, 1.0)
    if "丸" in form:
        return max(units / 20.0, 3.0) if units > 20 else max(units / 2.0, 1.0)
    if re.search(r"缓释|控释", form):
        return float(max(units, 1))
    return max(units / 2.0, 1.0)


REFERENCE_PRICES: dict[str, float] = {
    # 西药 (yuan per package, roughly the 2024 hospital price after volume-based procurement)
    "阿莫西林胶囊": 8.5, "注射用青霉素钠": 0.8, "阿莫西林克拉维酸钾片": 15, "注射用哌拉西林钠他唑巴坦钠": 28,
    "注射用头孢唑林钠": 4.5, "头孢呋辛酯片": 12, "注射用头孢曲松钠": 3.5, "注射用头孢哌酮钠舒巴坦钠": 18,
    "注射用美罗培南": 45, "阿奇霉素片": 9, "注射用阿奇霉素": 12, "左氧氟沙星片": 6, "盐酸莫西沙星片": 18, "甲硝唑片": 3,
    "注射用盐酸万古霉素": 95, "氟康唑胶囊": 8, "伏立康唑片": 120, "阿昔洛韦片": 6, "磷酸奥司他韦胶囊": 28,
    "异烟肼片": 8, "利福平胶囊": 20, "盐酸二甲双胍片": 3, "阿卡波糖片": 15, "格列美脲片": 10, "磷酸西格列汀片": 20,
    "达格列净片": 45, "生物合成人胰岛素注射液": 25, "苯磺酸氨氯地平片": 4.5, "硝苯地平控释片": 12, "缬沙坦胶囊": 12,
    "氯沙坦钾片": 8, "马来酸依那普利片": 4, "酒石酸美托洛尔片": 3.5, "富马酸比索洛尔片": 8, "呋塞米片": 10,
    "螺内酯片": 12, "阿托伐他汀钙片": 3.5, "瑞舒伐他汀钙片": 3, "依折麦布片": 25, "阿司匹林肠溶片": 12,
    "硫酸氢氯吡格雷片": 6, "替格瑞洛片": 25, "华法林钠片": 12, "利伐沙班片": 12, "依诺肝素钠注射液": 25,
    "硝酸甘油片": 15, "地高辛片": 10, "盐酸胺碘酮片": 12, "盐酸肾上腺素注射液": 1, "奥美拉唑肠溶胶囊": 5,
    "注射用奥美拉唑钠": 8, "雷贝拉唑钠肠溶片": 5, "法莫替丁片": 5, "多潘立酮片": 12, "蒙脱石散": 12,
    "乳果糖口服溶液": 35, "双歧杆菌三联活菌胶囊": 35, "盐酸昂丹司琼注射液": 8, "0.9%氯化钠注射液": 3.5,
    "5%葡萄糖注射液": 3.5, "10%氯化钾注射液": 1.2, "复方氨基酸注射液(18AA)": 25, "中/长链脂肪乳注射液(C8-24)": 75,
    "人血白蛋白": 380, "布洛芬缓释胶囊": 12, "布洛芬混悬液": 25, "对乙酰氨基酚片": 3, "对乙酰氨基酚混悬滴剂": 18,
    "塞来昔布胶囊": 12, "硫酸吗啡缓释片": 25, "芬太尼透皮贴剂": 95, "别嘌醇片": 10, "非布司他片": 30,
    "地塞米松磷酸钠注射液": 0.8, "注射用甲泼尼龙琥珀酸钠": 12, "左甲状腺素钠片": 25, "阿仑膦酸钠片": 15,
    "黄体酮注射液": 3, "地屈孕酮片": 120, "米非司酮片": 20, "缩宫素注射液": 2, "盐酸坦索罗辛缓释胶囊": 25,
    "非那雄胺片": 15, "枸橼酸西地那非片": 40, "硫酸沙丁胺醇吸入气雾剂": 25, "布地奈德福莫特罗吸入粉雾剂": 180,
    "噻托溴铵吸入粉雾剂": 150, "孟鲁司特钠咀嚼片": 20, "盐酸氨溴索注射液": 3, "紫杉醇注射液": 90, "顺铂注射液": 15,
    "注射用奥沙利铂": 90, "注射用培美曲塞二钠": 350, "甲氨蝶呤片": 20, "来曲唑片": 30, "比卡鲁胺片": 90,
    "帕博利珠单抗注射液": 17918, "他克莫司胶囊": 400, "吗替麦考酚酯胶囊": 120, "静注人免疫球蛋白(pH4)": 450,
    "重组人促红素注射液": 35, "蔗糖铁注射液": 40, "奥氮平片": 15, "盐酸舍曲林片": 25, "地西泮片": 8,
    "酒石酸唑吡坦片": 20, "左乙拉西坦片": 60, "盐酸多奈哌齐片": 20, "盐酸美金刚片": 90, "丁苯酞软胶囊": 150,
    "盐酸利多卡因注射液": 1, "左氧氟沙星滴眼液": 8, "阿昔洛韦乳膏": 6, "维生素C片": 3, "多维元素片(29)": 90,
    "维生素E软胶囊": 25, "米诺地尔搽剂": 120, "人用狂犬病疫苗(Vero细胞)": 60, "九价人乳头瘤病毒疫苗(酿酒酵母)": 1318,
    "破伤风人免疫球蛋白": 150,
    # 中成药
    "连花清瘟胶囊": 15, "复方丹参滴丸": 25, "板蓝根颗粒": 12, "六味地黄丸(浓缩丸)": 20, "藿香正气水": 8,
    "小柴胡颗粒": 15, "感冒清热颗粒": 15, "双黄连口服液": 20, "牛黄解毒片": 5, "云南白药胶囊": 30, "安宫牛黄丸": 450,
    "速效救心丸": 25, "麝香保心丸": 35, "通心络胶囊": 30, "脑心通胶囊": 50, "稳心颗粒": 30, "参松养心胶囊": 40,
    "百令胶囊": 60, "金水宝胶囊": 55, "银杏叶片": 15, "血塞通软胶囊": 25, "丹红注射液": 30, "注射用血栓通(冻干)": 25,
    "清开灵注射液": 5, "舒血宁注射液": 8, "养血清脑颗粒": 40, "蓝芩口服液": 35, "蒲地蓝消炎口服液": 35,
    "小儿豉翘清热颗粒": 25, "小儿肺咳颗粒": 35, "桂枝茯苓胶囊": 40, "益母草颗粒": 15, "乌鸡白凤丸": 25,
    "前列舒通胶囊": 45, "癃闭舒胶囊": 45, "活血止痛胶囊": 30, "平消胶囊": 40, "补中益气丸": 15, "逍遥丸": 15,
    # 中药饮片 (yuan per g)
    "黄芪": 0.08, "当归": 0.15, "党参": 0.15, "茯苓": 0.05, "甘草": 0.06, "白术": 0.1, "川芎": 0.1, "白芍": 0.06,
    "熟地黄": 0.06, "柴胡": 0.2, "黄芩": 0.1, "连翘": 0.15, "法半夏": 0.3, "陈皮": 0.05, "丹参": 0.08, "桃仁": 0.15,
    "红花": 0.4, "枸杞子": 0.15, "山药": 0.08, "三七": 1.0, "人参": 2.0, "阿胶": 3.0, "天麻": 0.8, "冬虫夏草": 250,
    "西洋参": 1.5, "鹿茸": 30,
    # 丙类 consumables without a cap
    "多焦点人工晶状体": 12000, "胰岛素笔用针头": 1.5, "血糖试纸": 60, "医用外科口罩": 0.5, "医用压力袜": 150,
    "助听器": 5000, "角膜塑形镜": 6000, "牙种植体": 8000,
}  # fmt: skip
"""Reference prices (yuan per unit) of starter-catalogue items that carry no price cap: rough 2024
hospital prices (yibao's estimates, not official), used as the usual price where the catalogue has none."""


NOT_PAID_ALONE = "单独使用时不予支付"
"""The catalogue's words (lmt_text) for a 饮片 that is paid only inside a formula (黄芪, 当归, 人参 …)."""


def _principal_herb(item: CatalogItem) -> bool:
    """Whether a 饮片 can lead a decoction (君药): paid (甲/乙) and paid alone, not a tonic paid only in a formula.

    >>> from yibao.catalog.loader import default_catalog
    >>> [_principal_herb(default_catalog().get(c, date(2024, 7, 1))) for c in ("T000607874", "T000132239")]
    [True, False]
    """
    return item.chrgitm_lv != "03" and NOT_PAID_ALONE not in item.restriction.text


def _reference_price(item: CatalogItem) -> int:
    """The usual price (1e-6 yuan, whole fen) of an item without any cap: :data:`REFERENCE_PRICES`, else a
    stable hash-placed point of a band for its kind and dosage form."""
    if item.name in REFERENCE_PRICES:
        return max(1, round(REFERENCE_PRICES[item.name] * 100)) * 10_000
    h = int(product_prefix(item.med_list_codg)[1:]) / 1e6
    if item.list_type == "herb":
        lo, hi = (2.0, 60.0) if item.chrgitm_lv == "03" else (0.05, 1.2)
    elif item.list_type == "service":
        lo, hi = 10.0, 100.0
    elif item.list_type == "consumable":
        lo, hi = 5.0, 200.0
    else:
        key = f"{item.dosform}{item.unit}"
        lo, hi = next((a, b) for pat, a, b in _REF_BANDS if not pat or re.search(pat, key))
    yuan = lo * (hi / lo) ** h
    return int(max(1, round(yuan * 100))) * 10_000


@cache
def _compiled(catalog: Catalog, year: int) -> _Catalogue:
    on = date(year, 7, 1)
    by_code: dict[str, list[CatalogItem]] = {}
    for item in catalog.items():
        by_code.setdefault(item.med_list_codg, []).append(item)
    chosen: list[CatalogItem] = []
    for code in sorted(by_code):
        versions = sorted(by_code[code], key=lambda i: i.begndate)
        v = _version(versions, on) or _version(versions, date(year, 12, 31)) or _version(versions, date(year, 1, 1))
        if v is not None:
            chosen.append(v)
    n = len(chosen)
    cap = np.full((4, n), -1, dtype=np.int64)
    for j, it in enumerate(chosen):
        for lv, price in it.pric_uplmt.items():
            cap[int(lv), j] = price
    r = [it.restriction for it in chosen]
    cat = _Catalogue(
        code=pl.Series("med_list_codg", [it.med_list_codg for it in chosen], dtype=pl.String),
        chrgitm=pl.Series("med_chrgitm_type", [it.med_chrgitm_type for it in chosen], dtype=pl.String),
        names={},
        list_type=np.array([_LIST_TYPES.index(it.list_type) for it in chosen], dtype=np.int64),
        lv=np.array([int(it.chrgitm_lv) for it in chosen], dtype=np.int64),
        cap=cap,
        has_cap=np.asarray((cap[1:] >= 0).any(axis=0), dtype=np.bool_),
        ref_price=np.array([_reference_price(it) for it in chosen], dtype=np.int64),
        gend=np.array([int(x.gend or 0) for x in r], dtype=np.int64),
        age_min=np.array([-1 if x.age_min is None else x.age_min for x in r], dtype=np.int64),
        age_max=np.array([999 if x.age_max is None else x.age_max for x in r], dtype=np.int64),
        lv_min=np.array([int(x.hosp_lv_min or 0) for x in r], dtype=np.int64),
        visits=np.array([sum(VISIT_BIT[v] for v in x.visits) for x in r], dtype=np.int64),
        has_ind=np.array([bool(x.indications) for x in r], dtype=np.bool_),
        max_days=np.array([x.max_days_supply or 0 for x in r], dtype=np.int64),
        injectable=np.array([bool(_INJECTABLE.search(it.dosform)) for it in chosen], dtype=np.bool_),
        per_pack_days=np.array([_pack_days(it) for it in chosen], dtype=np.float64),
        unit_hours=np.array(["小时" in it.unit for it in chosen], dtype=np.bool_),
        prefix=np.array([int(product_prefix(it.med_list_codg)) for it in chosen], dtype=np.int64),
        pools=_EMPTY_POOLS,
    )  # fmt: skip
    names: dict[str, int] = {}
    for j, it in enumerate(chosen):
        names.setdefault(it.name, j)
    cat.names.update(names)
    pools = _build_pools(cat, chosen)
    return _Catalogue(**{**{f: getattr(cat, f) for f in _Catalogue.__slots__}, "pools": pools})


def _build_pools(cat: _Catalogue, chosen: list[CatalogItem]) -> _Pools:
    book = dx.code_book()
    cond_codes: dict[int, list[str]] = {}
    for c, code in zip(book["cond"].to_list(), book["diag_code"].to_list(), strict=True):
        cond_codes.setdefault(c, []).append(code)
    pool_items: list[list[int]] = []
    pool_prob: list[list[float]] = []
    index: dict[str, int] = {}

    def add(name: str, entries: Sequence[tuple[str, float]], *, indication_codes: list[str] | None = None) -> int:
        items, probs = [], []
        seen: set[int] = set()
        for nm, p in entries:
            j = cat.names.get(nm)
            if j is None or j in seen:
                continue
            restriction = chosen[j].restriction
            if restriction.indications:
                if indication_codes is None:
                    continue
                if not all(code.startswith(restriction.indications) for code in indication_codes):
                    continue
            seen.add(j)
            items.append(j)
            probs.append(p)
        if not items:
            return -1
        index[name] = len(pool_items)
        pool_items.append(items)
        pool_prob.append(probs)
        return index[name]

    named = {
        "beds": BEDS, "nursing": NURSING, "consult3": CONSULT_3, "consult2": CONSULT_2, "consult1": CONSULT_1,
        "ip_labs": [(n, p) for n, p, _ in INPATIENT_LABS], "ip_drugs": INPATIENT_DRUGS, "intensive": INTENSIVE,
        "ip_imaging": INPATIENT_IMAGING,
        "icu_lines": [(n, p) for n, p, _ in ICU_LINES], "stay_consumables": STAY_CONSUMABLES,
        "surgical_extras": SURGICAL_EXTRAS, "otc": OTC,
    }  # fmt: skip
    for name, entries in named.items():
        add(name, entries)
    herbs = [(it.name, 0.15 if it.chrgitm_lv == "03" else 1.0) for it in chosen if it.list_type == "herb"]
    add("herbs", herbs)
    add("principal_herbs", [(it.name, 1.0) for it in chosen if it.list_type == "herb" and _principal_herb(it)])
    n_cond = len(dx.CONDITIONS)
    drugs = np.full(n_cond, -1, dtype=np.int64)
    tests = np.full(n_cond, -1, dtype=np.int64)
    treat = np.full(n_cond, -1, dtype=np.int64)
    always = np.full(n_cond, -1, dtype=np.int64)
    procs: list[_Proc] = []
    proc_index: dict[str, int] = {}
    cond_procs: list[tuple[int, ...]] = []
    for i, c in enumerate(dx.CONDITIONS):
        codes_i = cond_codes.get(i, [c.code])  # chemotherapy stays list the cancer among their diagnoses
        drugs[i] = add(f"drugs:{c.key}", [(nm, 1.0) for nm in c.drugs], indication_codes=codes_i)
        tests[i] = add(f"tests:{c.key}", [(nm, 1.0) for nm in c.tests], indication_codes=codes_i)
        treat[i] = add(f"treat:{c.key}", [(nm, 1.0) for nm in c.treatments], indication_codes=codes_i)
        always[i] = add(f"always:{c.key}", [(nm, 1.0) for nm in c.always], indication_codes=codes_i)
        mine: list[int] = []
        for p in c.procedures:
            if p.code not in proc_index:
                service = cat.names.get(p.service, -1)
                if service < 0:
                    proc_index[p.code] = -1
                else:
                    consumables = tuple((cat.names[nm], k) for nm, k in p.consumables if nm in cat.names)
                    procs.append(_Proc(p, service, cat.names.get(p.anaesthesia, -1) if p.anaesthesia else -1,
                                       consumables, int(p.min_level), dx.procedure_name(p),
                                       tuple((code, dx.procedure_name((code, nm))) for code, nm in p.secondary)))  # fmt: skip
                    proc_index[p.code] = len(procs) - 1
            if proc_index[p.code] >= 0:
                mine.append(proc_index[p.code])
        cond_procs.append(tuple(mine))
    vent = dx.P_VENTILATION
    if vent.code not in proc_index and vent.service in cat.names:
        procs.append(_Proc(vent, cat.names[vent.service], -1, (), 2, dx.procedure_name(vent), ()))
        proc_index[vent.code] = len(procs) - 1
    index["proc:ventilation"] = proc_index.get(vent.code, -1)
    sizes = np.array([len(x) for x in pool_items], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # typical visit costs: 诊察费 + half the condition's tests + up to three of its drugs (a few days'
    # packages, or a month's for a chronic visit) + what it always needs (dialysis)
    usual = np.where(cat.cap[2] >= 0, cat.cap[2], np.where(cat.has_cap, np.max(cat.cap[1:], axis=0), cat.ref_price)) / 1e6

    def pool_cost(pid: int, days: float, k: float) -> float:
        if pid < 0:
            return 0.0
        items = np.array(pool_items[pid])
        packs = np.minimum(np.ceil(days / cat.per_pack_days[items]), 3)
        return float(min(k, len(items)) * np.mean(usual[items] * packs))

    natural_visit = np.zeros(n_cond)
    natural_chronic = np.zeros(n_cond)
    for i in range(n_cond):
        tests_cost = 0.5 * sum(usual[j] for j in pool_items[tests[i]]) if tests[i] >= 0 else 0.0
        always_cost = sum(usual[j] for j in pool_items[always[i]]) if always[i] >= 0 else 0.0
        natural_visit[i] = 10.0 + tests_cost + always_cost + pool_cost(int(drugs[i]), 5.0, 2.5)
        natural_chronic[i] = 10.0 + 0.6 * tests_cost + always_cost + pool_cost(int(drugs[i]), 30.0, 2.5)
    return _Pools(
        offsets=offsets,
        items=np.array([j for x in pool_items for j in x], dtype=np.int64),
        prob=np.array([p for x in pool_prob for p in x], dtype=np.float64),
        index=index,
        cond_drugs=drugs,
        cond_tests=tests,
        cond_treat=treat,
        cond_always=always,
        cond_procs=tuple(cond_procs),
        procs=tuple(procs),
        natural_visit=natural_visit,
        natural_chronic=natural_chronic,
    )


# =============================================================================================
# Institutions
# =============================================================================================


@dataclass(frozen=True, slots=True)
class _Region:
    code: pl.Series
    pharmacy: B
    level: I64  # coarse 1–3 (pharmacies 1)
    beds: I64
    weight: F64
    dept_code: pl.Series  # all departments, with "" appended last
    dept_inst: I64
    dept_caty: list[str]
    dept_beds: I64
    staff_code: pl.Series  # all staff, with "" appended last
    keys: dict[str, int]
    lookup_key: I64  # sorted composite keys (inst × K + key) → departments
    lookup_dept: I64
    lookup_key_bed: I64
    lookup_dept_bed: I64
    doc_key: I64  # sorted (dept) → doctors; dept −1 … per institution
    doc_staff: I64
    inst_doc_key: I64
    inst_doc_staff: I64
    pharmacist_key: I64
    pharmacist_staff: I64
    pharmacy_dept: I64

    @staticmethod
    def build(tables: dict[str, pl.DataFrame]) -> _Region:
        fx = tables["fixmedins_b"]
        code = fx.get_column("fixmedins_code").cast(pl.String)
        n = fx.height
        pos = {c: i for i, c in enumerate(code.to_list())}
        pharmacy = (fx.get_column("fixmedins_type").cast(pl.String) == "2").to_numpy()
        lv = np.array([int(codes.coarse_hosp_lv(v or None)) for v in fx.get_column("hosp_lv").cast(pl.String).to_list()])
        lv = np.where(pharmacy, 1, lv).astype(np.int64)
        beds = fx.get_column("bed_cnt").fill_null(0).cast(pl.Int64).to_numpy().astype(np.int64)
        dept = tables.get("dept_b", pl.DataFrame(schema=polars_schema(TABLES["dept_b"])))
        staff = tables.get("medstaff_b", pl.DataFrame(schema=polars_schema(TABLES["medstaff_b"])))
        d_inst = np.array([pos.get(c, -1) for c in dept.get_column("fixmedins_code").to_list()], dtype=np.int64)
        keep = d_inst >= 0
        dept = dept.filter(pl.Series(keep))
        d_inst = d_inst[keep]
        caty = [str(c or "") for c in dept.get_column("caty").to_list()]
        d_beds = dept.get_column("bed_cnt").fill_null(0).cast(pl.Int64).to_numpy().astype(np.int64)
        # (one chunk each: a gather from two chunks costs twice as much)
        dept_code = pl.concat([dept.get_column("dept_codg").cast(pl.String), pl.Series([""], dtype=pl.String)], rechunk=True)
        n_dept = dept.height
        # staff per department and per institution
        s_inst = np.array([pos.get(c, -1) for c in staff.get_column("fixmedins_code").to_list()], dtype=np.int64)
        dept_pos = {(i, dc): k for k, (i, dc) in enumerate(zip(d_inst.tolist(), dept.get_column("dept_codg").to_list(), strict=True))}
        s_dept = np.array([dept_pos.get((i, dc), -1) for i, dc in zip(s_inst.tolist(), staff.get_column("dept_codg").to_list(), strict=True)], dtype=np.int64)  # fmt: skip
        s_type = staff.get_column("staff_type").cast(pl.String).to_numpy()
        staff_code = pl.concat([staff.get_column("staff_codg").cast(pl.String), pl.Series([""], dtype=pl.String)], rechunk=True)
        doctor = (s_type == "1") & (s_inst >= 0)
        pharmacist = (s_type == "2") & (s_inst >= 0)
        idx = np.arange(staff.height, dtype=np.int64)
        order = np.lexsort((idx[doctor], s_dept[doctor]))
        doc_key, doc_staff = s_dept[doctor][order], idx[doctor][order]
        order = np.lexsort((idx[doctor], s_inst[doctor]))
        inst_doc_key, inst_doc_staff = s_inst[doctor][order], idx[doctor][order]
        order = np.lexsort((idx[pharmacist], s_inst[pharmacist]))
        ph_key, ph_staff = s_inst[pharmacist][order], idx[pharmacist][order]
        # department lookup keys: the full 科别, its major part, and "*" (any clinical department but
        # paediatrics: an adult is not seen there, whatever the institution lacks)
        keys: dict[str, int] = {"*": 0}
        rows_k: list[int] = []
        rows_d: list[int] = []
        clinical = [not c.startswith(("A30", "A31", "A32", "A26", "A69")) for c in caty]
        n_doc_dept = np.bincount(doc_key[doc_key >= 0], minlength=n_dept) if n_dept else np.zeros(0, dtype=np.int64)
        for k, c in enumerate(caty):
            if not clinical[k] or n_doc_dept[k] == 0:
                continue
            for key in {c, c.split(".")[0], *(() if c.startswith(codes.PAEDIATRICS) else ("*",))}:
                kid = keys.setdefault(key, len(keys))
                rows_k.append(int(d_inst[k]) * 4096 + kid)
                rows_d.append(k)
        kk = np.array(rows_k, dtype=np.int64)
        dd = np.array(rows_d, dtype=np.int64)
        order = np.lexsort((dd, kk))
        kk, dd = kk[order], dd[order]
        bedded = d_beds[dd] > 0 if len(dd) else np.zeros(0, dtype=np.bool_)
        pharmacy_dept = np.full(n, n_dept, dtype=np.int64)
        for k in range(n_dept - 1, -1, -1):
            if caty[k].startswith("A69"):
                pharmacy_dept[d_inst[k]] = k
        weight = np.where(pharmacy, 1.0, beds + 5.0 + 2.0 * np.bincount(inst_doc_key, minlength=n)).astype(np.float64)
        return _Region(
            code=code, pharmacy=pharmacy, level=lv, beds=beds, weight=weight, dept_code=dept_code, dept_inst=d_inst,
            dept_caty=caty, dept_beds=d_beds, staff_code=staff_code, keys=keys, lookup_key=kk, lookup_dept=dd,
            lookup_key_bed=kk[bedded], lookup_dept_bed=dd[bedded], doc_key=doc_key, doc_staff=doc_staff,
            inst_doc_key=inst_doc_key, inst_doc_staff=inst_doc_staff, pharmacist_key=ph_key, pharmacist_staff=ph_staff,
            pharmacy_dept=pharmacy_dept,
        )  # fmt: skip

    def departments(self, inst: I64, wanted: I64, names: Sequence[str], u: F64, *, bedded: B) -> I64:
        """A department of ``inst`` for 科别 ``names[wanted]`` (fallbacks: its major 科别, any clinical one)."""
        out = np.full(len(inst), len(self.dept_caty), dtype=np.int64)  # "" when nothing fits
        todo = np.ones(len(inst), dtype=np.bool_)
        full = np.array([self.keys.get(w, -1) for w in names], dtype=np.int64)[wanted]
        major = np.array([self.keys.get(w.split(".")[0], -1) for w in names], dtype=np.int64)[wanted]
        star = np.zeros(len(inst), dtype=np.int64)
        for key_of in (full, major, star):
            for use_beds in (True, False):
                sel = todo & (key_of >= 0) & (bedded if use_beds else True)
                if not sel.any():
                    continue
                kk, dd = (self.lookup_key_bed, self.lookup_dept_bed) if use_beds else (self.lookup_key, self.lookup_dept)
                if not len(kk):
                    continue
                key = inst[sel] * 4096 + key_of[sel]
                lo = np.searchsorted(kk, key, side="left")
                hi = np.searchsorted(kk, key, side="right")
                found = hi > lo
                pick = lo + np.floor(u[sel] * (hi - lo)).astype(np.int64)
                rows = np.flatnonzero(sel)[found]
                out[rows] = dd[np.minimum(pick[found], len(dd) - 1)]
                todo[rows] = False
        return out

    def doctors(self, inst: I64, dept: I64, u: F64) -> I64:
        """A doctor of the department (else of the institution); the index of "" when there is none."""
        none = self.staff_code.len() - 1
        out = np.full(len(inst), none, dtype=np.int64)
        lo = np.searchsorted(self.doc_key, dept, side="left")
        hi = np.searchsorted(self.doc_key, dept, side="right")
        ok = hi > lo
        out[ok] = self.doc_staff[lo[ok] + np.floor(u[ok] * (hi - lo)[ok]).astype(np.int64)]
        rest = ~ok
        lo = np.searchsorted(self.inst_doc_key, inst[rest], side="left")
        hi = np.searchsorted(self.inst_doc_key, inst[rest], side="right")
        ok2 = hi > lo
        rows = np.flatnonzero(rest)[ok2]
        out[rows] = self.inst_doc_staff[lo[ok2] + np.floor(u[rows] * (hi - lo)[ok2]).astype(np.int64)]
        return out

    def pharmacists(self, inst: I64, u: F64) -> I64:
        none = self.staff_code.len() - 1
        out = np.full(len(inst), none, dtype=np.int64)
        lo = np.searchsorted(self.pharmacist_key, inst, side="left")
        hi = np.searchsorted(self.pharmacist_key, inst, side="right")
        ok = hi > lo
        out[ok] = self.pharmacist_staff[lo[ok] + np.floor(u[ok] * (hi - lo)[ok]).astype(np.int64)]
        return out


@dataclass(frozen=True, slots=True)
class _Restricted:
    """Items only some departments may order (限定开单科室: the knowledge base's restrictions.csv ``depts``),
    kept in clean care: such an item is given only at an institution with a department of an allowed 科别
    that has a doctor (pharmacies sell on outside prescriptions and are not restricted), and a line of it
    in an encounter of another department is ordered by a doctor of an allowed department of the same
    institution (a 会诊 order, billed under the encounter's department)."""

    group: I64  # item → index of its allowed 科别 set, −1 = unrestricted
    has: B  # (institution, group): the institution has an allowed department with a doctor
    dept_ok: B  # (department, group): the department is of an allowed 科别 (the "" department last: never)
    doc_key: I64  # sorted institution × groups + group → doctors of its allowed departments
    doc_staff: I64

    @staticmethod
    def build(reg: _Region, cat: _Catalogue) -> _Restricted:
        depts = default_kb().depts
        sets = sorted(set(depts.values()))
        index = {a: g for g, a in enumerate(sets)}
        group = np.array([index[depts[c]] if c in depts else -1 for c in cat.code.to_list()], dtype=np.int64)
        n_dept, n_inst, n_g = len(reg.dept_caty), len(reg.code), len(sets)
        dept_ok = np.zeros((n_dept + 1, max(n_g, 1)), dtype=np.bool_)
        for k, c in enumerate(reg.dept_caty):
            for g, allowed in enumerate(sets):
                dept_ok[k, g] = any(codes.caty_covers(a, codes.caty_code(c)) for a in allowed)
        doc_dept = reg.doc_key
        inst = reg.dept_inst[doc_dept] if len(doc_dept) else np.zeros(0, dtype=np.int64)
        rows, gs = np.nonzero(dept_ok[doc_dept]) if len(doc_dept) else (np.zeros(0, dtype=np.int64),) * 2
        key = inst[rows] * max(n_g, 1) + gs
        staff = reg.doc_staff[rows]
        order = np.lexsort((staff, key))
        has = np.zeros((n_inst, max(n_g, 1)), dtype=np.bool_)
        has[inst[rows], gs] = True
        return _Restricted(group, has, dept_ok, key[order].astype(np.int64), staff[order].astype(np.int64))

    def consultants(self, inst: I64, group: I64, u: F64, none: int) -> I64:
        """A doctor of an allowed department of ``inst`` for each line (``none`` where there is none)."""
        key = inst * self.has.shape[1] + group
        lo = np.searchsorted(self.doc_key, key, side="left")
        hi = np.searchsorted(self.doc_key, key, side="right")
        out = np.full(len(inst), none, dtype=np.int64)
        ok = hi > lo
        out[ok] = self.doc_staff[lo[ok] + np.floor(u[ok] * (hi - lo)[ok]).astype(np.int64)]
        return out


# =============================================================================================
# Persons
# =============================================================================================


@dataclass(frozen=True, slots=True)
class _People:
    psn_no: pl.Series
    n: int
    scheme: I64  # 0 employee, 1 resident, −1 none
    gend: I64  # 1 / 2 / 0
    brdy: I64  # epoch days
    band: I64
    age: I64  # on 1 July
    ws: I64  # window start / end as day of the year (inclusive), ws > we = no care
    we: I64
    dies: B
    ndays: int
    year_start: int

    @staticmethod
    def build(persons: pl.DataFrame, year: int) -> _People:
        start, end = _epoch_day(date(year, 1, 1)), _epoch_day(date(year, 12, 31))
        n = persons.height
        ins = persons.get_column("insutype").cast(pl.String).to_numpy()
        scheme = np.full(n, -1, dtype=np.int64)
        for s, name in enumerate(SCHEMES):
            known = [c for c, v in _scheme_of_insutype().items() if v == name]
            scheme[np.isin(ins, known)] = s
        gend = persons.get_column("gend").cast(pl.String).to_numpy()
        g = np.where(gend == "1", 1, np.where(gend == "2", 2, 0)).astype(np.int64)
        brdy = persons.get_column("brdy").cast(pl.Int32).fill_null(start).to_numpy().astype(np.int64)
        death_col = persons.get_column("death_date") if "death_date" in persons.columns else pl.Series([None] * n, dtype=pl.Date)
        death = death_col.cast(pl.Int32).fill_null(end + 1).to_numpy().astype(np.int64)
        ws = np.maximum(brdy, start) - start
        we = np.minimum(death, end) - start
        age = _age_on(brdy, np.full(n, _epoch_day(date(year, 7, 1)), dtype=np.int64))
        return _People(
            psn_no=persons.get_column("psn_no").cast(pl.String), n=n, scheme=scheme, gend=g, brdy=brdy,
            band=dx.age_band(age).astype(np.int64), age=age, ws=ws, we=we, dies=death <= end, ndays=end - start + 1,
            year_start=start,
        )  # fmt: skip


@cache
def _scheme_of_insutype() -> dict[str, str]:
    out: dict[str, str] = {}
    for c in codes.INSUTYPE:
        try:
            out[c] = codes.scheme(c)
        except codes.CodeError:
            continue
    return out


# =============================================================================================
# Conditions as arrays
# =============================================================================================


@dataclass(frozen=True, slots=True)
class _Conditions:
    n: int
    sex: I64
    age_min: I64
    age_max: I64
    op: F64  # (n, 7)
    ip: F64
    chronic: F64
    chronic_visits: F64
    emergency: F64
    season: I64
    los: F64
    cost: F64
    surgical_share: F64
    acute: F64
    injury: B
    cancer: B
    caty: list[str]
    tcm: B
    neonatal: B
    book_offsets: I64
    book_cum: F64
    book_code: pl.Series
    book_name: pl.Series
    chronic_ids: I64
    fallback: int  # "fever": used when nothing else fits
    z51: tuple[str, str]
    z51_radio: tuple[str, str]
    como_code: pl.Series
    como_name: pl.Series
    como_cum: F64  # (classes = band × sex, comorbidities)
    severity: npt.NDArray[np.int8]
    """(principal, secondary) → 0, 1 (CC) or 2 (MCC): principals are the code book's rows, then Z51
    chemotherapy, Z51 radiotherapy and none; secondaries the code book's rows, then the comorbidities."""

    @staticmethod
    @cache
    def build() -> _Conditions:
        cs = dx.CONDITIONS
        book = dx.code_book()
        order = np.argsort(book["cond"].to_numpy(), kind="stable")
        book = book[order]
        counts = np.bincount(book["cond"].to_numpy(), minlength=len(cs))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        tables = dx.drg_tables()
        z51 = ("Z51.100", (tables.name("Z51.100") if tables else None) or "为肿瘤化学治疗疗程")
        z51r = ("Z51.000", (tables.name("Z51.000") if tables else None) or "放射治疗疗程")
        como = dx.comorbidity_names()
        cw = np.zeros((7 * 3, len(dx.COMORBIDITIES)))
        for j, m in enumerate(dx.COMORBIDITIES):
            for b in range(7):
                for s in (0, 1, 2):
                    if m.sex is None or str(s) == m.sex:
                        cw[b * 3 + s, j] = m.weights[b]
        return _Conditions(
            n=len(cs),
            sex=np.array([int(c.sex or 0) for c in cs], dtype=np.int64),
            age_min=np.array([c.age_min for c in cs], dtype=np.int64),
            age_max=np.array([c.age_max for c in cs], dtype=np.int64),
            op=np.array([c.outpatient for c in cs], dtype=np.float64),
            ip=np.array([c.inpatient for c in cs], dtype=np.float64),
            chronic=np.array([c.chronic for c in cs], dtype=np.float64),
            chronic_visits=np.array([c.chronic_visits for c in cs], dtype=np.float64),
            emergency=np.array([c.emergency for c in cs], dtype=np.float64),
            season=np.array([SEASONS.index(c.season) for c in cs], dtype=np.int64),
            los=np.array([c.los for c in cs], dtype=np.float64),
            cost=np.array([c.cost for c in cs], dtype=np.float64),
            surgical_share=np.array([c.surgical_share for c in cs], dtype=np.float64),
            acute=np.array([c.acute for c in cs], dtype=np.float64),
            injury=np.array([c.injury for c in cs], dtype=np.bool_),
            cancer=np.array([c.cancer for c in cs], dtype=np.bool_),
            caty=[c.caty for c in cs],
            tcm=np.array([c.key in TCM_CONDITIONS for c in cs], dtype=np.bool_),
            neonatal=np.array([c.age_max == 0 for c in cs], dtype=np.bool_),
            book_offsets=offsets,
            book_cum=np.cumsum(book["weight"].to_numpy()),
            book_code=book["diag_code"],
            book_name=book["diag_name"],
            chronic_ids=np.array([i for i, c in enumerate(cs) if any(c.chronic)], dtype=np.int64),
            fallback=[c.key for c in cs].index("fever"),
            z51=z51,
            z51_radio=z51r,
            como_code=pl.Series([c for c, _ in como], dtype=pl.String),
            como_name=pl.Series([nm for _, nm in como], dtype=pl.String),
            como_cum=_cum_table(cw),
            severity=_severity_table([*book["diag_code"], z51[0], z51r[0], ""], [*book["diag_code"], *(c for c, _ in como)]),
        )


def _severity_table(principals: list[str], secondaries: list[str]) -> npt.NDArray[np.int8]:
    """What each secondary code counts as beside each principal (:attr:`_Conditions.severity`), by the
    CHS-DRG tables' MCC/CC list and exclusions; all 0 without the tables."""
    out = np.zeros((len(principals), len(secondaries)), dtype=np.int8)
    try:
        cc, exclusions = drg_tables.cc_lists(dx.drg_tables_folder())
    except (drg_tables.TablesMissing, drg_tables.TablesError):
        return out
    level = {"": 0, "CC": 1, "MCC": 2}
    for j, secondary in enumerate(secondaries):
        if secondary in cc:
            out[:, j] = [level[drg_tables.counts_as(p, secondary, cc, exclusions)] for p in principals]
    return out


def _age_classes(cond: _Conditions) -> I64:
    """Boundaries of the age classes inside which every condition either fits or does not."""
    bounds = set(dx.AGE_BANDS) | set(cond.age_min.tolist()) | {a + 1 for a in cond.age_max.tolist() if a < 150}
    return np.array(sorted(b for b in bounds if b <= 150), dtype=np.int64)


# =============================================================================================
# The simulation of one chunk
# =============================================================================================


class _Simulation:
    def __init__(self, rng: np.random.Generator, ppl: _People, reg: _Region, cat: _Catalogue, year: int, chunk: int,
                 counters: _Counters | None = None):  # fmt: skip
        self.counters = counters or _Counters(serials=np.zeros(len(np.unique(cat.prefix)), dtype=np.int64))
        self.rng = rng
        self.p = ppl
        self.reg = reg
        self.cat = cat
        self.year = year
        self.chunk = chunk
        self.cond = _Conditions.build()
        self.bounds = _age_classes(self.cond)
        self.restricted = of_region("care: restricted", (reg, cat), lambda: _Restricted.build(reg, cat))

    # ----------------------------------------------------------------------------------------
    def run(self) -> dict[str, pl.DataFrame]:
        self._chronic_conditions()
        enc = self._encounters()
        if enc.n == 0:
            return _empty_tables()
        self._places(enc)
        self._conditions(enc)
        self._principal_codes(enc)
        self._dates(enc)
        self._costs(enc)
        diag = self._diagnoses(enc)
        self._severity(enc, diag)
        oprn = self._procedures(enc)
        lines, sessions = self._dialysis_sessions(enc, self._lines(enc, diag))
        lines = self._refills(enc, lines, sessions)
        return self._tables(enc, diag, oprn, lines)

    # ----------------------------------------------------------------------------------------
    def _chronic_conditions(self) -> None:
        """Registered chronic conditions per person (CSR) and the code each person carries for them."""
        p, c, rng = self.p, self.cond, self.rng
        ids = c.chronic_ids
        prev = c.chronic[ids][:, p.band].T  # (n, k)
        fit = ((c.sex[ids][None, :] == 0) | (c.sex[ids][None, :] == p.gend[:, None])) & (
            (c.age_min[ids][None, :] <= p.age[:, None]) & (c.age_max[ids][None, :] >= p.age[:, None])
        )
        has = (rng.random(prev.shape) < prev) & fit & (p.scheme[:, None] >= 0)
        person, k = np.nonzero(has)
        self.ch_person = person.astype(np.int64)
        self.ch_cond = ids[k]
        counts = np.bincount(self.ch_person, minlength=p.n)
        self.ch_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.ch_count = counts.astype(np.int64)
        self.ch_code = _csr_pick(c.book_offsets, c.book_cum, self.ch_cond, rng.random(len(self.ch_cond)))
        self.ch_weight_visits = np.bincount(self.ch_person, weights=c.chronic_visits[self.ch_cond], minlength=p.n)
        dual = np.array([DUAL_CANCER if cc.cancer else DUAL_CHANNEL.get(cc.key, 1.0) for cc in dx.CONDITIONS])
        self.ch_dual = dual[self.ch_cond]
        self.ch_weight_dual = np.bincount(self.ch_person, weights=self.ch_dual, minlength=p.n)

    # ----------------------------------------------------------------------------------------
    def _encounters(self) -> _Enc:
        p, rng = self.p, self.rng
        exposure = np.clip(p.we - p.ws + 1, 0, None) / p.ndays
        female = p.gend == 2
        frail = {k: rng.gamma(FRAILTY_SHAPE[k], 1.0 / FRAILTY_SHAPE[k], p.n) for k in (OUT, CHR, INP, PHA)}
        chronic = self.ch_count > 0
        w = {
            OUT: exposure * np.asarray(RATE_BY_BAND[OUT])[p.band] * np.where(female, FEMALE_FACTOR[OUT], 1.0)
            * frail[OUT] * np.where(chronic, 1.4, 1.0),
            INP: exposure * np.asarray(RATE_BY_BAND[INP])[p.band]
            * np.where(female & (p.age >= 15) & (p.age < 45), CHILDBIRTH_FACTOR, 1.0) * frail[INP]
            * np.where(chronic, 1.8, 1.0) * np.where(p.dies, DEATH_INPATIENT_BOOST, 1.0),
            PHA: exposure * np.asarray(RATE_BY_BAND[PHA])[p.band] * np.where(female, FEMALE_FACTOR[PHA], 1.0)
            * frail[PHA] * np.where(chronic, np.where(p.scheme == 1, CHRONIC_PHARMACY_BOOST[1] * self.ch_weight_dual,
                                                      CHRONIC_PHARMACY_BOOST[0]), 1.0),
            CHR: exposure * self.ch_weight_visits * frail[CHR],
        }  # fmt: skip
        per_kind = []
        for kind in (OUT, CHR, INP, PHA):
            counts = np.zeros(p.n, dtype=np.int64)
            for s, scheme in enumerate(SCHEMES):
                members = p.scheme == s
                n_members = int(members.sum())
                if n_members == 0:
                    continue
                target = TARGETS[f"{scheme}.{KIND_NAMES[kind]}_per_insured"].value * n_members
                total = int(_stochastic_round(np.array([target]), rng.random(1))[0])
                weights = np.where(members, w[kind], 0.0)
                if weights.sum() <= 0 or total <= 0:
                    continue
                counts += rng.multinomial(total, weights / weights.sum())
            per_kind.append(counts)
        person = np.concatenate([np.repeat(np.arange(p.n, dtype=np.int64), c) for c in per_kind])
        kind_arr = np.concatenate([np.full(int(c.sum()), k, dtype=np.int64) for k, c in zip((OUT, CHR, INP, PHA), per_kind, strict=True)])
        return _Enc(person, kind_arr, p.scheme[person])

    # ----------------------------------------------------------------------------------------
    def _places(self, e: _Enc) -> None:
        """Level and institution of every encounter; for stays the level counts are exact."""
        p, reg, rng = self.p, self.reg, self.rng
        n = e.n
        e.level = np.zeros(n, dtype=np.int64)
        u = rng.random(n)
        for s in (0, 1):
            sel = np.flatnonzero((e.kind == INP) & (e.scheme == s))
            if len(sel):
                shares = [TARGETS[f"{SCHEMES[s]}.admission_share.{lv}"].value for lv in ("1", "2", "3")]
                counts = _apportion(len(sel), shares)
                levels = np.repeat(np.array([1, 2, 3], dtype=np.int64), counts)
                e.level[sel] = levels[rng.permutation(len(sel))]
            sel = (e.kind == CHR) & (e.scheme == s)
            e.level[sel] = 1 + np.searchsorted(np.cumsum(CHRONIC_LEVEL[s]), u[sel], side="right").clip(0, 2)
        e.level[e.kind == PHA] = 1
        # outpatient levels are drawn once the condition (and so an emergency) is known: see _conditions
        self._home = {}
        for lv in (1, 2, 3):
            cand = np.flatnonzero(~reg.pharmacy & (reg.level == lv))
            cand_beds = cand[reg.beds[cand] > 0]
            self._home[(lv, False)] = cand
            self._home[(lv, True)] = cand_beds
        self._home[(0, False)] = np.flatnonzero(reg.pharmacy)
        # one home per person and (level, bedded / pharmacy)
        self._home_of: dict[tuple[int, bool], I64] = {}
        for key, cand in self._home.items():
            if len(cand) == 0:
                continue
            cw = np.cumsum(reg.weight[cand])
            pick = np.searchsorted(cw, rng.random(p.n) * cw[-1], side="right").clip(0, len(cand) - 1)
            self._home_of[key] = cand[pick]

    def _institutions(self, e: _Enc, sel: I64, level: I64, bedded: bool, pharmacy: bool) -> I64:
        """Home institution (70 %) or one drawn by size, at ``level`` (nearest level if none there)."""
        reg, rng = self.reg, self.rng
        out = np.full(len(sel), -1, dtype=np.int64)
        home_u = rng.random(len(sel))
        pick_u = rng.random(len(sel))
        levels = np.zeros(len(sel), dtype=np.int64) if pharmacy else level
        for lv in ((0,) if pharmacy else (1, 2, 3)):
            rows = np.flatnonzero(levels == lv)
            if not len(rows):
                continue
            key = (lv, bedded and not pharmacy)
            order = [key] if pharmacy else [(x, bedded) for x in sorted((1, 2, 3), key=lambda x: abs(x - lv))]
            if not pharmacy and bedded:
                order += [(x, False) for x in sorted((1, 2, 3), key=lambda x: abs(x - lv))]
            for k in order:
                cand = self._home.get(k, np.zeros(0, dtype=np.int64))
                if len(cand):
                    break
            else:
                continue
            home = self._home_of.get(k)
            cw = np.cumsum(reg.weight[cand])
            drawn = cand[np.searchsorted(cw, pick_u[rows] * cw[-1], side="right").clip(0, len(cand) - 1)]
            if home is not None:
                out[rows] = np.where(home_u[rows] < HOME_SHARE, home[e.person[sel[rows]]], drawn)
            else:
                out[rows] = drawn
        return out

    # ----------------------------------------------------------------------------------------
    def _conditions(self, e: _Enc) -> None:
        p, c, rng, reg = self.p, self.cond, self.rng, self.reg
        n = e.n
        age = p.age[e.person]
        gend = p.gend[e.person]
        acls = np.searchsorted(self.bounds, age, side="right") - 1
        n_acls = len(self.bounds)
        rep_age = self.bounds  # a representative age of each class
        fit = (c.sex[None, :] == 0) | (c.sex[None, :] == np.arange(3)[:, None])  # fit[sex, condition]
        age_fit = (c.age_min[None, :] <= rep_age[:, None]) & (c.age_max[None, :] >= rep_age[:, None])
        band_of_class = dx.age_band(rep_age)
        e.cond = np.full(n, -1, dtype=np.int64)
        u = rng.random(n)
        # --- outpatient: condition by (age class, sex); a chronic person's visit is for a chronic condition 25 %
        sel = np.flatnonzero(e.kind == OUT)
        wmat = c.op[:, band_of_class].T[:, None, :] * age_fit[:, None, :] * fit[None, :, :]  # (classes, sex, cond)
        cum = _cum_table(wmat.reshape(n_acls * 3, -1))
        e.cond[sel] = _draw(cum, acls[sel] * 3 + gend[sel], u[sel])
        chronic_pick = _csr_pick(self.ch_offsets, np.cumsum(np.ones(len(self.ch_cond))), e.person[sel], rng.random(len(sel)))
        use = (chronic_pick >= 0) & (rng.random(len(sel)) < 0.25)
        e.cond[sel[use]] = self.ch_cond[chronic_pick[use]]
        # emergencies and the outpatient level
        er = rng.random(len(sel)) < c.emergency[np.maximum(e.cond[sel], 0)]
        e.med_type = np.full(n, 11, dtype=np.int64)
        e.med_type[sel[er]] = 13
        lu = rng.random(len(sel))
        lv_out = np.empty(len(sel), dtype=np.int64)
        for s in (0, 1):
            m = e.scheme[sel] == s
            lv_out[m] = 1 + np.searchsorted(np.cumsum(OUT_LEVEL[s]), lu[m], side="right").clip(0, 2)
        lv_out[er] = 1 + np.searchsorted(np.cumsum(ER_LEVEL), lu[er], side="right").clip(0, 2)
        e.level[sel] = lv_out
        # --- chronic: one of the person's chronic conditions, weighted by how often it brings them
        sel = np.flatnonzero(e.kind == CHR)
        pick = _csr_pick(self.ch_offsets, np.cumsum(c.chronic_visits[self.ch_cond]), e.person[sel], rng.random(len(sel)))
        e.cond[sel] = np.where(pick >= 0, self.ch_cond[np.maximum(pick, 0)], -1)
        e.med_type[sel] = 14
        e.chronic_pick = np.full(n, -1, dtype=np.int64)
        e.chronic_pick[sel] = pick
        # --- inpatient: condition given the (exact) level, age class and sex; level affinity
        sel = np.flatnonzero(e.kind == INP)
        aff = np.ones((3, c.n))
        has_proc = np.array([len(x) > 0 for x in self.cat.pools.cond_procs])
        min_lv = np.array([min((self.cat.pools.procs[i].min_level for i in x), default=1) for x in self.cat.pools.cond_procs])
        surgical_only = np.array([cc.surgical_only for cc in dx.CONDITIONS])
        aff[:, c.cancer] = np.array([0.08, 0.45, 1.0])[:, None]
        aff[:, c.acute >= 0.6] *= np.array([0.35, 0.8, 1.0])[:, None]
        chronicish = (c.chronic.sum(axis=1) > 0) & ~c.cancer
        aff[:, chronicish] *= np.array([1.4, 1.1, 0.8])[:, None]
        for lv in (1, 2, 3):
            aff[lv - 1, surgical_only & (~has_proc | (min_lv > lv))] = 0.0
        ip_w = c.ip[:, band_of_class].T[:, None, None, :] * aff[None, :, None, :] * age_fit[:, None, None, :] * fit[None, None, :, :]
        cum = _cum_table(ip_w.reshape(n_acls * 3 * 3, -1))
        cls = (acls[sel] * 3 + (e.level[sel] - 1)) * 3 + gend[sel]
        e.cond[sel] = _draw(cum, cls, u[sel])
        if len(self.ch_cond):
            ip_ok = (c.ip[self.ch_cond, p.band[self.ch_person]] > 0).astype(np.float64)
            pick = _csr_pick(self.ch_offsets, np.cumsum(ip_ok), e.person[sel], rng.random(len(sel)))
            cand = self.ch_cond[np.maximum(pick, 0)]
            use = (pick >= 0) & (rng.random(len(sel)) < 0.35) & (ip_ok[np.maximum(pick, 0)] > 0)
            use &= ~(surgical_only[cand] & (~has_proc[cand] | (min_lv[cand] > e.level[sel])))
            e.cond[sel[use]] = cand[use]
        e.med_type[sel] = 21
        # --- pharmacy: chronic purchase (60 % of a chronic person's purchases) or an OTC basket (−1)
        sel = np.flatnonzero(e.kind == PHA)
        pick = _csr_pick(self.ch_offsets, np.cumsum(np.ones(len(self.ch_cond))), e.person[sel], rng.random(len(sel)))
        dual_pick = _csr_pick(self.ch_offsets, np.cumsum(self.ch_dual), e.person[sel], rng.random(len(sel)))
        pick = np.where(e.scheme[sel] == 1, dual_pick, pick)
        share = np.where(e.scheme[sel] == 1, CHRONIC_PURCHASE_SHARE[1], CHRONIC_PURCHASE_SHARE[0])
        use = (pick >= 0) & (rng.random(len(sel)) < share)
        e.cond[sel] = np.where(use, self.ch_cond[np.maximum(pick, 0)] if len(self.ch_cond) else -1, -1)
        e.med_type[sel] = 41
        # anything that found no condition (tiny classes) becomes a fever; OTC baskets stay −1
        lost = (e.cond < 0) & (e.kind != PHA)
        e.cond[lost] = c.fallback
        # institutions
        e.inst = np.full(n, -1, dtype=np.int64)
        for kind, bedded, pharmacy in ((OUT, False, False), (CHR, False, False), (INP, True, False), (PHA, False, True)):
            sel = np.flatnonzero(e.kind == kind)
            e.inst[sel] = self._institutions(e, sel, e.level[sel], bedded, pharmacy)
        keep = e.inst >= 0
        e.keep(keep)
        e.level = np.where(e.kind == PHA, 1, reg.level[e.inst])
        # the chronic condition of a chronic visit pharmacy purchase must exist; TCM visits
        e.tcm = (e.kind == OUT) & (e.med_type == 11) & c.tcm[e.cond.clip(0)] & (rng.random(e.n) < TCM_SHARE)

    # ----------------------------------------------------------------------------------------
    def _dates(self, e: _Enc) -> None:
        p, c, rng = self.p, self.cond, self.rng
        year_days = p.ndays
        days = np.arange(year_days, dtype=np.int64)
        _, month, _ = _ymd(p.year_start + days)
        weekday = (p.year_start + days + 3) % 7
        cny = CHINESE_NEW_YEAR.get(self.year)
        rel = days - (_epoch_day(cny) - p.year_start) if cny else np.full(year_days, 999)
        national_day = (month == 10) & (days - (_epoch_day(date(self.year, 10, 1)) - p.year_start) < 7)
        # profile = (kind group, season); weights per day
        profiles: list[F64] = []
        for group in (OUT, CHR, INP, PHA, 4):
            for season in SEASONS:
                w = np.asarray(_MONTH[season])[month - 1] * np.asarray(_WEEKDAY[group])[weekday]
                w = w * np.where((rel >= -1) & (rel <= 6), _CNY_DIP[group], 1.0)
                w = w * np.where((rel >= -8) & (rel <= -2) & (group == CHR), 1.25, 1.0)
                if group != 4:
                    w = w * np.where(national_day, 0.7, 1.0)
                profiles.append(w)
        cum = np.cumsum(np.array(profiles), axis=1)  # (profiles, days)
        self._day_cum = cum
        kind_group = np.where(e.med_type == 13, 4, e.kind)
        season = c.season[e.cond.clip(0)]
        e.profile = (kind_group * len(SEASONS) + season).astype(np.int64)  # = prof_index[(group, season)]
        ws, we = p.ws[e.person], p.we[e.person]
        inp = e.kind == INP
        # length of stay first (it limits where a stay fits), then non-overlapping placement
        self._length_of_stay(e)
        e.day = np.zeros(e.n, dtype=np.int64)
        nonstay = np.flatnonzero(~inp)
        e.day[nonstay] = self._sample_days(e.profile[nonstay], ws[nonstay], we[nonstay])
        # newborn conditions happen in the first weeks of life
        neo = np.flatnonzero(c.neonatal[e.cond.clip(0)] & (e.kind != PHA))
        if len(neo):
            start = ws[neo]
            late = (p.brdy[e.person[neo]] - p.year_start) < start - 28
            span = np.clip(np.minimum(we[neo], start + 27) - start, 0, None)
            e.day[neo] = start + np.floor(rng.random(len(neo)) * (span + 1)).astype(np.int64)
            e.cond[neo[late]] = c.fallback
            self._principal_codes(e, neo[late])
        self._place_stays(e)
        self._avoid_stays(e)
        self._times(e)

    def _sample_days(self, profile: I64, lo: I64, hi: I64) -> I64:
        """A day in [lo, hi] from each row's seasonal profile."""
        cum = self._day_cum
        ndays = cum.shape[1]
        base = np.where(lo > 0, cum[profile, np.clip(lo - 1, 0, ndays - 1)], 0.0)
        top = cum[profile, np.clip(hi, 0, ndays - 1)]
        target = base + self.rng.random(len(profile)) * (top - base)
        flat = (cum + (np.arange(cum.shape[0]) * (cum[:, -1].max() + 1.0))[:, None]).ravel()
        idx = np.searchsorted(flat, target + profile * (cum[:, -1].max() + 1.0), side="right") - profile * ndays
        return np.asarray(np.clip(idx, lo, np.maximum(hi, lo)), dtype=np.int64)

    def _length_of_stay(self, e: _Enc) -> None:
        """Integer LOS per stay; per scheme × level the total days equal n × TARGETS los exactly."""
        p, c, rng = self.p, self.cond, self.rng
        sel = np.flatnonzero(e.kind == INP)
        e.los = np.zeros(e.n, dtype=np.int64)
        e.proc = np.full(e.n, -1, dtype=np.int64)
        e.stay_z = np.zeros(e.n)
        if not len(sel):
            return
        cond = e.cond[sel]
        # surgery (it decides day surgery, which fixes LOS at one day)
        pools = self.cat.pools
        u_s, u_p, u_d = rng.random(len(sel)), rng.random(len(sel)), rng.random(len(sel))
        surgical = u_s < c.surgical_share[cond]
        proc = np.full(len(sel), -1, dtype=np.int64)
        for ci in np.unique(cond[surgical]):
            options = [i for i in pools.cond_procs[ci]]
            if not options:
                continue
            rows = np.flatnonzero(surgical & (cond == ci))
            row_level = e.level[sel[rows]]
            wts = np.array([[pools.procs[i].proc.weight if pools.procs[i].min_level <= L else 0.0 for i in options] for L in (1, 2, 3)])
            cumw = _cum_table(wts)
            k = _draw(cumw, row_level - 1, u_p[rows])
            proc[rows] = np.where(k >= 0, np.array(options)[np.maximum(k, 0)], -1)
        day_surgery = np.zeros(len(sel), dtype=np.bool_)
        has = proc >= 0
        ds_share = np.array([pr.proc.day_surgery for pr in pools.procs] + [0.0])
        day_surgery[has] = u_d[has] < ds_share[proc[has]]
        e.proc[sel] = proc
        # med_type: 22 injuries, 24 emergency admissions, 28 day surgery
        mt = np.full(len(sel), 21, dtype=np.int64)
        mt[rng.random(len(sel)) < c.acute[cond]] = 24
        mt[c.injury[cond]] = 22
        mt[day_surgery] = 28
        e.med_type[sel] = mt
        # continuous lognormal LOS around the condition's relative LOS, then exact calibration per cell
        z = rng.standard_normal(len(sel))
        e.stay_z[sel] = z
        raw = np.maximum(c.los[cond], 0.1) * np.exp(LOS_SIGMA * z - LOS_SIGMA**2 / 2)
        raw *= np.asarray(SEVERITY_LOS)[self._chronic_severity(e, sel)]
        room = np.clip(p.we[e.person[sel]] - p.ws[e.person[sel]], 1, None)
        stays_of = np.bincount(e.person[sel], minlength=p.n)[e.person[sel]]
        bound = np.clip((room - (stays_of - 1)) // np.maximum(stays_of, 1), 1, MAX_LOS)
        los = np.ones(len(sel), dtype=np.int64)
        u_round = rng.random(len(sel))
        for s in (0, 1):
            for lv in (1, 2, 3):
                cell = np.flatnonzero((e.scheme[sel] == s) & (e.level[sel] == lv))
                if not len(cell):
                    continue
                target = TARGETS[f"{SCHEMES[s]}.los.{lv}"].value
                fixed = day_surgery[cell]
                var = cell[~fixed]
                total = target * len(cell)
                los_cell = np.ones(len(cell), dtype=np.float64)
                if len(var):
                    x = raw[var]
                    b = bound[var].astype(np.float64)
                    scale = (total - len(cell)) / max(float((x * target).sum()), 1e-9)
                    for _ in range(6):  # bounded scaling: re-spread what the bounds cut off
                        y = np.minimum(1.0 + np.maximum(x * target * scale, 0.0), b)
                        gap = total - (y.sum() + fixed.sum())
                        free = (y < b).sum()
                        if abs(gap) < 0.5 or free == 0:
                            break
                        scale *= 1.0 + gap / max(float((y[y < b] - 1.0).sum()), 1e-9)
                    los_cell[~fixed] = y
                # systematic rounding keeps the cell's total to within one day
                cs = np.cumsum(los_cell)
                off = u_round[cell[0]]
                ints = np.diff(np.floor(np.concatenate([[0.0], cs]) + off)).astype(np.int64)
                los[cell] = np.maximum(ints, 1)
        e.los[sel] = np.minimum(los, bound)

    def _place_stays(self, e: _Enc) -> None:
        """Admission days: stays of one person in order, never overlapping, inside the person's window."""
        p, rng = self.p, self.rng
        sel = np.flatnonzero(e.kind == INP)
        e.terminal = np.zeros(e.n, dtype=np.bool_)
        if not len(sel):
            return
        person = e.person[sel]
        los = e.los[sel]
        ws, we = p.ws[person], p.we[person]
        # per person: free days = window − Σ LOS − (m − 1) gaps
        order = np.lexsort((rng.random(len(sel)), person))
        sp, sl = person[order], los[order]
        starts = np.flatnonzero(np.concatenate([[True], sp[1:] != sp[:-1]]))
        counts = np.diff(np.concatenate([starts, [len(sp)]]))
        grp = np.repeat(np.arange(len(starts)), counts)
        sum_los = np.bincount(grp, weights=sl).astype(np.int64)
        free = (we[order][starts] - ws[order][starts]) - sum_los - (counts - 1)
        free = np.maximum(free, 0)
        # a day for each stay within [ws, ws + free] from its profile, then sorted within the person
        lo = ws[order]
        hi = lo + free[grp]
        d = self._sample_days(e.profile[sel][order], lo, hi)
        neo = self.cond.neonatal[e.cond[sel][order].clip(0)]
        d = np.where(neo, lo + np.floor(rng.random(len(d)) * np.minimum(free[grp] + 1, 8)).astype(np.int64), d)
        dying = p.dies[sp]
        last = np.concatenate([sp[1:] != sp[:-1], [True]])
        terminal_person = rng.random(len(starts)) < TERMINAL_STAY_SHARE
        term = last & dying & terminal_person[grp]
        d2 = np.where(term, hi, d)
        o2 = np.lexsort((d2, grp))
        d_sorted = d2[o2]
        l_sorted = sl[o2]
        term_sorted = term[o2]
        before = np.cumsum(l_sorted + 1) - (l_sorted + 1)
        group_start = np.repeat(before[starts], counts)
        adm = d_sorted + (before - group_start)
        rows = sel[order][o2]
        e.day[rows] = adm
        # the last stay of a dying person who ends in hospital: it ends on the day of death
        e.terminal[rows] = term_sorted & (adm + l_sorted == we[order][o2])
        # a stay that cannot fit (window shorter than the stay) is shortened to the window
        over = adm + l_sorted > we[order][o2]
        if over.any():
            e.los[rows[over]] = np.maximum(we[order][o2][over] - adm[over], 1)

    def _avoid_stays(self, e: _Enc) -> None:
        """Move visits that fall inside one of the person's stays to just after (or before) it."""
        inp = np.flatnonzero(e.kind == INP)
        if not len(inp):
            return
        key = e.person[inp] * 1024 + e.day[inp]
        order = np.argsort(key, kind="stable")
        skey, send = key[order], (e.day[inp] + e.los[inp])[order]
        sstart = e.day[inp][order]
        p = self.p
        drop = np.zeros(e.n, dtype=np.bool_)
        for _ in range(3):
            other = np.flatnonzero((e.kind != INP) & ~drop)
            k = e.person[other] * 1024 + e.day[other]
            pos = np.searchsorted(skey, k, side="right") - 1
            ok = pos >= 0
            same = ok & (skey[np.maximum(pos, 0)] // 1024 == e.person[other])
            inside = same & (send[np.maximum(pos, 0)] >= e.day[other])
            if not inside.any():
                break
            rows = other[inside]
            after = send[pos[inside]] + 1 + np.floor(self.rng.random(len(rows)) * 5).astype(np.int64)
            before = sstart[pos[inside]] - 1 - np.floor(self.rng.random(len(rows)) * 5).astype(np.int64)
            we, ws = p.we[e.person[rows]], p.ws[e.person[rows]]
            new = np.where(after <= we, after, before)
            bad = (new < ws) | (new > we)
            e.day[rows] = np.clip(new, ws, np.maximum(we, ws))
            drop[rows[bad]] = True
        # visits that still fall inside a stay are dropped (a handful)
        other = np.flatnonzero(e.kind != INP)
        k = e.person[other] * 1024 + e.day[other]
        pos = np.searchsorted(skey, k, side="right") - 1
        same = (pos >= 0) & (skey[np.maximum(pos, 0)] // 1024 == e.person[other])
        inside = same & (send[np.maximum(pos, 0)] >= e.day[other])
        drop[other[inside]] = True
        if drop.any():
            e.keep(~drop)

    def _times(self, e: _Enc) -> None:
        """Begin and end time (seconds since the epoch) of every encounter."""
        rng = self.rng
        n = e.n
        day0 = (self.p.year_start + e.day) * 86400
        group = np.where(e.med_type == 13, 4, np.where((e.kind == INP) & (e.med_type == 24), 4, e.kind))
        group = np.where((e.kind == INP) & (e.med_type != 24), 5, group)
        hour_tables = np.zeros((7, 24))
        for g, hours in _HOURS.items():
            for h, w in hours.items():
                hour_tables[g, h] = w
        cum = _cum_table(hour_tables)
        hour = _draw(cum, group, rng.random(n))
        begin = day0 + np.maximum(hour, 0) * 3600 + np.floor(rng.random(n) * 3600).astype(np.int64)
        minutes = np.select(
            [e.kind == PHA, e.med_type == 13, e.kind == CHR],
            [2 + rng.integers(0, 7, n), 30 + rng.integers(0, 211, n), 10 + rng.integers(0, 31, n)],
            10 + rng.integers(0, 51, n),
        )
        inp = e.kind == INP
        begin = np.where(inp, begin, np.minimum(begin, day0 + 86_340))  # a visit lasts a minute at least
        end = np.minimum(begin + minutes * 60, day0 + 86_399)  # a visit ends on its day (never after a death)
        dis_hour = _draw(cum, np.full(n, 6), rng.random(n))
        discharge = day0 + e.los * 86400 + np.maximum(dis_hour, 0) * 3600 + np.floor(rng.random(n) * 3600).astype(np.int64)
        death_time = day0 + e.los * 86400 + np.floor(rng.random(n) * 86400).astype(np.int64)
        end = np.where(inp, np.where(e.terminal, death_time, discharge), end)
        end = np.where(inp, np.maximum(end, begin + 3600), end)
        e.begin, e.end = begin, end

    # ----------------------------------------------------------------------------------------
    def _costs(self, e: _Enc) -> None:
        """The target cost (yuan) of every encounter; cell means equal the targets exactly."""
        c, rng = self.cond, self.rng
        n = e.n
        z = rng.standard_normal(n)
        sigma = np.array([COST_SIGMA[k] for k in (OUT, CHR, INP, PHA)])[e.kind]
        rel = np.exp(sigma * z - sigma**2 / 2)
        cond = e.cond.clip(0)
        inp = e.kind == INP
        base_los = np.maximum(c.los[cond], 0.1)
        # ICU days for the heaviest stays at level 2–3 (those with the highest lognormal draw)
        e.icu = np.zeros(n, dtype=np.int64)
        heavy = inp & (e.level >= 2) & (z > 1.6) & (e.los >= 3) & ~c.neonatal[cond]
        e.icu[heavy] = np.minimum(e.los[heavy] - 1, 1 + rng.poisson(2.0, int(heavy.sum())))
        factor = np.ones(n)
        factor[inp] = c.cost[cond[inp]] * rel[inp] * (1.0 + 0.5 * (e.proc[inp] >= 0)) * (1.0 + 0.25 * e.terminal[inp])
        los_expected = np.ones(n)
        for s in (0, 1):
            for lv in (1, 2, 3):
                m = inp & (e.scheme == s) & (e.level == lv)
                los_expected[m] = base_los[m] * TARGETS[f"{SCHEMES[s]}.los.{lv}"].value
        factor[inp] *= (np.maximum(e.los[inp], 1) / np.maximum(los_expected[inp], 1.0)) ** 0.6
        factor[inp] *= 1.0 + 0.35 * e.icu[inp]
        out = e.kind == OUT
        nat = self.cat.pools
        factor[out] = rel[out] * np.asarray(OUT_COST_LEVEL)[e.level[out] - 1] * np.where(e.med_type[out] == 13, ER_COST, 1.0)
        factor[out] *= (nat.natural_visit[cond[out]] / max(float(nat.natural_visit[cond[out]].mean()), 1e-9)) ** NATURAL_WEIGHT
        chr_ = e.kind == CHR
        factor[chr_] = rel[chr_] * np.asarray(CHR_COST_LEVEL)[e.level[chr_] - 1]
        factor[chr_] *= (nat.natural_chronic[cond[chr_]] / max(float(nat.natural_chronic[cond[chr_]].mean()), 1e-9)) ** NATURAL_WEIGHT
        pha = e.kind == PHA
        factor[pha] = rel[pha] * np.where(e.cond[pha] >= 0, 1.6, 0.7)
        target = np.zeros(n)
        for s in (0, 1):
            scheme = SCHEMES[s]
            cells: list[tuple[B, float]] = [
                (out & (e.scheme == s), TARGETS[f"{scheme}.cost_per_outpatient"].value),
                (chr_ & (e.scheme == s), TARGETS[f"{scheme}.cost_per_chronic"].value),
                (pha & (e.scheme == s), TARGETS[f"{scheme}.cost_per_pharmacy"].value),
            ]
            cells += [(inp & (e.scheme == s) & (e.level == lv), TARGETS[f"{scheme}.cost_per_admission.{lv}"].value) for lv in (1, 2, 3)]
            for m, mean in cells:
                if m.any():
                    target[m] = mean * factor[m] / factor[m].mean()
        e.target = target * 100.0  # fen
        e.cell = np.where(inp, 10 + e.scheme * 3 + e.level, e.kind * 2 + e.scheme)

    # ----------------------------------------------------------------------------------------
    def _principal_codes(self, e: _Enc, rows: I64 | None = None) -> None:
        """The principal diagnosis (a row of the code book, −1 none) of every encounter, or drawn again
        for ``rows``, from their conditions; a chronic visit keeps the person's own code of its condition."""
        c = self.cond
        if rows is None:
            e.code_row = np.full(e.n, -1, dtype=np.int64)
            rows = np.arange(e.n)
        rows = rows[e.cond[rows] >= 0]
        e.code_row[rows] = _csr_pick(c.book_offsets, c.book_cum, e.cond[rows], self.rng.random(len(rows)))
        chronic = rows[(e.chronic_pick[rows] >= 0) & (e.kind[rows] == CHR)]
        e.code_row[chronic] = self.ch_code[e.chronic_pick[chronic]]

    def _chronic_secondaries(self, e: _Enc, rows: I64) -> tuple[I64, I64]:
        """The chronic conditions the encounters ``rows`` may list beside their own (the person's first
        four but the one treated): (encounter, index into the person's chronic conditions) pairs."""
        seg, pos = _segments(np.minimum(self.ch_count[e.person[rows]], 4))
        enc = rows[seg]
        ch_idx = self.ch_offsets[e.person[enc]] + pos
        cond2 = self.ch_cond[ch_idx] if len(ch_idx) else np.zeros(0, dtype=np.int64)
        keep = cond2 != e.cond[enc]
        return enc[keep], ch_idx[keep]

    def _diagnoses(self, e: _Enc) -> _Diag:
        """Principal and secondary diagnoses; the chronic conditions each encounter lists."""
        c, p, rng = self.cond, self.p, self.rng
        n = e.n
        code_row = e.code_row
        # secondary chronic conditions: every other one for chronic visits and stays (at most 4), some at visits
        seg, ch_idx = self._chronic_secondaries(e, np.arange(n))
        kind = e.kind[seg]
        keep = np.where(kind == OUT, rng.random(len(seg)) < 0.3, kind != PHA)
        keep &= np.isin(kind, (OUT, CHR, INP))
        sec_enc, sec_ch = seg[keep], ch_idx[keep]
        # comorbidities of stays: Poisson by age band, drawn with replacement then de-duplicated
        lam = np.array([0.2, 0.3, 0.3, 0.6, 1.2, 1.8, 2.4])
        inp = np.flatnonzero(e.kind == INP)
        sicker = np.exp(COMORBIDITY_LOS * e.stay_z[inp] - COMORBIDITY_LOS**2 / 2)  # longer stays list more
        k = rng.poisson(lam[p.band[e.person[inp]]] * sicker)
        z_chemo, z_radio = self._courses(e.proc, e.kind == INP)
        # at most six secondary diagnoses: a course (Z51) lists its cancer first, then chronic conditions
        room = np.clip(6 - np.bincount(sec_enc, minlength=n)[inp] - (z_chemo | z_radio)[inp], 0, None)
        k = np.minimum(k, room)
        seg2, _ = _segments(k)
        como_enc = inp[seg2]
        cls = p.band[e.person[como_enc]] * 3 + p.gend[e.person[como_enc]]
        como = _draw(c.como_cum, cls, rng.random(len(como_enc)))
        ok = como >= 0
        como_enc, como = como_enc[ok], como[ok]
        # chemotherapy and radiotherapy courses: Z51 principal, the cancer first among the secondary ones
        return _Diag(code_row, sec_enc, sec_ch, como_enc, como, z_chemo, z_radio)

    def _courses(self, proc: I64, stay: B) -> tuple[B, B]:
        """Which stays are chemotherapy and which radiotherapy courses (by their procedure)."""
        code = np.array([pr.proc.code for pr in self.cat.pools.procs] + [""])[proc]
        return stay & (code == dx.P_CHEMO.code), stay & (code == dx.P_RADIO.code)

    def _chronic_severity(self, e: _Enc, stays: I64) -> I64:
        """What the chronic conditions each of ``stays`` will list count as beside its principal
        diagnosis (0 none, 1 CC, 2 MCC), known before its length is drawn (comorbidities come later)."""
        c = self.cond
        stay = np.zeros(e.n, dtype=np.bool_)
        stay[stays] = True
        principal = _principal_rows(e.code_row, *self._courses(e.proc, stay), c.book_code.len())
        enc, ch_idx = self._chronic_secondaries(e, stays)
        severity = np.zeros(e.n, dtype=np.int64)
        np.maximum.at(severity, enc, c.severity[principal[enc], self.ch_code[ch_idx]])
        return severity[stays]

    def _severity(self, e: _Enc, d: _Diag) -> None:
        """Stays whose secondary diagnoses count as a CC or an MCC cost more (:data:`SEVERITY_COST`),
        the others of their cell less: each cell's mean target is kept."""
        c = self.cond
        n_book = c.book_code.len()
        principal = _principal_rows(d.code_row, d.z_chemo, d.z_radio, n_book)
        z = np.flatnonzero(d.z_chemo | d.z_radio)  # a course's cancer is its first secondary diagnosis
        enc = np.concatenate([d.sec_enc, d.como_enc, z])
        secondary = np.concatenate([self.ch_code[d.sec_ch], n_book + d.como, d.code_row[z]])
        severity = np.zeros(e.n, dtype=np.int64)  # 0 none, 1 CC, 2 MCC: the highest that counts
        np.maximum.at(severity, enc, c.severity[principal[enc], secondary])
        inp = e.kind == INP
        weight = np.where(inp, np.asarray(SEVERITY_COST)[severity], 1.0)
        for cell in np.unique(e.cell[inp]):
            m = inp & (e.cell == cell)
            e.target[m] *= weight[m] * (e.target[m].sum() / (e.target[m] * weight[m]).sum())

    def _procedures(self, e: _Enc) -> _Oprn:
        rng = self.rng
        rows = np.flatnonzero(e.proc >= 0)
        surgery_day = np.zeros(e.n, dtype=np.int64)
        lead = np.where(e.med_type[rows] == 28, 0, np.where(np.isin(e.med_type[rows], (22, 24)), 0, 1 + rng.integers(0, 2, len(rows))))
        surgery_day[rows] = np.minimum(lead, np.maximum(e.los[rows] - 1, 0))
        e.surgery_day = surgery_day
        return _Oprn(rows)

    # ----------------------------------------------------------------------------------------
    def _lines(self, e: _Enc, d: _Diag) -> _Lines:
        """Every fee line: item, base quantity, day, scalability; then prices and scaling to the target."""
        b = _LineBuilder(self, e, d)
        b.build()
        return b.finish()

    # ----------------------------------------------------------------------------------------
    def _dialysis_sessions(self, e: _Enc, ln: _Lines) -> tuple[_Lines, B]:
        """Haemodialysis on a fixed weekly timetable: the visits that carry a session, and the lines.

        A maintenance-dialysis patient has a place in the unit on three set days of every natural week
        (Mon/Wed/Fri or Tue/Thu/Sat, :data:`DIALYSIS_DAYS`, one timetable per person), except in a week
        with a stay (the ward dialyses them then).
        A person's sessions of the year are consecutive places of that timetable from a random start (a
        patient who starts dialysis, or stops it, part way through the year), so no week has more than
        three (血液透析每周不超过3次, the clinical norm of 3 × 4 h). Sessions past the places of the year
        (a few very frequent visitors) stay as review visits without the session's charges. Returns the
        lines and which encounters are sessions (not refill visits: their drugs are given at the session).
        """
        session_items = np.array([j for j in (self.cat.names.get(n, -1) for n in DIALYSIS_ITEMS) if j >= 0], dtype=np.int64)
        is_session = np.zeros(e.n, dtype=np.bool_)
        if DIALYSIS_ITEMS[0] not in self.cat.names:
            return ln, is_session
        is_session[ln.enc[(ln.item == session_items[0]) & (e.kind[ln.enc] != INP)]] = True
        rows = np.flatnonzero(is_session)
        if not len(rows):
            return ln, is_session
        p = self.p
        rows = rows[np.lexsort((rows, e.day[rows], e.person[rows]))]
        pers = e.person[rows]
        who, first, k = np.unique(pers, return_index=True, return_counts=True)
        # the places of each patient's timetable inside the year (weekday 0 = Monday)
        ws, we = p.ws[who], p.we[who]
        seg, pos = _segments(np.maximum(we - ws + 1, 0))
        day = ws[seg] + pos
        timetable = self.rng.integers(0, len(DIALYSIS_DAYS), len(who))
        weekday = (p.year_start + day + 3) % 7
        ok = np.isin(weekday + 7 * timetable[seg], [d + 7 * t for t, days in enumerate(DIALYSIS_DAYS) for d in days])
        # no outpatient place in a week the patient spends (partly) in hospital: the ward dialyses them
        stays = np.flatnonzero((e.kind == INP) & np.isin(e.person, who))
        first_week = (p.year_start + e.day[stays] + 3) // 7
        s_seg, s_pos = _segments((p.year_start + e.day[stays] + e.los[stays] + 3) // 7 - first_week + 1)
        busy = e.person[stays[s_seg]] * 100_000 + first_week[s_seg] + s_pos
        ok &= ~np.isin(who[seg] * 100_000 + (p.year_start + day + 3) // 7, busy)
        seg, day = seg[ok], day[ok]
        places = np.bincount(seg, minlength=len(who))
        place0 = np.concatenate([[0], np.cumsum(places)[:-1]])
        start = np.floor(self.rng.random(len(who)) * (np.maximum(places - k, 0) + 1)).astype(np.int64)
        owner = np.repeat(np.arange(len(who)), k)
        nth = np.arange(len(rows)) - first[owner]
        fits = nth < places[owner]
        r, o = rows[fits], owner[fits]
        new = day[place0[o] + start[o] + nth[fits]]
        shift = (new - e.day[r]) * 86400
        e.day[r] = new
        e.begin[r] += shift
        e.end[r] += shift
        review = rows[~fits]
        is_session[review] = False
        drop = np.isin(ln.enc, review) & np.isin(ln.item, session_items)
        if drop.any():
            keep = ~drop
            ln = _Lines(ln.enc[keep], ln.item[keep], ln.qty[keep], ln.day[keep], ln.minute[keep], ln.prd_days[keep],
                        ln.pric[keep])  # fmt: skip
        return ln, is_session

    def _refills(self, e: _Enc, ln: _Lines, sessions: B) -> _Lines:
        """Long prescriptions refilled on schedule: dates of each person's refill series, then days supplied.

        A series is the visits and pharmacy purchases of one person for one chronic condition that
        dispense a long prescription (:data:`REFILL_MIN_DAYS` days or more), in date order. Each refill
        comes when the patient has used :data:`REFILL_ON_TIME` of the last supply (72 %), late
        (:data:`REFILL_LATE`, a gap) or, uncommonly, with more than a third left (:data:`REFILL_EARLY`):
        a visit drawn earlier than that is moved later, and a series that no longer fits the person's
        year is moved back (or squeezed). A moved visit that would fall inside a stay, outside the
        person's year or past a child's birthday keeps its day. Then, drug by drug, a supply the patient's next dispense of the same
        drug (at any institution) cuts short is shortened to what was used by then — a frequent buyer
        gets shorter prescriptions — and a planned early refill stays as early as planned (its supply is
        cut to what its ``used`` share makes of the gap, so a squeezed series does not make it earlier),
        and the early refill itself doubles the dose (its days supplied are halved: see :data:`REFILL_EARLY`).
        Two dispenses of a series never fall on one day (nobody buys the same month's drug twice in a
        day): days in a series strictly increase while the year has room, and a repeat dispense that still
        falls on the day of another at the same place is dropped (:meth:`_repeat_dispenses`). Otherwise
        counts, costs and quantities do not change (the calibration holds); dates of series visits and
        ``prd_days`` do. ``sessions`` (dialysis visits, already on their timetable) are no series.
        """
        rng, cat = self.rng, self.cat
        n = e.n
        drug = (cat.list_type[ln.item] == 0) & (e.kind[ln.enc] != INP) & (ln.prd_days > 0)
        supply = np.zeros(n, dtype=np.int64)
        long_line = drug & (ln.prd_days >= REFILL_MIN_DAYS)
        np.maximum.at(supply, ln.enc[long_line], ln.prd_days[long_line])
        used = rng.uniform(*REFILL_ON_TIME, n)
        u = rng.random(n)
        early = u < REFILL_EARLY
        used = np.where(early, rng.uniform(*REFILL_EARLY_USED, n), used)
        used = np.where(u > 1 - REFILL_LATE, 1.0 + rng.exponential(REFILL_LATE_MEAN, n), used)
        chronic_condition = self.cond.chronic.sum(axis=1) > 0
        long_rx = (e.kind == CHR) | ((e.kind != INP) & (e.cond >= 0) & chronic_condition[e.cond.clip(0)])
        used = np.where(sessions, 1.0, used)  # drugs given at a dialysis session last until the next one
        in_series = long_rx & (supply > 0) & (e.kind != INP) & ~sessions
        self._schedule(e, np.flatnonzero(in_series), supply, used)
        # days supplied: no dispense of a drug lasts past the patient's next dispense of it (an early one
        # keeps its planned share used)
        rows = np.flatnonzero(drug)
        o = rows[_lexsort((ln.enc[rows], e.day[ln.enc[rows]], ln.item[rows], e.person[ln.enc[rows]]))]
        pers, item, day = e.person[ln.enc[o]], ln.item[o], e.day[ln.enc[o]]
        # the next dispense of the drug on a later day (several on one day all last until it)
        group = np.cumsum(np.concatenate([[True], (pers[1:] != pers[:-1]) | (item[1:] != item[:-1])]))
        key = group * 1024 + day
        nxt = np.searchsorted(key, key, side="right")
        same = nxt < len(o)
        nxt = np.minimum(nxt, len(o) - 1)
        same &= group[nxt] == group
        gap = np.where(same, day[nxt] - day, 0)
        ratio = used[ln.enc[o]]
        prd = ln.prd_days.copy()
        cut = same & (gap > 0) & (gap < prd[o] * np.minimum(ratio, 1.0))
        prd[o[cut]] = np.maximum(1, np.floor(gap[cut] / np.minimum(ratio[cut], 1.0))).astype(prd.dtype)
        # an early refill is a dose change: the doctor doubles the last dispense's daily dose
        titrated = same & (gap > 0) & (early & in_series)[ln.enc[o]]
        last, refill = o[titrated], o[nxt[titrated]]
        prd[refill] = np.clip(prd[last] * ln.qty[refill] // (2 * ln.qty[last]), 1, prd[refill])
        keep = ~self._repeat_dispenses(e, ln, drug)
        return _Lines(ln.enc[keep], ln.item[keep], ln.qty[keep], ln.day[keep], ln.minute[keep], prd[keep], ln.pric[keep])

    def _repeat_dispenses(self, e: _Enc, ln: _Lines, drug: B) -> B:
        """Drug lines that repeat, at another encounter, the person's dispense of the drug at the same
        institution on the same day: the second visit continues the first's prescription, it does not
        dispense again. An encounter keeps its only line."""
        rows = np.flatnonzero(drug)
        o = rows[_lexsort((ln.enc[rows], e.day[ln.enc[rows]], e.inst[ln.enc[rows]], ln.item[rows], e.person[ln.enc[rows]]))]
        enc = ln.enc[o]
        again = np.concatenate([[False], (e.person[enc][1:] == e.person[enc][:-1]) & (ln.item[o][1:] == ln.item[o][:-1])
                                & (e.inst[enc][1:] == e.inst[enc][:-1]) & (e.day[enc][1:] == e.day[enc][:-1])])  # fmt: skip
        repeat = np.zeros(len(ln.enc), dtype=np.bool_)
        repeat[o[again]] = True
        # an encounter all of whose lines repeat keeps its first one
        bare = np.flatnonzero(repeat & (np.bincount(ln.enc[~repeat], minlength=e.n)[ln.enc] == 0))
        _, first = np.unique(ln.enc[bare], return_index=True)
        repeat[bare[first]] = False
        return repeat

    def _schedule(self, e: _Enc, series: I64, supply: I64, used: F64) -> None:
        """Dates of the refill series (see :meth:`_refills`): each at least ``used`` × the last supply after it."""
        if not len(series):
            return
        p = self.p
        o = series[_lexsort((series, e.day[series], e.cond[series], e.person[series]))]
        pers, cond = e.person[o], e.cond[o]
        start = np.concatenate([[True], (pers[1:] != pers[:-1]) | (cond[1:] != cond[:-1])])
        group = np.cumsum(start) - 1
        ws, we = p.ws[pers], p.we[pers]
        step = np.ceil(supply[o] * used[o]).astype(np.int64)  # days from this dispense to the next
        before = np.concatenate([[0], step[:-1]])
        before[start] = 0
        offset = np.cumsum(before) - np.repeat(np.cumsum(before)[start] - before[start], np.bincount(group))
        # a series longer than the person's year is squeezed into it
        span = np.bincount(group, weights=before).astype(np.int64)
        room = (we - ws)[start]
        squeeze = np.where(span > room, room / np.maximum(span, 1), 1.0)[group]
        offset = np.floor(offset * squeeze).astype(np.int64)
        old = e.day[o]
        new = offset + _segment_running_max(old - offset, group)
        late = np.maximum(0, np.maximum.reduceat(new, np.flatnonzero(start)) - we[start])[group]
        new = np.maximum(new - late, ws)
        # one dispense a day at most: strictly increasing days inside a series (unless the year is full)
        rank = np.arange(len(o)) - np.repeat(np.flatnonzero(start), np.bincount(group))
        strict = _segment_running_max(new - rank, group) + rank
        new = np.where(strict <= we, strict, new)
        # a visit that would fall inside one of the person's stays, outside the year or past a child's
        # birthday (items restricted by age) keeps its day
        age_then = _age_on(p.brdy[pers], p.year_start + old)
        bad = (new > we) | _inside_stays(e, pers, new) | ((age_then < 18) & (_age_on(p.brdy[pers], p.year_start + new) != age_then))
        new = np.where(bad, old, new)
        shift = (new - old) * 86400
        e.day[o] = new
        e.begin[o] += shift
        e.end[o] += shift

    # ----------------------------------------------------------------------------------------
    def _tables(self, e: _Enc, d: _Diag, o: _Oprn, lines: _Lines) -> dict[str, pl.DataFrame]:
        return _assemble(self, e, d, o, lines)


# =============================================================================================
# Encounters, diagnoses and lines as arrays
# =============================================================================================


class _Enc:
    """The encounters of the chunk as parallel arrays (filled in stage by stage)."""

    _ARRAYS = ("person", "kind", "scheme", "level", "cond", "med_type", "inst", "chronic_pick", "tcm", "profile",
               "los", "stay_z", "code_row", "proc", "day", "terminal", "begin", "end", "icu", "target", "cell", "surgery_day")  # fmt: skip

    def __init__(self, person: I64, kind: I64, scheme: I64) -> None:
        self.person, self.kind, self.scheme = person, kind, scheme
        self.level = np.zeros(0, dtype=np.int64)
        self.cond = np.zeros(0, dtype=np.int64)
        self.med_type = np.zeros(0, dtype=np.int64)
        self.inst = np.zeros(0, dtype=np.int64)
        self.chronic_pick = np.zeros(0, dtype=np.int64)
        self.tcm = np.zeros(0, dtype=np.bool_)
        self.profile = np.zeros(0, dtype=np.int64)
        self.los = np.zeros(0, dtype=np.int64)
        self.stay_z = np.zeros(0)
        self.code_row = np.zeros(0, dtype=np.int64)
        self.proc = np.zeros(0, dtype=np.int64)
        self.day = np.zeros(0, dtype=np.int64)
        self.terminal = np.zeros(0, dtype=np.bool_)
        self.begin = np.zeros(0, dtype=np.int64)
        self.end = np.zeros(0, dtype=np.int64)
        self.icu = np.zeros(0, dtype=np.int64)
        self.target = np.zeros(0)
        self.cell = np.zeros(0, dtype=np.int64)
        self.surgery_day = np.zeros(0, dtype=np.int64)

    @property
    def n(self) -> int:
        return len(self.person)

    def keep(self, mask: B) -> None:
        n = self.n
        for name in self._ARRAYS:
            arr = getattr(self, name)
            if len(arr) == n:
                setattr(self, name, arr[mask])


@dataclass(frozen=True, slots=True)
class _Diag:
    code_row: I64  # principal: row of the code book (−1 none)
    sec_enc: I64  # secondary chronic: encounter, index into the person's chronic conditions (CSR)
    sec_ch: I64
    como_enc: I64  # comorbidities: encounter, comorbidity index
    como: I64
    z_chemo: B
    z_radio: B


@dataclass(frozen=True, slots=True)
class _Oprn:
    rows: I64  # encounters with a procedure


@dataclass(frozen=True, slots=True)
class _Lines:
    enc: I64
    item: I64
    qty: I64  # whole units
    day: I64  # day offset within the encounter (inpatient)
    minute: I64  # minutes after the day's start (or after the visit's begin for visits)
    prd_days: I64
    pric: I64


class _LineBuilder:
    """Collects candidate orders slot by slot, keeps them up to each encounter's cost, prices and scales.

    An *order* is one item for one encounter: a single fee line, or for an inpatient injection one line
    per day over a run of days. Mandatory orders (bed, nursing, 诊察费, surgery, the routine work-up and
    the first prescription of a visit) are always kept; optional ones are kept in random order while the
    encounter's running total stays below ``FILL`` × its target, so dear encounters get more items and
    cheap ones fewer. Quantities of scalable lines are then scaled to the target (unbiased rounding,
    within each line's plausible maximum) and corrected per cell until the cell means meet the targets.
    """

    FILL = 0.85
    MAX_VISIT_DRUGS = 4
    MAX_CHRONIC_DRUGS = 6
    """A 门诊慢特病 visit may carry more prescriptions: the drugs of all the patient's registered chronic
    conditions, a month of each. With four, the employees' chronic visits (older patients, more
    conditions, a dearer target) stayed 14 % under their cost at 100,000 persons; with six, 5 %."""

    def __init__(self, sim: _Simulation, e: _Enc, d: _Diag) -> None:
        self.sim, self.e, self.d = sim, e, d
        self.cat = sim.cat
        self.rng = sim.rng
        self.parts: list[dict[str, np.ndarray]] = []
        p = sim.p
        self.age = _age_on(p.brdy[e.person], p.year_start + e.day)
        self.gend = p.gend[e.person]
        rel = np.ones(e.n)
        for cell in np.unique(e.cell):
            m = e.cell == cell
            rel[m] = e.target[m] / max(e.target[m].mean(), 1e-9)
        self.rel = rel
        self.tier = np.clip(rel, 0.25, 4.0)
        self.dear = (rel > 1.3) | (e.target > 1_000_000)  # dear within its cell, or above 10,000 yuan
        # long prescriptions (14–30 days): chronic visits, purchases for a chronic condition, and general
        # visits for a condition that can be a registered chronic one (a hypertension refill)
        chronic_condition = sim.cond.chronic.sum(axis=1) > 0
        self.long_rx = (e.kind == CHR) | ((e.kind != INP) & (e.cond >= 0) & chronic_condition[e.cond.clip(0)])
        self.n_items = len(self.cat.lv)
        self.allowed_table, self.context = self._allowed_table()
        self.price_table = of_region("care: prices", (self.sim.reg, self.cat), self._price_table)
        self.infusions = np.array([j for j in (self.item(IV_SERVICE), self.item("小儿头皮静脉输液")) if j >= 0], dtype=np.int64)

    # -- collecting --------------------------------------------------------------------------
    def add(self, enc: I64, item: I64, qty: I64 | int, *, scalable: bool | B, day: I64 | int = 0, days: I64 | int = 1,
            minute: I64 | int = 0, prd_days: I64 | int = 0, anchor: bool | B = False, max_qty: I64 | int = 0,
            iv: bool | B = False, mandatory: bool | B | None = None) -> None:  # fmt: skip
        n = len(enc)
        if n == 0:
            return

        def arr(x: object, dtype: type) -> npt.NDArray[Any]:
            a: npt.NDArray[Any] = np.asarray(x, dtype=dtype)
            return np.broadcast_to(a, (n,)).copy() if a.ndim == 0 else a

        sc = arr(scalable, np.bool_)
        self.parts.append({
            "enc": arr(enc, np.int32), "item": arr(item, np.int32), "qty": arr(qty, np.int32), "scalable": sc,
            "day": arr(day, np.int32), "days": arr(days, np.int32), "minute": arr(minute, np.int32),
            "prd_days": arr(prd_days, np.int32), "anchor": arr(anchor, np.bool_), "max_qty": arr(max_qty, np.int32),
            "iv": arr(iv, np.bool_), "mandatory": ~sc if mandatory is None else arr(mandatory, np.bool_),
        })  # fmt: skip

    def pick(self, enc: I64, pool: I64, scale: F64 | float) -> tuple[I64, I64]:
        """Bernoulli draws over the items of each encounter's pool: (encounter, item) of the candidates."""
        pools = self.cat.pools
        ok = pool >= 0
        enc, pool = enc[ok], pool[ok]
        sc = np.broadcast_to(np.asarray(scale, dtype=np.float64), ok.shape)[ok]
        size = pools.size(pool)
        seg, pos = _segments(size)
        at = pools.offsets[pool[seg]] + pos
        keep = self.rng.random(len(seg)) < np.minimum(pools.prob[at] * sc[seg], 1.0)
        return enc[seg[keep]], pools.items[at[keep]]

    def pool(self, name: str) -> int:
        return self.cat.pools.index.get(name, -1)

    def one_of(self, enc: I64, pool_name: str) -> I64:
        """One item per encounter from a weighted pool."""
        pools = self.cat.pools
        pid = self.pool(pool_name)
        if pid < 0 or not len(enc):
            return np.full(len(enc), -1, dtype=np.int64)
        lo, hi = pools.offsets[pid], pools.offsets[pid + 1]
        cw = np.cumsum(pools.prob[lo:hi])
        k = np.searchsorted(cw, self.rng.random(len(enc)) * cw[-1], side="right").clip(0, hi - lo - 1)
        return np.asarray(pools.items[lo + k], dtype=np.int64)

    def one_allowed(self, enc: I64, pool: I64) -> tuple[I64, I64]:
        """One item per row drawn evenly among those of its pool the encounter may be given (rows whose
        pool offers none are left out): (encounter, item)."""
        pools = self.cat.pools
        ok = pool >= 0
        enc, pool = enc[ok], pool[ok]
        seg, pos = _segments(pools.size(pool))
        item = pools.items[pools.offsets[pool[seg]] + pos]
        fit = np.flatnonzero(self.allowed(enc[seg], item))
        o = fit[_lexsort((self.rng.random(len(fit)), seg[fit]))]
        first = np.concatenate([[True], seg[o][1:] != seg[o][:-1]]) if len(o) else np.zeros(0, dtype=np.bool_)
        return enc[seg[o[first]]], np.asarray(item[o[first]], dtype=np.int64)

    def item(self, name: str) -> int:
        return self.cat.names.get(name, -1)

    def allowed(self, enc: I64, item: I64) -> B:
        """Whether each (encounter, item) line respects the catalogue in clean data (a table lookup)."""
        ok = item >= 0
        flat = self.context[enc] * self.n_items + np.maximum(item, 0)
        ok = ok & self.allowed_table[flat]
        r = self.sim.restricted
        g = r.group[np.maximum(item, 0)]
        lim = np.flatnonzero(ok & (g >= 0))
        if len(lim):  # 限定开单科室: only where an allowed department is (pharmacies excepted)
            e_ = enc[lim]
            ok[lim] = (self.e.kind[e_] == PHA) | r.has[self.e.inst[e_], g[lim]]
        return ok

    def _allowed_table(self) -> tuple[B, I64]:
        """Allowed (context, item) pairs, context = sex × age class × level × kind; the context of each encounter.

        An item is allowed when its sex, age, level and visit-kind restrictions hold, when it has a price
        at the level if it has caps at all (an item with caps but none at this level is not offered), and
        at pharmacies when it is a drug or a consumable.
        """
        c, e = self.cat, self.e
        bounds = np.array(sorted({0, *[int(a) for a in c.age_min if a >= 0], *[int(a) + 1 for a in c.age_max if a < 999]}))
        n_age = len(bounds)
        g = np.arange(3)[:, None, None, None, None]
        a = bounds[None, :, None, None, None]
        lv = np.arange(4)[None, None, :, None, None]
        kind = np.arange(4)[None, None, None, :, None]
        it = np.arange(self.n_items)[None, None, None, None, :]
        lv_eff = np.where(kind == PHA, 1, np.maximum(lv, 1))
        ok = (c.gend[it] == 0) | (c.gend[it] == g)
        ok = ok & (a >= c.age_min[it]) & (a <= c.age_max[it])
        ok = ok & (c.lv_min[it] <= lv_eff)
        ok = ok & ((c.visits[it] == 0) | ((c.visits[it] & KIND_BIT[kind]) != 0))
        cap_here = c.cap[lv_eff, it]
        ok = ok & (~c.has_cap[it] | (cap_here >= 0) | (kind == PHA))
        ok = ok & ((kind != PHA) | np.isin(c.list_type[it], (0, 3)))
        age_class = np.searchsorted(bounds, self.age, side="right") - 1
        context = ((self.gend * n_age + age_class) * 4 + e.level) * 4 + e.kind
        return ok.reshape(-1), context.astype(np.int64)

    # -- the slots ---------------------------------------------------------------------------
    def build(self) -> None:
        e = self.e
        self.inpatient(np.flatnonzero(e.kind == INP))
        self.visits(np.flatnonzero((e.kind == OUT) | (e.kind == CHR)))
        self.pharmacy(np.flatnonzero(e.kind == PHA))

    def inpatient(self, s: I64) -> None:
        e, rng, cat = self.e, self.rng, self.cat
        if not len(s):
            return
        los = np.maximum(e.los[s], 1)
        icu = e.icu[s]
        ward = los - icu
        newborn = self.age[s] == 0
        # how much there is to spend beyond bed, nursing and 诊察费, per day: it sets how many items are ordered
        per_day = (e.target[s] / 100.0 - 75.0 * los) / los
        richer = np.clip(per_day / 350.0, 0.4, 6.0)
        # beds, nursing, 诊察费: one line each, cnt = days
        self.add(s, self.one_of(s, "beds"), ward, scalable=False)
        nurse = self.one_of(s, "nursing")
        nb = self.item(NEWBORN_NURSING)
        if nb >= 0:
            nurse = np.where(newborn, nb, nurse)
        self.add(s, nurse, ward, scalable=False)
        self.add(s, np.full(len(s), self.item(INPATIENT_CONSULT)), los, scalable=False)
        if icu.any():
            r = s[icu > 0]
            self.add(r, np.full(len(r), self.item(ICU_BED)), e.icu[r], scalable=False)
            self.add(r, np.full(len(r), self.item(ICU_CARE)), 24 * e.icu[r], scalable=False)
            enc, it = self.pick(r, np.full(len(r), self.pool("icu_lines")), 1.0)
            per_day = np.zeros(len(cat.lv), dtype=np.int64)
            for nm, _, k in ICU_LINES:
                if self.item(nm) >= 0:
                    per_day[self.item(nm)] = k
            self.add(enc, it, np.maximum(per_day[it], 1) * np.where(per_day[it] > 1, e.icu[enc], 1), scalable=False)
            enc, it = self.pick(r, np.full(len(r), self.pool("intensive")), 1.0)
            self._drug_runs(enc, it, spread=0.6)
        # dear stays that are not in intensive care still get some of its drugs
        enc, it = self.pick(s, np.full(len(s), self.pool("intensive")), np.clip(self.tier[s] - 1.0, 0, 1.5) * 0.6)
        self._drug_runs(enc, it, spread=0.5)
        enc, it = self.pick(s, np.full(len(s), self.pool("ip_imaging")), np.where(newborn, 0.2, richer))
        self.add(enc, it, 1, scalable=True, day=self._early_day(enc), max_qty=2)
        # routine work-up (the commonest tests are mandatory), and the condition's own tests
        enc, it = self.pick(s, np.full(len(s), self.pool("ip_labs")), np.where(newborn, 0.5, 1.0) * np.clip(richer, 0.6, 1.4))
        every = np.zeros(len(cat.lv), dtype=np.int64)
        routine = np.zeros(len(cat.lv), dtype=np.bool_)
        for nm, p, k in INPATIENT_LABS:
            j = self.item(nm)
            if j >= 0:
                every[j] = k
                routine[j] = p >= 0.8
        rep = every[it]
        qty = 1 + np.where(rep > 0, (np.maximum(e.los[enc], 1) - 1) // np.maximum(rep, 1), 0)
        self.add(enc, it, qty, scalable=True, day=self._early_day(enc), max_qty=np.where(rep > 0, np.where(self.dear[enc], 3, 2) * qty, 1),
                 mandatory=routine[it])  # fmt: skip
        cond = e.cond[s]
        pools = cat.pools
        enc, it = self.pick(s, pools.cond_tests[cond], 0.9 * richer)
        self.add(enc, it, 1, scalable=True, day=self._early_day(enc), max_qty=np.clip(e.los[enc] // 4, 1, 3))
        enc, it = self.pick(s, pools.cond_treat[cond], 0.7)
        infusion = np.isin(it, self.infusions)
        enc, it = enc[~infusion], it[~infusion]  # infusions come with the injections, once a day
        run = np.maximum(1, np.round(np.maximum(e.los[enc], 1) * 0.6)).astype(np.int64)
        self.add(enc, it, np.where(cat.unit_hours[it], 8 * run, run), scalable=True,
                 max_qty=np.where(cat.unit_hours[it], 24 * run, 3 * run))  # fmt: skip
        enc, it = self.pick(s, pools.cond_always[cond], 1.0)
        self.add(enc, it, 1, scalable=False, day=e.surgery_day[enc])
        # a stent stay's antiplatelets, ordered before the pools' drugs so that they stand
        pci = [k for k, pr in enumerate(pools.procs) if pr.proc.code == dx.P_PCI.code]
        self._antiplatelets(s[np.isin(e.proc[s], pci)])
        # every chronic condition listed on a stay is treated in it (医嘱续用): one of its maintenance drugs
        # is always continued, so a listed 心力衰竭 comes with its diuretic, β-blocker or ARNI as in a real
        # chart; ordered first so that it stands if another pool offers the same drug
        d = self.d
        sec = np.flatnonzero(e.kind[d.sec_enc] == INP)
        if len(sec):
            enc2, it2 = self.one_allowed(d.sec_enc[sec], pools.cond_drugs[self.sim.ch_cond[d.sec_ch[sec]]])
            self._drug_runs(enc2, it2, spread=1.0, oral_only=True, mandatory=True, scalable=False)
        # drugs: the condition's, the routine infusions, the maintenance drugs of listed chronic conditions
        enc, it = self.pick(s, pools.cond_drugs[cond], 0.9 * richer)
        self._drug_runs(enc, it, spread=0.7)
        enc, it = self.pick(s, np.full(len(s), self.pool("ip_drugs")), np.where(newborn, 0.3, 1.0) * richer)
        self._drug_runs(enc, it, spread=0.8)
        if len(sec):
            cond2 = self.sim.ch_cond[d.sec_ch[sec]]
            enc2, it2 = self.pick(d.sec_enc[sec], pools.cond_drugs[cond2], 0.3)
            self._drug_runs(enc2, it2, spread=1.0, oral_only=True)
        # consumables of the stay
        enc, it = self.pick(s, np.full(len(s), self.pool("stay_consumables")), 1.0)
        self.add(enc, it, 1 + (np.maximum(e.los[enc], 1) // 3), scalable=True, max_qty=2 * (1 + e.los[enc] // 3))
        self._surgery(s)
        # a stay ending in death: resuscitation on the last day
        dead = s[e.terminal[s]]
        cpr = self.item(CPR)
        if len(dead) and cpr >= 0:
            r = dead[rng.random(len(dead)) < 0.7]
            self.add(r, np.full(len(r), cpr), 1, scalable=False, day=np.maximum(e.los[r] - 1, 0))

    def _surgery(self, s: I64) -> None:
        """The procedure's fee, anaesthesia and consumables on the day of the operation; dressings after."""
        e, cat = self.e, self.cat
        rows = s[e.proc[s] >= 0]
        if not len(rows):
            return
        procs = cat.pools.procs
        pc = e.proc[rows]
        svc = np.array([pr.service for pr in procs])[pc]
        ana = np.array([pr.anaesthesia for pr in procs])[pc]
        code = np.array([pr.proc.code for pr in procs])[pc]
        chemo, radio, dial = code == dx.P_CHEMO.code, code == dx.P_RADIO.code, code == dx.P_DIALYSIS.code
        sday = e.surgery_day[rows]
        los = np.maximum(e.los[rows], 1)
        qty = np.where(radio, np.maximum(1, (los * 5) // 7), np.where(dial, np.maximum(1, los // 2), 1))
        m = ~chemo
        self.add(rows[m], svc[m], qty[m], scalable=False, day=sday[m], minute=60)
        m = ana >= 0
        self.add(rows[m], ana[m], 1, scalable=False, day=sday[m], minute=50)
        for k, pr in enumerate(procs):
            r = np.flatnonzero(pc == k)
            for item, cnt in pr.consumables:
                self.add(rows[r], np.full(len(r), item), cnt * np.where(dial[r], qty[r], 1), scalable=False,
                         day=sday[r], minute=70)  # fmt: skip
        surg = rows[~chemo & ~radio & ~dial]
        enc, it = self.pick(surg, np.full(len(surg), self.pool("surgical_extras")), 1.0)
        after = np.minimum(e.surgery_day[enc] + 1, np.maximum(e.los[enc] - 1, 0))
        self.add(enc, it, np.maximum(1, (e.los[enc] - e.surgery_day[enc]) // 2), scalable=True, day=after,
                 max_qty=e.los[enc] + 2)  # fmt: skip
        # chemotherapy: the cancer drugs are the course, given on the first days
        ch = rows[chemo]
        if len(ch):
            enc, it = self.pick(ch, cat.pools.cond_drugs[e.cond[ch]], 1.5)
            self._drug_runs(enc, it, spread=0.0, mandatory=True)

    def _antiplatelets(self, enc: I64) -> None:
        """A stent stay bills dual antiplatelet therapy on its last day (出院带药, :data:`DAPT`): aspirin and,
        where the condition's diagnoses allow ticagrelor (限急性冠脉综合征), ticagrelor for half the
        patients, else clopidogrel — so no clean stent is without an antiplatelet (R-STENT-02). Mandatory
        orders, placed before the pools' drugs (the first order of an item stands). The choice
        is a hash of person and day: it draws nothing from the random stream."""
        if not len(enc):
            return
        e, pools = self.e, self.cat.pools
        (asp_name, asp_packs, asp_days), (clo_name, p2_packs, p2_days), (tic_name, _, _) = DAPT
        asp, clo, tic = self.item(asp_name), self.item(clo_name), self.item(tic_name)
        # ticagrelor where the condition's drug pool offers it (its diagnoses meet the indication)
        offered = np.array([tic >= 0 and p >= 0 and tic in pools.items[pools.offsets[p]:pools.offsets[p + 1]]
                            for p in pools.cond_drugs], dtype=np.bool_)  # fmt: skip
        p2y12 = np.where(offered[e.cond[enc]] & (_mix(e.person[enc], e.day[enc], 41) < 0.5), tic, clo)
        last = np.maximum(np.maximum(e.los[enc], 1) - 1, e.surgery_day[enc])
        for item, packs, days in ((np.full(len(enc), asp), asp_packs, asp_days), (p2y12, p2_packs, p2_days)):
            ok = self.allowed(enc, item)
            self.add(enc[ok], item[ok], packs, scalable=False, day=last[ok], prd_days=days, mandatory=True)

    def _drug_runs(self, enc: I64, item: I64, *, spread: float, oral_only: bool = False, mandatory: bool = False,
                   scalable: bool = True) -> None:  # fmt: skip
        """Inpatient drugs: injections one line a day over a run of days, other forms one line (``scalable``
        False: the packages the run needs, never scaled away)."""
        if not len(enc):
            return
        e, cat, rng = self.e, self.cat, self.rng
        ok = self.allowed(enc, item) & np.isin(cat.list_type[np.maximum(item, 0)], (0, 1, 3))
        enc, item = enc[ok], item[ok]
        los = np.maximum(e.los[enc], 1)
        run = np.maximum(1, np.round(los * (spread + (1 - spread) * rng.random(len(enc))))).astype(np.int64)
        run = np.minimum(run, los)
        start = np.floor(rng.random(len(enc)) * (los - run + 1)).astype(np.int64)
        inj = cat.injectable[item] & (cat.list_type[item] == 0) & (not oral_only)
        o = ~inj
        maxd = cat.max_days[item[o]]
        days = np.where(maxd > 0, np.minimum(run[o], maxd), run[o])
        packs = np.maximum(1, np.ceil(days / cat.per_pack_days[item[o]])).astype(np.int64)
        self.add(enc[o], item[o], packs, scalable=scalable, day=start[o], prd_days=days, max_qty=packs + 1,
                 mandatory=mandatory)  # fmt: skip
        i = inj
        per_day = 1 + rng.binomial(2, 0.3, int(i.sum()))
        self.add(enc[i], item[i], per_day, scalable=True, day=start[i], days=run[i], prd_days=1, max_qty=np.where(self.dear[enc[i]], 6, 4), iv=True,
                 mandatory=mandatory)  # fmt: skip

    def _early_day(self, enc: I64) -> I64:
        los = np.maximum(self.e.los[enc], 1)
        return np.asarray(np.minimum(np.floor(self.rng.random(len(enc)) * 3).astype(np.int64), los - 1), dtype=np.int64)

    def visits(self, s: I64) -> None:
        """General outpatient, emergency and chronic visits."""
        e, rng, cat = self.e, self.rng, self.cat
        if not len(s):
            return
        pools = cat.pools
        lv = e.level[s]
        consult = np.full(len(s), -1, dtype=np.int64)
        for level, name in ((1, "consult1"), (2, "consult2"), (3, "consult3")):
            m = lv == level
            consult[m] = self.one_of(s[m], name)
        consult[e.med_type[s] == 13] = self.item(ER_CONSULT)
        consult = np.where(self.allowed(s, consult), consult, self.item("普通门诊诊察费"))
        self.add(s, consult, 1, scalable=False)
        reg = self.item(REGISTRATION)
        if reg >= 0:
            r = s[(lv >= 2) & (rng.random(len(s)) < 0.25)]
            self.add(r, np.full(len(r), reg), 1, scalable=False)
        cond = e.cond[s]
        chronic = e.kind[s] == CHR
        tier = np.clip(e.target[s] / 100.0 / 150.0, 0.3, 4.0)
        enc, it = self.pick(s, pools.cond_tests[cond], np.where(chronic, 0.5, 0.6) * tier)
        self.add(enc, it, 1, scalable=True, minute=10 + rng.integers(0, 30, len(enc)), max_qty=1)
        enc, it = self.pick(s, pools.cond_treat[cond], 0.35 * tier)
        self.add(enc, it, 1, scalable=True, minute=20 + rng.integers(0, 20, len(enc)), max_qty=2)
        # an infusion comes with its fluid and its set
        iv = enc[np.isin(it, self.infusions)]
        for name in ("0.9%氯化钠注射液", IV_SET):
            j = self.item(name)
            if j >= 0:
                self.add(iv, np.full(len(iv), j), 1, scalable=False, minute=20, prd_days=int(self.cat.list_type[j] == 0))
        enc, it = self.pick(s, pools.cond_always[cond], 1.0)
        self.add(enc, it, 1, scalable=False, minute=15)
        # drugs of the principal condition (about three candidates), and of the other listed chronic ones
        n_pool = np.where(pools.cond_drugs[cond] >= 0, pools.size(np.maximum(pools.cond_drugs[cond], 0)), 0)
        enc, it = self.pick(s, pools.cond_drugs[cond], np.where(n_pool > 0, (2.0 + tier) / np.maximum(n_pool, 1), 0.0))
        self._prescription(enc, it)
        d = self.d
        sec = np.flatnonzero(e.kind[d.sec_enc] == CHR)
        if len(sec):
            cond2 = self.sim.ch_cond[d.sec_ch[sec]]
            n2 = np.where(pools.cond_drugs[cond2] >= 0, pools.size(np.maximum(pools.cond_drugs[cond2], 0)), 0)
            enc3, it3 = self.pick(d.sec_enc[sec], pools.cond_drugs[cond2], np.where(n2 > 0, 1.2 / np.maximum(n2, 1), 0.0))
            self._prescription(enc3, it3)
        # TCM decoctions at 中医科: 6–10 herbs, 7 付 of 6–15 g each; the first is a principal herb (君药) — a real formula
        # is built on herbs that treat the complaint, the tonics paid only in a formula (黄芪, 党参, 甘草 …)
        # come as 臣佐使, so no clean decoction is made of them alone
        t = s[e.tcm[s]]
        if len(t):
            seg, pos = _segments(6 + rng.integers(0, 5, len(t)))
            herb = self.one_of(t[seg], "herbs")
            first = np.flatnonzero(pos == 0)
            lead = self.one_of(t[seg[first]], "principal_herbs")
            herb[first] = np.where(lead >= 0, lead, herb[first])
            key = np.unique(t[seg] * 100_000 + np.maximum(herb, 0))
            henc, hitem = key // 100_000, key % 100_000
            grams = (HERB_DOSE[0] + rng.integers(0, HERB_DOSE[1] - HERB_DOSE[0] + 1, len(henc))) * HERB_DAYS
            # dosed by the gram per 付, never scaled to the visit's cost (scaling only ever thinned a cheap
            # visit's decoction, down to a gram of one tonic herb)
            self.add(henc, hitem, grams, scalable=False, minute=35, prd_days=HERB_DAYS)

    def _prescription(self, enc: I64, item: I64) -> None:
        """Visit and pharmacy drugs: prd_days (acute 3–7, chronic 14–30, within the item's limit), packages."""
        cat, rng = self.cat, self.rng
        ok = self.allowed(enc, item)
        enc, item = enc[ok], item[ok]
        if not len(enc):
            return
        chronic = self.long_rx[enc]
        days = np.where(chronic, 14 + rng.integers(0, 17, len(enc)), 3 + rng.integers(0, 5, len(enc)))
        cap = np.where(chronic, 30, 14)
        cap = np.where(cat.max_days[item] > 0, np.minimum(cap, cat.max_days[item]), cap)
        days = np.minimum(days, cap)
        ppd = cat.per_pack_days[item]
        packs = np.maximum(1, np.ceil(days / ppd)).astype(np.int64)
        max_packs = np.maximum(np.maximum(np.where(chronic, 1, 2), np.floor(cap / ppd)).astype(np.int64), packs)
        is_drug = np.isin(cat.list_type[item], (0, 1))
        self.add(enc, item, packs, scalable=True, minute=-5, prd_days=np.where(is_drug, days, 0), max_qty=max_packs,
                 anchor=True)  # fmt: skip

    def pharmacy(self, s: I64) -> None:
        e, rng, cat = self.e, self.rng, self.cat
        if not len(s):
            return
        pools = cat.pools
        chronic = e.cond[s] >= 0
        cs = s[chronic]
        if len(cs):
            cond = e.cond[cs]
            n_pool = np.where(pools.cond_drugs[cond] >= 0, pools.size(np.maximum(pools.cond_drugs[cond], 0)), 0)
            want = 1.5 + np.clip(self.tier[cs], 0, 3)
            enc, it = self.pick(cs, pools.cond_drugs[cond], np.where(n_pool > 0, want / np.maximum(n_pool, 1), 0.0))
            self._prescription(enc, it)
        os_ = s[~chronic]
        if len(os_):
            seg, _ = _segments(1 + rng.binomial(4, 0.4, len(os_)))
            it = self.one_of(os_[seg], "otc")
            key = np.unique(os_[seg] * 100_000 + np.maximum(it, 0))
            self._prescription(key // 100_000, key % 100_000)
        # a purchase whose basket came out empty (nothing it may buy) gets one OTC item
        have = np.zeros(e.n, dtype=np.bool_)
        for part in self.parts:
            have[part["enc"]] = True
        empty = s[~have[s]]
        for _ in range(4):
            if not len(empty):
                break
            it = self.one_of(empty, "otc")
            ok = self.allowed(empty, it)
            self._prescription(empty[ok], it[ok])
            empty = empty[~ok]
        if len(empty):  # four draws did not fit (1 purchase in 65 million): one it may buy, evenly
            self._prescription(*self.one_allowed(empty, np.full(len(empty), self.pool("otc"))))

    # -- finishing ---------------------------------------------------------------------------
    def _staging_once(self, enc: I64, item: I64, orders: dict[str, npt.NDArray[Any]]) -> B:
        """False for the orders of a :data:`STAGING_SCANS` scan after the person's first in each half-year;
        an order of one is one scan (``orders`` qty and max_qty set to 1)."""
        keep = np.ones(len(enc), dtype=np.bool_)
        scans = [j for j in map(self.item, STAGING_SCANS) if j >= 0]
        rows = np.flatnonzero(np.isin(item, scans))
        if not len(rows):
            return keep
        orders["qty"][rows] = 1
        orders["max_qty"][rows] = 1
        e = self.e
        day = e.day[enc[rows]]
        key = (e.person[enc[rows]] * 2 + (day >= self.sim.p.ndays // 2)) * self.n_items + item[rows]
        o = np.lexsort((rows, day, key))
        later = np.concatenate([[False], key[o][1:] == key[o][:-1]])
        keep[rows[o[later]]] = False
        return keep

    def finish(self) -> _Lines:
        e, cat, rng = self.e, self.cat, self.rng
        if not self.parts:
            z = np.zeros(0, dtype=np.int64)
            return _Lines(z, z, z, z, z, z, z)
        o = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        self.parts = []
        enc_all, item_all = o["enc"], o["item"]
        ok = (item_all >= 0) & (o["qty"] > 0) & (o["days"] > 0)
        ok[ok] = self.allowed(enc_all[ok], item_all[ok])
        ok &= self._staging_once(enc_all, item_all, o)
        idx = np.flatnonzero(ok)
        # one order per item and encounter (two pools may offer the same item): the first one stands
        _, first = np.unique(enc_all[idx].astype(np.int64) * len(cat.lv) + item_all[idx], return_index=True)
        idx = idx[np.sort(first)]
        enc, item = enc_all[idx], item_all[idx]
        pric = self._prices(enc, item)
        amount = pric * (o["qty"][idx] * o["days"][idx]) / 1e4  # fen at the base quantity (pric 1e-6 yuan)
        # one anchor per encounter (its first prescription) is mandatory and keeps at least one package
        anchor_o = o["anchor"][idx]
        first_anchor = np.zeros(len(idx), dtype=np.bool_)
        a_rows = np.flatnonzero(anchor_o)
        if len(a_rows):
            _, first = np.unique(enc[a_rows], return_index=True)
            first_anchor[a_rows[first]] = True
        mandatory = o["mandatory"][idx] | first_anchor
        # keep optional orders, in random order, while the encounter stays below FILL × its target
        base = np.bincount(enc, weights=np.where(mandatory, amount, 0.0), minlength=e.n)
        opt = np.flatnonzero(~mandatory)
        keep = mandatory.copy()
        if len(opt):
            so = opt[_lexsort((rng.random(len(opt)), enc[opt]))]
            es = enc[so]
            first_of = np.concatenate([[True], es[1:] != es[:-1]])
            start_of = np.maximum.accumulate(np.where(first_of, np.arange(len(so)), 0))
            cum = np.cumsum(amount[so])
            before = cum - amount[so] - (cum[start_of] - amount[so][start_of])
            keep_opt = base[es] + before < self.FILL * e.target[es]
            # at most MAX_VISIT_DRUGS prescriptions per visit or purchase (the anchor is one of them)
            visit_drug = (e.kind[es] != INP) & anchor_o[so] & keep_opt
            vd = np.cumsum(visit_drug)
            vd_before = vd - visit_drug - (vd[start_of] - visit_drug[start_of])
            most = np.where(e.kind[es] == CHR, self.MAX_CHRONIC_DRUGS, self.MAX_VISIT_DRUGS)
            keep_opt &= ~visit_drug | (vd_before < most - 1)
            keep[so] = keep_opt
        idx, pric, anchor = idx[keep], pric[keep], first_anchor[keep]
        # expand injection runs into one line a day; add the infusion and its set on every infusion day
        seg, pos = _segments(o["days"][idx])
        src = idx[seg]
        enc, item = enc_all[src], item_all[src]
        day = o["day"][src] + pos
        pric, anchor = pric[seg], anchor[seg] & (pos == 0)
        base_q, scal, max_qty = o["qty"][src], o["scalable"][src], o["max_qty"][src]
        minute, prd_days = o["minute"][src], o["prd_days"][src]
        iv = o["iv"][src]
        if iv.any():
            key = np.unique(enc[iv].astype(np.int64) * 1024 + day[iv])
            ienc, iday = (key // 1024).astype(np.int32), (key % 1024).astype(np.int32)
            n = len(ienc)
            for name in (IV_SERVICE, IV_SET):
                j = self.item(name)
                if j < 0:
                    continue
                jj = np.full(n, j, dtype=np.int32)
                enc, item, day = np.concatenate([enc, ienc]), np.concatenate([item, jj]), np.concatenate([day, iday])
                pric = np.concatenate([pric, self._prices(ienc, jj)])
                anchor = np.concatenate([anchor, np.zeros(n, dtype=np.bool_)])
                base_q = np.concatenate([base_q, np.ones(n, dtype=np.int32)])
                scal = np.concatenate([scal, np.zeros(n, dtype=np.bool_)])
                max_qty = np.concatenate([max_qty, np.zeros(n, dtype=np.int32)])
                minute = np.concatenate([minute, np.zeros(n, dtype=np.int32)])
                prd_days = np.concatenate([prd_days, np.zeros(n, dtype=np.int32)])
        unit = pric / 1e4  # fen per unit
        qty = self._scale(enc, unit, base_q, scal, max_qty, anchor)
        # every encounter keeps at least one line
        has = np.bincount(enc[qty > 0], minlength=e.n) > 0
        if not has.all():
            order = np.argsort(enc, kind="stable")
            firsts = order[np.concatenate([[True], enc[order][1:] != enc[order][:-1]])]
            lonely = firsts[~has[enc[firsts]]]
            qty[lonely] = np.maximum(qty[lonely], 1)
        sel = np.flatnonzero(qty > 0)
        enc, q, it = enc[sel], qty[sel], item[sel]
        ek = e.kind[enc]
        # days of supply follow the scaled packages (never beyond the item's limit or the kind's cap)
        prd = prd_days[sel]
        visit_drug = (ek != INP) & (prd > 0) & (cat.list_type[it] == 0)
        cap = np.where(self.long_rx[enc], 30, 14)
        cap = np.where(cat.max_days[it] > 0, np.minimum(cap, cat.max_days[it]), cap)
        supplied = np.ceil(q * cat.per_pack_days[it]).astype(np.int64)
        prd = np.where(visit_drug, np.clip(np.maximum(prd, np.minimum(supplied, cap)), 1, cap), prd)
        return _Lines(enc, it, q, day[sel], minute[sel], prd, pric[sel])

    def _scale(self, enc: I64, unit: F64, base_q: I64, scal: B, max_qty: I64, anchor: B) -> I64:
        """Scaled whole quantities: each encounter's total meets its target, then every cell's mean does.

        The scalable lines of an encounter get the factor (target − fixed) / variable; rounding is
        unbiased (floor(x + u)); quantities stay within each line's [minimum, maximum]. What the bounds
        cut off is given back per cell, by scaling the variable targets of the cell until its realised
        total meets its target (a few rounds).
        """
        e, rng = self.e, self.rng
        fixed = np.bincount(enc, weights=np.where(scal, 0.0, unit * base_q), minlength=e.n)
        sc = np.flatnonzero(scal)
        enc_s, unit_s, base_s = enc[sc], unit[sc], base_q[sc].astype(np.float64)
        var = np.bincount(enc_s, weights=unit_s * base_s, minlength=e.n)
        u = rng.random(len(sc))
        mq = max_qty[sc]
        max_s = np.where(mq > 0, mq, np.maximum(base_q[sc] * 20, 20)).astype(np.float64)
        # cheap items (under CHEAP_YUAN a unit: fluids, syringes, simple tests) are not multiplied to reach a
        # cost — a dear stay gets more of its dear items, not ten bottles of saline a day
        max_s = np.where(unit_s < CHEAP_YUAN * 100, np.minimum(max_s, base_s), max_s)
        min_s = anchor[sc].astype(np.float64)
        n_cells = int(e.cell.max()) + 1
        cell_target = np.bincount(e.cell, weights=e.target, minlength=n_cells)
        cell_fixed = np.bincount(e.cell, weights=fixed, minlength=n_cells)
        want = np.maximum(e.target - fixed, 0.0)
        q_s = base_s
        for _ in range(10):
            f = np.where(var > 0, want / np.maximum(var, 1e-9), 0.0)
            q_s = np.clip(np.floor(base_s * f[enc_s] + u), min_s, max_s)
            realised = np.bincount(enc_s, weights=unit_s * q_s, minlength=e.n)
            got = np.bincount(e.cell, weights=realised, minlength=n_cells)
            need = cell_target - cell_fixed
            ratio = np.where((got > 0) & (need > 0), need / np.maximum(got, 1e-9), 1.0)
            total = got + cell_fixed
            if np.all(np.abs(total[cell_target > 0] / cell_target[cell_target > 0] - 1) < 0.0005):
                break
            want *= ratio[e.cell]
        qty = base_q.astype(np.int64)
        qty[sc] = q_s.astype(np.int64)
        return qty

    def _prices(self, enc: npt.NDArray[Any], item: npt.NDArray[Any]) -> I64:
        """Unit price (1e-6 yuan, whole fen) of each line: a lookup in the institution × item table."""
        return np.asarray(self.price_table[self.e.inst[enc] * self.n_items + item], dtype=np.int64)

    def _price_table(self) -> I64:
        """Every institution's price of every item: the cap at its level, up to 5 % below for 30 % of the
        (institution, item) pairs (a hashed constant); uncapped items at the reference price, pharmacies
        up to 12 % above it (never above a cap)."""
        cat, reg = self.cat, self.sim.reg
        n_inst = len(reg.level)
        inst = np.repeat(np.arange(n_inst, dtype=np.int64), self.n_items)
        item = np.tile(np.arange(self.n_items, dtype=np.int64), n_inst)
        pharmacy = reg.pharmacy[inst]
        lv = np.where(pharmacy, 1, reg.level[inst])
        cap = cat.cap[lv, item]
        any_cap = np.max(cat.cap[1:, item], axis=0)
        u = _mix(inst, item, 17)
        discount = np.where(u < 0.7, 0.0, (u - 0.7) / 0.3 * 0.05)
        markup = _mix(inst, item, 23) * 0.12
        ref = cat.ref_price[item].astype(np.float64)
        usual = np.where(cap >= 0, cap, np.where(pharmacy & (any_cap >= 0), any_cap, ref)).astype(np.float64)
        price = np.where(pharmacy & (cap < 0) & (any_cap < 0), ref * (1 + markup), usual * (1 - discount))
        ceiling = np.where(cap >= 0, cap, np.where(any_cap >= 0, any_cap, np.iinfo(np.int64).max)).astype(np.float64)
        price = np.minimum(price, ceiling)
        return np.maximum(1, np.floor(price / 10_000)).astype(np.int64) * 10_000


# =============================================================================================
# The five tables
# =============================================================================================


def _empty_tables() -> dict[str, pl.DataFrame]:
    return {name: pl.DataFrame(schema=polars_schema(TABLES[name])) for name in CARE_TABLES}


def _principal_rows(code_row: I64, z_chemo: B, z_radio: B, n_book: int) -> I64:
    """Each encounter's principal diagnosis as a row of the code book, then Z51 chemotherapy (n_book),
    Z51 radiotherapy (n_book + 1) and none (n_book + 2)."""
    principal = np.where(code_row >= 0, code_row, n_book + 2)
    return np.where(z_chemo, n_book, np.where(z_radio, n_book + 1, principal))


def _assemble(sim: _Simulation, e: _Enc, d: _Diag, o: _Oprn, lines: _Lines) -> dict[str, pl.DataFrame]:
    p, reg, c, rng = sim.p, sim.reg, sim.cond, sim.rng
    chunk = sim.chunk
    # encounter order: by begin time, then person; ids follow that order
    order = _lexsort((e.person, e.begin))
    rank = np.empty(e.n, dtype=np.int64)
    rank[order] = np.arange(e.n, dtype=np.int64) + sim.counters.encounters
    sim.counters.encounters += e.n
    mdtrt_id = _numbered(f"M{chunk:04d}", rank, 8)
    # departments and doctors: the condition's 科别; children's medicine at 儿科 and adults' at 内科 (a
    # fever is 儿科's under 14, 内科's from 14), emergencies at 急诊医学科, TCM at 中医科
    names = [*c.caty, codes.PAEDIATRICS, "A20", "A50", "A03"]
    n_c = len(c.caty)
    internal = np.array([k.startswith("A03") for k in c.caty])
    paediatric = np.array([k.startswith(codes.PAEDIATRICS) for k in c.caty])
    cond = e.cond.clip(0)
    child = sim.p.age[e.person] < 14
    wanted = np.where(child & internal[cond], n_c, np.where(~child & paediatric[cond], n_c + 3, cond))
    wanted = np.where(e.med_type == 13, n_c + 1, wanted)
    wanted = np.where(e.tcm, n_c + 2, wanted)
    dept = reg.departments(e.inst, wanted, names, rng.random(e.n), bedded=e.kind == INP)
    ph = e.kind == PHA
    dept = np.where(ph, reg.pharmacy_dept[e.inst], dept)
    doctor = reg.doctors(e.inst, dept, rng.random(e.n))
    doctor = np.where(ph, reg.pharmacists(e.inst, rng.random(e.n)), doctor)
    dept_codes = _take(reg.dept_code, dept)
    # principal diagnosis per encounter (Z51 for chemotherapy / radiotherapy courses): rows of the code book
    n_book = c.book_code.len()
    book_code = pl.concat([c.book_code, pl.Series([c.z51[0], c.z51_radio[0], ""], dtype=pl.String)], rechunk=True)
    book_name = pl.concat([c.book_name, pl.Series([c.z51[1], c.z51_radio[1], ""], dtype=pl.String)], rechunk=True)
    principal = _principal_rows(d.code_row, d.z_chemo, d.z_radio, n_book)
    # beds: the chunk's ward of the department; numbered so that no bed holds two patients at once
    adm_bed = _beds(sim, e, dept)
    inp = e.kind == INP
    u = rng.random(e.n)
    way = np.select([e.terminal, u < 0.93, u < 0.955, u < 0.975, u < 0.99], [5, 1, 2, 4, 3], 9)
    way = np.where(inp, way, 0)
    med_types = sorted(set(e.med_type.tolist()))
    mt_index = np.searchsorted(np.array(med_types), e.med_type)
    # the rows in id order, gathered so (not built in encounter order and sorted: 0.03 CPU-s a chunk)
    mdtrt = pl.DataFrame({
        "mdtrt_id": _take(mdtrt_id, order, rank),
        "psn_no": _take(p.psn_no, e.person[order]),
        "fixmedins_code": _take(reg.code, e.inst[order]),
        "med_type": _take(pl.Series([str(m) for m in med_types], dtype=pl.String), mt_index[order]),
        "begntime": _datetimes(e.begin[order]),
        "endtime": _datetimes(e.end[order]),
        "dscg_maindiag_code": _take(book_code, principal[order]),
        "dscg_maindiag_name": _take(book_name, principal[order]),
        "dept_codg": _take(dept_codes, order),
        "atddr_no": _take(reg.staff_code, doctor[order]),
        "insutype": _take(pl.Series(INSUTYPE, dtype=pl.String), e.scheme[order]),
        "adm_bed": _take(adm_bed, order),
        "dscg_way": _take(pl.Series(["", "1", "2", "3", "4", "5", "", "", "", "9"], dtype=pl.String), way[order]),
    })  # fmt: skip
    diag = _diagnosis_rows(sim, e, d, mdtrt_id, rank, principal, book_code, book_name)
    # procedures
    oprn = _procedure_rows(sim, e, mdtrt_id, rank, lines)
    # fee lines in encounter order, then day and minute
    fee, trace = _fee_tables(sim, e, lines, mdtrt_id, rank, dept_codes, _orderers(sim, e, lines, dept, doctor))
    return {"mdtrt_d": mdtrt, "setl_list_diag_d": diag, "setl_list_oprn_d": oprn, "fee_list_d": fee, "drug_trac_d": trace}


def _diagnosis_rows(sim: _Simulation, e: _Enc, d: _Diag, mdtrt_id: pl.Series, rank: I64, principal: I64,
                    book_code: pl.Series, book_name: pl.Series) -> pl.DataFrame:  # fmt: skip
    """setl_list_diag_d: per encounter in id order its principal diagnosis, then (Z51) the cancer treated,
    the secondary chronic conditions and the comorbidities; a code listed twice for one encounter only once.

    The rows are ordered and deduplicated on integers (a diagnosis is a row of ``book_code`` followed by
    the comorbidities' codes, equal codes sharing one number), then the strings gathered once: measured on a
    chunk of 25,000 persons, 0.03 CPU-s instead of about 0.10 with Polars' sort and unique over the strings.
    """
    c = sim.cond
    codes_all = pl.concat([book_code, c.como_code], rechunk=True)
    names_all = pl.concat([book_name, c.como_name], rechunk=True)
    first_of: dict[str | None, int] = {}
    code_no = np.array([first_of.setdefault(code, k) for k, code in enumerate(codes_all.to_list())], dtype=np.int64)
    como = book_code.len()
    # principal, then (Z51) the cancer right after, then secondary chronic conditions, then comorbidities
    has_dx = np.flatnonzero(d.code_row >= 0)
    z = np.flatnonzero(d.z_chemo | d.z_radio)
    enc = np.concatenate([has_dx, z, d.sec_enc, d.como_enc]).astype(np.int64)
    kind = np.repeat(np.arange(4, dtype=np.int64), [len(has_dx), len(z), len(d.sec_enc), len(d.como_enc)])
    row = np.concatenate([principal[has_dx], d.code_row[z], sim.ch_code[d.sec_ch], como + d.como]).astype(np.int64)
    order = _lexsort((kind, rank[enc]))
    _, first = np.unique(rank[enc[order]] * len(code_no) + code_no[row[order]], return_index=True)
    keep = order[np.sort(first)]
    return pl.DataFrame({
        "mdtrt_id": _take(mdtrt_id, enc[keep], rank),
        "diag_type": _take(pl.Series(["1"], dtype=pl.String), np.zeros(len(keep), dtype=np.int64)),
        "maindiag_flag": _take(pl.Series(["0", "1"], dtype=pl.String), (kind[keep] == 0).astype(np.int64)),
        "diag_code": _take(codes_all, row[keep]),
        "diag_name": _take(names_all, row[keep]),
    })  # fmt: skip


def _orderers(sim: _Simulation, e: _Enc, ln: _Lines, dept: I64, doctor: I64) -> I64:
    """The doctor (staff index) who orders each line: the encounter's, except that a line of an item only
    some departments may order, in an encounter of another department, is ordered by a doctor of an
    allowed one (会诊; see :class:`_Restricted`)."""
    r = sim.restricted
    out = doctor[ln.enc]
    g = r.group[ln.item]
    rows = np.flatnonzero((g >= 0) & (e.kind[ln.enc] != PHA))
    if len(rows):
        rows = rows[~r.dept_ok[dept[ln.enc[rows]], g[rows]]]
    if len(rows):
        none = sim.reg.staff_code.len() - 1
        consult = r.consultants(e.inst[ln.enc[rows]], g[rows], sim.rng.random(len(rows)), none)
        out[rows] = np.where(consult == none, out[rows], consult)
    return out


def _beds(sim: _Simulation, e: _Enc, dept: I64) -> pl.Series:
    """Bed numbers ``B<chunk><batch>-<bed>`` of the batch's ward of each department, never two at once.

    Stays are given beds in admission order, round the ward's beds (the department's bed_cnt, at least
    4); a stay whose bed is still taken (its previous occupant leaves later) gets an extra bed (加床)
    numbered above the ward's beds instead.
    """
    reg = sim.reg
    inp = np.flatnonzero(e.kind == INP)
    if not len(inp):
        return _numbered("", np.zeros(e.n, dtype=np.int64), 1, present=np.zeros(e.n, dtype=np.bool_))
    dp = dept[inp]
    start, end = e.day[inp], e.day[inp] + e.los[inp]
    order = np.lexsort((start, dp))
    dp_s, st_s, en_s = dp[order], start[order], end[order]
    first = np.concatenate([[True], dp_s[1:] != dp_s[:-1]])
    rank_in = np.arange(len(dp_s)) - np.maximum.accumulate(np.where(first, np.arange(len(dp_s)), 0))
    capacity = np.maximum(np.concatenate([reg.dept_beds, [0]])[dp_s], 4)
    bed = rank_in % capacity
    key = dp_s * 100_000 + bed
    o2 = np.lexsort((st_s, key))
    k2, s2, e2 = key[o2], st_s[o2], en_s[o2]
    new_bed = np.concatenate([[True], k2[1:] != k2[:-1]])
    seg_max = _segment_running_max(e2, np.cumsum(new_bed))
    clash = ~new_bed & (s2 < np.concatenate([[0], seg_max[:-1]]))
    final = bed[o2].copy()
    final[clash] = capacity[o2][clash] + np.cumsum(clash)[clash]
    bed_no = np.empty(len(o2), dtype=np.int64)
    bed_no[o2] = final
    numbers = np.zeros(e.n, dtype=np.int64)
    numbers[inp[order]] = bed_no + 1
    present = np.zeros(e.n, dtype=np.bool_)
    present[inp] = True
    return _numbered(f"B{sim.chunk:04d}{sim.counters.batch:02d}-", numbers, 5, present=present)


def _inside_stays(e: _Enc, person: I64, day: I64) -> B:
    """Whether each (person, day) falls inside one of the person's stays (admission to discharge day)."""
    inp = np.flatnonzero(e.kind == INP)
    if not len(inp):
        return np.zeros(len(day), dtype=np.bool_)
    key = e.person[inp] * 1024 + e.day[inp]
    order = np.argsort(key, kind="stable")
    skey, send = key[order], (e.day[inp] + e.los[inp])[order]
    pos = np.searchsorted(skey, person * 1024 + day, side="right") - 1
    same = (pos >= 0) & (skey[np.maximum(pos, 0)] // 1024 == person)
    return np.asarray(same & (send[np.maximum(pos, 0)] >= day), dtype=np.bool_)


def _segment_running_max(values: I64, group: I64) -> I64:
    """Running maximum of ``values`` restarting at every new ``group`` id (contiguous, increasing)."""
    if not len(values):
        return values
    big = int(values.max() - values.min()) + 1
    shifted = (values - values.min()) + group * big
    return np.asarray(np.maximum.accumulate(shifted) - group * big + values.min(), dtype=np.int64)


def _procedure_rows(sim: _Simulation, e: _Enc, mdtrt_id: pl.Series, rank: I64, lines: _Lines) -> pl.DataFrame:
    procs = sim.cat.pools.procs
    rows = np.flatnonzero(e.proc >= 0)
    # a stay with ventilation lines gets the ventilation procedure too
    vent_item = sim.cat.names.get(dx.P_VENTILATION.service, -1)
    vent_proc = sim.cat.pools.index.get("proc:ventilation", -1)
    ventilated = np.unique(lines.enc[lines.item == vent_item]) if vent_item >= 0 and vent_proc >= 0 else np.zeros(0, dtype=np.int64)
    ventilated = ventilated[e.kind[ventilated] == INP]
    enc_l, code_l, name_l, main_l, day_l = [], [], [], [], []
    if len(rows):
        pc = e.proc[rows]
        enc_l.append(rows)
        code_l.append(np.array([pr.proc.code for pr in procs], dtype=object)[pc])
        name_l.append(np.array([pr.name for pr in procs], dtype=object)[pc])
        main_l.append(np.full(len(rows), "1", dtype=object))
        day_l.append(e.surgery_day[rows])
        for k, pr in enumerate(procs):
            m = rows[pc == k]
            for code, name in pr.secondary:
                enc_l.append(m)
                code_l.append(np.full(len(m), code, dtype=object))
                name_l.append(np.full(len(m), name, dtype=object))
                main_l.append(np.full(len(m), "0", dtype=object))
                day_l.append(e.surgery_day[m])
    if len(ventilated):
        vp = procs[vent_proc]
        has_main = e.proc[ventilated] >= 0
        enc_l.append(ventilated)
        code_l.append(np.full(len(ventilated), vp.proc.code, dtype=object))
        name_l.append(np.full(len(ventilated), vp.name, dtype=object))
        main_l.append(np.where(has_main, "0", "1").astype(object))
        day_l.append(np.zeros(len(ventilated), dtype=np.int64))
    if not enc_l:
        return pl.DataFrame(schema=polars_schema(TABLES["setl_list_oprn_d"]))
    enc = np.concatenate(enc_l)
    days = sim.p.year_start + e.day[enc] + np.concatenate(day_l)
    frame = pl.DataFrame({
        "_rank": rank[enc], "_main": np.concatenate(main_l).astype(str),
        "mdtrt_id": _take(mdtrt_id, enc, rank),
        "oprn_code": pl.Series(np.concatenate(code_l).astype(str), dtype=pl.String),
        "oprn_name": pl.Series(np.concatenate(name_l).astype(str), dtype=pl.String),
        "main_oprn_flag": pl.Series(np.concatenate(main_l).astype(str), dtype=pl.String),
        "oprn_date": pl.Series(days.astype(np.int32)).cast(pl.Date),
    })  # fmt: skip
    return frame.sort(["_rank", "_main"], descending=[False, True]).select(TABLES["setl_list_oprn_d"].names)


def _fee_tables(sim: _Simulation, e: _Enc, ln: _Lines, mdtrt_id: pl.Series, rank: I64, dept_codes: pl.Series,
                orderer: I64) -> tuple[pl.DataFrame, pl.DataFrame]:  # fmt: skip
    cat, rng, chunk = sim.cat, sim.rng, sim.chunk
    n = len(ln.enc)
    kind, begin, end = e.kind[ln.enc], e.begin[ln.enc], e.end[ln.enc]
    inp = kind == INP
    # the time of every line: inpatient lines on their day (08:00–20:00, after admission, before discharge)
    day_start = (sim.p.year_start + e.day[ln.enc] + ln.day) * 86400
    t_inp = day_start + 8 * 3600 + np.floor(rng.random(n) * 12 * 3600).astype(np.int64)
    # on the admission day within two hours of admission, each line posted at its own second (two charges
    # of one stay seldom share an instant by chance: a same-time pair is then a real double charge)
    t_inp = np.where(ln.day == 0, begin + np.floor(rng.random(n) * 7200).astype(np.int64) + 300, t_inp)
    t_inp = np.clip(t_inp, begin, end - 60)
    t_vis = np.where(ln.minute < 0, end - 60 * np.floor(rng.random(n) * 3).astype(np.int64), begin + ln.minute * 60)
    t_vis = np.clip(t_vis, begin, end)
    t_vis = np.where(kind == PHA, begin, t_vis)
    when = np.where(inp, t_inp, t_vis)
    year_seconds = (when - sim.p.year_start * 86400).clip(0, 400 * 86400)
    order = _argsort_stable((rank[ln.enc] * (400 * 86400) + year_seconds) * 1024 + ln.item)
    enc, item, qty, when = (np.take(a, order) for a in (ln.enc, ln.item, ln.qty, when))
    pric, prd, day, orderer, inp = (np.take(a, order) for a in (ln.pric, ln.prd_days, ln.day, orderer, inp))
    cnt = qty * 10_000
    # det_item_fee_sumamt = round_div(pric × cnt, 10**8): half-up on non-negative integers
    amount = (2 * pric * cnt + 10**8) // (2 * 10**8)
    feedetl = _numbered(f"F{chunk:04d}", np.arange(n, dtype=np.int64) + sim.counters.lines, 10)
    sim.counters.lines += n
    lt = cat.list_type[item]
    is_rx = (lt == 0) | (lt == 1)  # drugs and herbs
    rx_day = np.where(inp, day, np.where(lt == 1, 2, 1))
    rx_num = rank[enc] * 1000 + rx_day
    rxno = _numbered(f"R{chunk:04d}", rx_num, 11, present=is_rx)
    fee = pl.DataFrame({
        "feedetl_sn": feedetl,
        "mdtrt_id": _take(mdtrt_id, enc, rank),
        "psn_no": _take(sim.p.psn_no, e.person[enc]),
        "fixmedins_code": _take(sim.reg.code, e.inst[enc]),
        "med_list_codg": _take(cat.code, item),
        "med_chrgitm_type": _take(cat.chrgitm, item),
        "fee_ocur_time": _datetimes(when),
        "cnt": _int64(cnt),
        "pric": _int64(pric),
        "det_item_fee_sumamt": _int64(amount),
        "bilg_dr_codg": _take(sim.reg.staff_code, orderer),
        "bilg_dept_codg": _take(dept_codes, enc),
        "rxno": rxno,
        "prd_days": _int64(np.where(is_rx, prd, 0)),
    })  # fmt: skip
    # traceability codes: one per package on every drug line (西药中成药)
    drug = np.flatnonzero(lt == 0)
    packages = qty[drug]
    seg, pos = _segments(packages)
    line = drug[seg]
    prefix = cat.prefix[item[line]]
    # the serial runs per prefix (two items may share one): rank of each code among its prefix's, in line
    # order. A line's codes are consecutive, so it is the codes of the prefix on earlier lines + the package:
    # counted per line, not per code (measured on a chunk's 1.26 million codes: 0.05 → 0.035 CPU-s)
    _, group = np.unique(cat.prefix, return_inverse=True)
    g = group[item[drug]].astype(np.int16)
    o = np.argsort(g, kind="stable")  # a radix sort: lines keep their order inside a prefix
    counts = np.bincount(g, weights=packages, minlength=int(group.max()) + 1 if len(group) else 0).astype(np.int64)
    before = np.cumsum(packages[o]) - packages[o]  # codes on the lines before, over all prefixes
    first = np.empty(len(o), dtype=np.int64)
    first[o] = before - np.repeat(np.cumsum(counts) - counts, np.bincount(g, minlength=len(counts)))
    assert sim.counters.serials is not None
    seq = (first + sim.counters.serials[g])[seg] + pos
    sim.counters.serials[: len(counts)] += counts
    if len(seq) and int(seq.max()) >= 10**6:
        raise ValueError("more than a million packages of one product in one chunk: use smaller chunks")
    serials = serial(chunk, 0) + seq if len(seq) else seq
    codes_s = trace_codes(prefix, serials)
    trace = pl.DataFrame({
        "drug_trac_codg": codes_s,
        "feedetl_sn": _take(feedetl, line),
        "mdtrt_id": _take(mdtrt_id, enc[line], rank),
        "med_list_codg": _take(cat.code, item[line]),
        "fixmedins_code": _take(sim.reg.code, e.inst[enc[line]]),
        "sel_time": _datetimes(when[line]),
        "retn_flag": _take(pl.Series(["0"], dtype=pl.String), np.zeros(len(line), dtype=np.int64)),
    })  # fmt: skip
    return fee, trace
