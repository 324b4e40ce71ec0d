"""The catalogue's immutable core types: an item, its payment restrictions, the catalogue itself.

A catalogue item is one national code (``med_list_codg``) in force over a date range. Its class
(``chrgitm_lv``: 01 甲 / 02 乙 / 03 丙), its 先行自付 share and its price caps decide the per-line split of
settlement; its restrictions (限定支付范围) decide whether the line is payable at all.

>>> from datetime import date
>>> r = Restriction(gend="2")
>>> r.violation(LineContext(gend="1", age=30, hosp_lv="3", visit="inpatient"))
'限女性 (patient gend 1)'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from yibao.money import ZERO_RATIO, Ratio

VISIT_KINDS = frozenset({"outpatient", "chronic", "inpatient", "pharmacy", "ltc"})
"""Benefit visit kinds; ``yibao.codes.visit_kind`` maps a national med_type to one of these."""

LIST_TYPES = frozenset({"drug", "herb", "service", "consumable"})
"""drug = 西药中成药 (hilist_type 101), herb = 中药饮片 (102), service = 医疗服务项目 (201), consumable = 医用耗材 (301)."""

HOSP_LEVELS = ("1", "2", "3")
"""Coarse hospital levels used by policy and catalogue: 3 三级, 2 二级, 1 一级及以下 (含未定级)."""


class LineContext(NamedTuple):
    """What a restriction is checked against: the patient and the encounter of one fee line.

    Attributes:
        gend: national gend code of the patient (1 男, 2 女).
        age: age in whole years on the day of service.
        hosp_lv: coarse hospital level "3" / "2" / "1".
        visit: benefit visit kind (outpatient, chronic, inpatient, pharmacy, ltc).
        diagnoses: ICD-10 医保版 codes of the encounter, principal first.
        days_supply: days of medication dispensed on this line (prd_days), when known.
    """

    gend: str
    age: int
    hosp_lv: str
    visit: str
    diagnoses: tuple[str, ...] = ()
    days_supply: int | None = None


@dataclass(frozen=True, slots=True)
class Restriction:
    """限定支付范围 of a catalogue item; every unset attribute means "no restriction".

    Attributes:
        gend: "1" 限男性 or "2" 限女性.
        age_min / age_max: payable only for ages in [age_min, age_max] (whole years, inclusive).
        hosp_lv_min: payable only at this coarse level or above ("2" = 限二级及以上医疗机构).
        visits: payable only for these visit kinds (e.g. {"inpatient"} = 限住院).
        indications: payable only when a diagnosis starts with one of these ICD-10 prefixes (限…患者).
        max_days_supply: at most this many days of medication per line.
        text: the restriction as the catalogue states it (限定支付范围原文), for the reviewer.
    """

    gend: str | None = None
    age_min: int | None = None
    age_max: int | None = None
    hosp_lv_min: str | None = None
    visits: frozenset[str] = frozenset()
    indications: tuple[str, ...] = ()
    max_days_supply: int | None = None
    text: str = ""

    @property
    def is_empty(self) -> bool:
        return self == _NO_RESTRICTION

    def violation(self, ctx: LineContext) -> str | None:
        """The first restriction ``ctx`` breaks, as a short reason, or None when the line is payable."""
        if self.gend is not None and ctx.gend != self.gend:
            return f"限{'男' if self.gend == '1' else '女'}性 (patient gend {ctx.gend})"
        if self.age_min is not None and ctx.age < self.age_min:
            return f"限{self.age_min}岁及以上 (patient age {ctx.age})"
        if self.age_max is not None and ctx.age > self.age_max:
            return f"限{self.age_max}岁及以下 (patient age {ctx.age})"
        if self.hosp_lv_min is not None and ctx.hosp_lv < self.hosp_lv_min:
            return f"限{_LEVEL_NAMES[self.hosp_lv_min]}及以上医疗机构 (hospital level {ctx.hosp_lv})"
        if self.visits and ctx.visit not in self.visits:
            return f"限{'/'.join(sorted(self.visits))} (visit {ctx.visit})"
        if self.indications and not any(d.startswith(self.indications) for d in ctx.diagnoses):
            return f"限{'/'.join(self.indications)} 适应症 (diagnoses {', '.join(ctx.diagnoses) or 'none'})"
        if (
            self.max_days_supply is not None
            and ctx.days_supply is not None
            and ctx.days_supply > self.max_days_supply
        ):
            return f"限{self.max_days_supply}天用量 (dispensed {ctx.days_supply} days)"
        return None


NO_RESTRICTION = Restriction()
"""The shared "no restriction" value: loaders use this one instance, so the engine tests identity."""
_NO_RESTRICTION = NO_RESTRICTION
_LEVEL_NAMES = {"1": "一级", "2": "二级", "3": "三级"}


@dataclass(frozen=True)
class LineColumns:
    """:class:`LineContext` of many lines, as columns (one array per field; days of supply −1 for none)."""

    gend: np.ndarray[Any, Any]
    age: np.ndarray[Any, Any]
    hosp_lv: np.ndarray[Any, Any]
    visit: np.ndarray[Any, Any]
    diagnoses: list[tuple[str, ...]]
    days: np.ndarray[Any, Any]  # days of supply, −1 for none


def violated(
    restrictions: Sequence[Restriction], rid: np.ndarray[Any, Any], line: LineColumns
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Per line: whether it breaks its restriction ``restrictions[rid]`` — what :meth:`Restriction.violation`
    decides line by line (not None), for a batch replay's many lines: one NumPy test per kind of limit
    over all lines; only indications (a diagnosis prefix) are tested in Python, once per distinct
    restriction and diagnoses. The two must change together (a property test holds them equal)."""
    big = 2**62

    def per(value: Callable[[Restriction], Any], dtype: Any = np.int64) -> np.ndarray[Any, Any]:
        of_restriction = np.empty(len(restrictions), dtype=dtype)
        for i, r in enumerate(restrictions):  # one by one: tuples of one length would make a 2-D array
            of_restriction[i] = value(r)
        of_line: np.ndarray[Any, Any] = of_restriction[rid]
        return of_line

    failed: np.ndarray[Any, np.dtype[np.bool_]] = per(lambda r: r.gend is not None, bool) & (
        per(lambda r: r.gend, object) != line.gend
    )
    failed |= line.age < per(lambda r: -big if r.age_min is None else r.age_min)
    failed |= line.age > per(lambda r: big if r.age_max is None else r.age_max)
    minimum = per(lambda r: r.hosp_lv_min, object)
    failed |= np.array([m is not None and lv < m for m, lv in zip(minimum, line.hosp_lv, strict=True)], bool)
    visits = per(lambda r: r.visits, object)
    failed |= np.array([bool(v) and visit not in v for v, visit in zip(visits, line.visit, strict=True)], bool)
    failed |= line.days > per(lambda r: big if r.max_days_supply is None else r.max_days_supply)
    indications = per(lambda r: r.indications, object)
    memo: dict[tuple[tuple[str, ...], tuple[str, ...]], bool] = {}
    for i in np.flatnonzero(~failed & per(lambda r: bool(r.indications), bool)).tolist():
        key = (indications[i], line.diagnoses[i])
        if (miss := memo.get(key)) is None:
            miss = memo[key] = not any(d.startswith(key[0]) for d in key[1])
        failed[i] = miss
    return failed


@dataclass(frozen=True, slots=True)
class CatalogItem:
    """One national catalogue entry in force from ``begndate`` to ``enddate`` (inclusive; None = open).

    Attributes:
        med_list_codg: national code (医保目录编码).
        name: registered or generic name (通用名 / 项目名称).
        list_type: drug, herb, service or consumable (see LIST_TYPES).
        med_chrgitm_type: 医疗收费项目类别 01–14.
        chrgitm_lv: 01 甲类, 02 乙类, 03 丙类.
        selfpay_prop: 先行自付比例 (0 for 甲类; for 乙类 the province's share, e.g. 0.10).
        pric_uplmt: price cap (限价 / 支付标准) per coarse hospital level, in units of 1e-6 yuan.
        restriction: 限定支付范围.
        spec / unit / dosform: package specification, unit, dosage form (for people, not rules).
        demo: True for the shipped demo subset (attributes are honest approximations, not the official file).
    """

    med_list_codg: str
    name: str
    list_type: str
    med_chrgitm_type: str
    chrgitm_lv: str
    selfpay_prop: Ratio = ZERO_RATIO
    pric_uplmt: Mapping[str, int] = field(default_factory=dict)
    restriction: Restriction = NO_RESTRICTION
    begndate: date = date(1900, 1, 1)
    enddate: date | None = None
    spec: str = ""
    unit: str = ""
    dosform: str = ""
    demo: bool = False

    def in_force(self, on: date) -> bool:
        return self.begndate <= on and (self.enddate is None or on <= self.enddate)

    def price_cap(self, hosp_lv: str) -> int | None:
        """The price cap at ``hosp_lv`` in 1e-6 yuan, or None when the item has no cap there."""
        return self.pric_uplmt.get(hosp_lv)


class Catalog:
    """All versions of all items, looked up by code and date.

    >>> item = CatalogItem("X1", "阿莫西林胶囊", "drug", "09", "01")
    >>> Catalog([item]).get("X1", date(2025, 1, 1)).name
    '阿莫西林胶囊'
    """

    def __init__(self, items: Iterable[CatalogItem] = ()) -> None:
        self._by_code: dict[str, list[CatalogItem]] = {}
        for item in items:
            self._by_code.setdefault(item.med_list_codg, []).append(item)
        for versions in self._by_code.values():
            versions.sort(key=lambda i: i.begndate)
        self._count = sum(len(v) for v in self._by_code.values())
        self._single = {code: v[0] for code, v in self._by_code.items() if len(v) == 1}

    def get(self, med_list_codg: str, on: date) -> CatalogItem | None:
        """The version of ``med_list_codg`` in force on ``on``, or None."""
        item = self._single.get(med_list_codg)  # the common case: one version of the code
        if item is not None:
            return item if item.begndate <= on and (item.enddate is None or on <= item.enddate) else None
        versions = self._by_code.get(med_list_codg)
        if versions is None:
            return None
        for item in reversed(versions):
            if item.begndate <= on and (item.enddate is None or on <= item.enddate):
                return item
        return None

    def __contains__(self, med_list_codg: object) -> bool:
        return med_list_codg in self._by_code

    def __len__(self) -> int:
        return self._count

    def items(self) -> Iterable[CatalogItem]:
        for versions in self._by_code.values():
            yield from versions
