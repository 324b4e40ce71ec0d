"""National dictionaries (码表) with Chinese labels, and the few mappings the benefit engine needs.

Every dictionary is a plain module-level ``dict[str, str]`` (code → 中文名称) so that a lookup is one
dict access; :data:`DICTIONARIES` registers them under the national field name that carries the code.
Codes are always strings ("11", never 11). Sources and marks ([verified] / [inferred] / [regional]) are
those of shared/domain/interface.md §5; where yibao had to add codes of its own they are listed as
**yibao extensions** below and in the docstring of the dictionary concerned:

- ``med_type`` 9901 长期护理 (the national list has no LTC 医疗类别; 99xx is the provincial-extension
  range, so a region that uses 9901 for something else must map it before it reaches yibao);
- ``fund_pay_type`` 410100 长期护理保险基金 (a local extension in the 险种 + 0100 pattern; not in the
  national list that yibao had);
- ``psn_idet_type`` 2301–2306: the national 人员身份类别 dictionary was not available, so the medical
  assistance categories carry codes of yibao's own (see :data:`PSN_IDET_TYPE`).

Provincial extensions (6-digit med_type codes, regional fund types such as 390400) are not known here:
:func:`check` rejects them, which is deliberate — a region adds its codes to its data, not silently.

>>> label("med_type", "21")
'普通住院'
>>> check("insutype", "310")
'310'
>>> check("psn_setlway", "03")
Traceback (most recent call last):
...
yibao.codes.CodeError: psn_setlway: unknown code '03' (expected one of 01, 02)
>>> coarse_hosp_lv("02"), coarse_hosp_lv("06"), coarse_hosp_lv("09"), coarse_hosp_lv("")
('3', '2', '1', '1')
>>> visit_kind("14"), scheme("390"), psn_category("1201", 66), setl_column("390200")
('chronic', 'resident', 'retired', 'hifmi_pay')
>>> assistance_category("2302")
'dibao'
"""

from __future__ import annotations

__all__ = [
    "ASSISTANCE_CATEGORIES",
    "ASSISTANCE_CATEGORY",
    "ASSISTANCE_CODE",
    "CATY",
    "CHRGITM_LV",
    "CLR_TYPE",
    "DICTIONARIES",
    "DSCG_WAY",
    "FUND_COLUMNS",
    "FUND_PAY_TYPE",
    "GEND",
    "HILIST_TYPE",
    "HOSP_LV",
    "INSUTYPE",
    "MDTRT_CERT_TYPE",
    "MED_CHRGITM_TYPE",
    "MED_TYPE",
    "OPTER_TYPE",
    "PSN_IDET_TYPE",
    "PSN_SETLWAY",
    "PSN_TYPE",
    "CodeError",
    "assistance_category",
    "caty_code",
    "caty_covers",
    "check",
    "coarse_hosp_lv",
    "label",
    "med_types",
    "psn_category",
    "scheme",
    "setl_column",
    "visit_kind",
]


class CodeError(ValueError):
    """A code that is not in its dictionary (or cannot be mapped); ``field`` names the dictionary."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# Dictionaries
# ---------------------------------------------------------------------------------------------

INSUTYPE: dict[str, str] = {
    "310": "职工基本医疗保险",
    "320": "公务员医疗补助",
    "330": "大额医疗费用补助",
    "340": "离休人员医疗保障",
    "350": "一至六级残疾军人医疗补助",
    "360": "老红军医疗保障",
    "370": "企业补充医疗保险",
    "380": "新型农村合作医疗",
    "390": "城乡居民基本医疗保险",
    "391": "城镇居民基本医疗保险",
    "392": "城乡居民大病医疗保险",
    "399": "其他特殊人员医疗保障",
    "410": "长期照护保险",
    "510": "生育保险",
}
"""insutype 险种类型."""

PSN_TYPE: dict[str, str] = {
    "1101": "职工在职",
    "1102": "公务员在职",
    "1103": "灵活就业在职",
    "1201": "职工退休",
    "1202": "公务员退休",
    "1203": "灵活就业退休",
    "1300": "离休",
    "1401": "新生儿",
    "1402": "学龄前儿童",
    "1403": "中小学生",
    "1404": "大学生",
    "1405": "未成年(未入学)",
    "1501": "普通居民(成年)",
}
"""psn_type 人员类别. Regions add local codes (often ending in 60); :func:`psn_category` copes with them."""

MED_TYPE: dict[str, str] = {
    "11": "普通门诊",
    "12": "门诊挂号",
    "13": "急诊",
    "14": "门诊慢特病",
    "15": "特药",
    "16": "中医特色门诊",
    "19": "意外伤害门诊",
    "21": "普通住院",
    "22": "外伤住院",
    "23": "转外诊治住院",
    "24": "急诊转住院",
    "26": "单病种住院",
    "28": "日间手术",
    "41": "定点药店购药",
    "51": "生育门诊",
    "52": "生育住院",
    "53": "计划生育手术费",
    "9901": "长期护理",
}
"""med_type 医疗类别. ``9901`` 长期护理 is a **yibao extension** (no national LTC 医疗类别 was available)."""

HOSP_LV: dict[str, str] = {
    "01": "三级特等",
    "02": "三级甲等",
    "03": "三级乙等",
    "04": "三级丙等",
    "05": "二级甲等",
    "06": "二级乙等",
    "07": "二级丙等",
    "08": "一级甲等",
    "09": "一级乙等",
    "10": "一级丙等",
}
"""hosp_lv / medins_lv 医院等级 (national 01–10; any other value means 无等级). See :func:`coarse_hosp_lv`."""

CHRGITM_LV: dict[str, str] = {
    "01": "甲类",
    "02": "乙类",
    "03": "丙类",
}
"""chrgitm_lv / hilist_lv 收费项目等级 (丙类 = 自费)."""

MED_CHRGITM_TYPE: dict[str, str] = {
    "01": "床位费",
    "02": "诊察费",
    "03": "检查费",
    "04": "化验费",
    "05": "治疗费",
    "06": "手术费",
    "07": "护理费",
    "08": "卫生材料费",
    "09": "西药费",
    "10": "中药饮片费",
    "11": "中成药费",
    "12": "一般诊疗费",
    "13": "挂号费",
    "14": "其他费",
}
"""med_chrgitm_type 医疗收费项目类别 (also 3101 ``chrg_type``)."""

FUND_PAY_TYPE: dict[str, str] = {
    "310100": "职工基本医疗保险统筹基金",
    "310200": "职工基本医疗保险个人账户基金",
    "320100": "公务员医疗补助基金",
    "330100": "大额医疗费用补助基金",
    "340100": "离休人员医疗保障基金",
    "350100": "一至六级残疾军人医疗补助基金",
    "370100": "企业补充医疗保险基金",
    "390100": "城乡居民基本医疗保险基金",
    "390200": "城乡居民大病医疗保险基金",
    "410100": "长期护理保险基金",
    "510100": "生育基金",
    "610100": "医疗救助基金",
    "999997": "其他基金",
}
"""fund_pay_type 基金支付类型. ``410100`` 长期护理保险基金 is a documented **local extension** (yibao's)."""

CLR_TYPE: dict[str, str] = {
    "11": "门诊",
    "21": "住院",
    "41": "药店",
    "99": "其他",
}
"""clr_type 清算类别 (regions add 99xx codes)."""

GEND: dict[str, str] = {
    "0": "未知的性别",
    "1": "男",
    "2": "女",
    "9": "未说明的性别",
}
"""gend 性别 (GB/T 2261.1)."""

MDTRT_CERT_TYPE: dict[str, str] = {
    "01": "电子凭证",
    "02": "居民身份证",
    "03": "社会保障卡",
}
"""mdtrt_cert_type 就诊凭证类型 (01 carries an e-voucher token, 03 also ``card_sn``)."""

PSN_SETLWAY: dict[str, str] = {
    "01": "按项目结算",
    "02": "按定额结算",
}
"""psn_setlway 个人结算方式."""

HILIST_TYPE: dict[str, str] = {
    "101": "西药中成药",
    "102": "中药饮片",
    "201": "医疗服务项目",
    "301": "医用耗材",
}
"""hilist_type 医保目录类别 (the four codes seen in 3101 requests; the national list may hold more)."""

OPTER_TYPE: dict[str, str] = {
    "1": "经办人",
    "2": "自助终端",
    "3": "移动终端",
}
"""opter_type 经办人类别 (request envelope)."""

DSCG_WAY: dict[str, str] = {
    "1": "医嘱离院",
    "2": "医嘱转院",
    "3": "医嘱转社区卫生服务机构/乡镇卫生院",
    "4": "非医嘱离院",
    "5": "死亡",
    "9": "其他",
}
"""dscg_way 离院方式 (2402 ``dscginfo``; the 病案首页 / 结算清单 leaving type)."""

PSN_IDET_TYPE: dict[str, str] = {
    "2301": "特困供养人员",
    "2302": "低保对象",
    "2303": "返贫致贫人口",
    "2304": "低保边缘/低收入人口",
    "2305": "因病致贫重病患者",
    "2306": "孤儿/事实无人抚养儿童",
}
"""psn_idet_type 人员身份类别, **yibao's own codes** for the medical-assistance categories.

The national 人员身份类别 dictionary was not available when this was written, so these codes are
yibao's (not national): a region maps its own codes to them on import. :data:`ASSISTANCE_CATEGORY`
maps each to the assistance category name used by policy data (``[assistance_category]`` nodes).
"""

ASSISTANCE_CATEGORY: dict[str, str] = {
    "2301": "tekun",
    "2302": "dibao",
    "2303": "fanpin",
    "2304": "low_income",
    "2305": "illness_poverty",
    "2306": "orphan",
}
"""psn_idet_type → yibao assistance category name."""

ASSISTANCE_CODE: dict[str, str] = {name: code for code, name in ASSISTANCE_CATEGORY.items()}
"""Assistance category name → yibao psn_idet_type code (the inverse of :data:`ASSISTANCE_CATEGORY`)."""

ASSISTANCE_CATEGORIES: frozenset[str] = frozenset(ASSISTANCE_CATEGORY.values())
"""The assistance category names policy data may use."""

CATY: dict[str, str] = {
    "A01": "预防保健科", "A02": "全科医疗科", "A03": "内科", "A03.01": "呼吸内科", "A03.02": "消化内科",
    "A03.03": "神经内科", "A03.04": "心血管内科", "A03.05": "血液内科", "A03.06": "肾病学科",
    "A03.07": "内分泌科", "A03.10": "老年病科", "A04": "外科", "A04.01": "普通外科", "A04.02": "神经外科",
    "A04.03": "骨科", "A04.04": "泌尿外科", "A04.05": "胸外科", "A04.06": "心脏大血管外科", "A05": "妇产科",
    "A05.01": "妇科", "A05.02": "产科", "A06": "妇女保健科", "A07": "儿科", "A07.01": "新生儿科",
    "A09": "儿童保健科", "A10": "眼科", "A11": "耳鼻咽喉科", "A12": "口腔科", "A13": "皮肤科",
    "A15": "精神科", "A16": "传染科", "A19": "肿瘤科", "A20": "急诊医学科", "A21": "康复医学科",
    "A26": "麻醉科", "A28": "重症医学科", "A30": "医学检验科", "A31": "病理科", "A32": "医学影像科",
    "A50": "中医科", "A50.01": "中医内科", "A50.02": "中医外科", "A50.03": "中医妇产科", "A50.04": "中医儿科",
    "A50.10": "中医骨伤科", "A50.11": "中医肛肠科", "A50.13": "针灸科", "A50.14": "推拿科",
    "A69": "其他业务科室",
}  # fmt: skip
"""科别 (诊疗科目, the 《医疗机构诊疗科目名录》 codes a department registers under, dept_b.caty) used by yibao:
a major 科目 ``Axx`` and its 二级科目 ``Axx.yy``. "A69" also holds pharmacy (药剂科 / 药房) units."""


PAEDIATRICS = "A07"
"""儿科, with its 二级科目 (A07.01 新生儿科 …): a department adults are not seen in."""


def caty_code(text: str | None) -> str:
    """A 科别 in yibao's (医保 科室) spelling: ``A`` + the 诊疗科目 code, which registers also write without
    the letter ("03.04" is A03.04 心血管内科); "" for nothing.

    >>> caty_code("A19"), caty_code("03.04"), caty_code(""), caty_code(None)
    ('A19', 'A03.04', '', '')
    """
    t = (text or "").strip()
    return "A" + t if t[:2].isdigit() else t


def caty_covers(allowed: str, caty: str) -> bool:
    """Whether a department of 科别 ``caty`` falls under the 科别 ``allowed``: the same 科目, or one of
    its 二级科目 (A19 covers A19 and A19.01; A03.05 covers only itself).

    >>> caty_covers("A19", "A19"), caty_covers("A03", "A03.05"), caty_covers("A03.05", "A03")
    (True, True, False)
    """
    return caty == allowed or caty.startswith(allowed + ".")


DICTIONARIES: dict[str, dict[str, str]] = {
    "insutype": INSUTYPE,
    "psn_type": PSN_TYPE,
    "med_type": MED_TYPE,
    "hosp_lv": HOSP_LV,
    "medins_lv": HOSP_LV,
    "chrgitm_lv": CHRGITM_LV,
    "hilist_lv": CHRGITM_LV,
    "med_chrgitm_type": MED_CHRGITM_TYPE,
    "fund_pay_type": FUND_PAY_TYPE,
    "clr_type": CLR_TYPE,
    "gend": GEND,
    "mdtrt_cert_type": MDTRT_CERT_TYPE,
    "psn_setlway": PSN_SETLWAY,
    "hilist_type": HILIST_TYPE,
    "opter_type": OPTER_TYPE,
    "dscg_way": DSCG_WAY,
    "psn_idet_type": PSN_IDET_TYPE,
    "caty": CATY,
}
"""Every dictionary by the national field name that carries its codes (``medins_lv`` and ``hilist_lv``
are aliases of ``hosp_lv`` and ``chrgitm_lv``)."""


# ---------------------------------------------------------------------------------------------
# Lookups
# ---------------------------------------------------------------------------------------------


def _dictionary(field: str) -> dict[str, str]:
    try:
        return DICTIONARIES[field]
    except KeyError:
        known = ", ".join(sorted(DICTIONARIES))
        raise KeyError(f"unknown dictionary {field!r} (known: {known})") from None


def label(field: str, code: str) -> str:
    """The Chinese label of ``code`` in the dictionary of ``field``; ``KeyError`` naming both if unknown.

    >>> label("fund_pay_type", "310200")
    '职工基本医疗保险个人账户基金'
    >>> label("gend", "3")
    Traceback (most recent call last):
    ...
    KeyError: "gend: unknown code '3'"
    """
    table = _dictionary(field)
    try:
        return table[code]
    except (KeyError, TypeError):
        raise KeyError(f"{field}: unknown code {code!r}") from None


def check(field: str, code: object) -> str:
    """Return ``code`` if it is in the dictionary of ``field``, else raise :class:`CodeError`.

    Codes must be strings: a JSON number such as ``11`` is refused rather than guessed at.
    An unknown ``field`` is a programming error and raises ``KeyError``.

    >>> check("clr_type", 11)
    Traceback (most recent call last):
    ...
    yibao.codes.CodeError: clr_type: must be a string code, not int
    """
    table = _dictionary(field)
    if not isinstance(code, str):
        raise CodeError(field, f"must be a string code, not {type(code).__name__}")
    if code not in table:
        raise CodeError(field, f"unknown code {code!r} (expected one of {', '.join(table)})")
    return code


# ---------------------------------------------------------------------------------------------
# Mappings used by the benefit engine
# ---------------------------------------------------------------------------------------------

_COARSE_HOSP_LV: dict[str, str] = {
    "01": "3", "02": "3", "03": "3", "04": "3",
    "05": "2", "06": "2", "07": "2",
    "08": "1", "09": "1", "10": "1",
    "3": "3", "2": "2", "1": "1",
}  # fmt: skip


def coarse_hosp_lv(code: str | None) -> str:
    """The coarse level "3" / "2" / "1" used by policy and catalogue for a national hosp_lv code.

    01–04 三级 → "3", 05–07 二级 → "2", 08–10 一级 and anything else (无等级, empty, unknown) → "1".
    An already coarse "1" / "2" / "3" is returned as is.

    >>> [coarse_hosp_lv(c) for c in ("01", "04", "05", "07", "08", "10", "3", "2", "99", None)]
    ['3', '3', '2', '2', '1', '1', '3', '2', '1', '1']
    """
    if code is None:
        return "1"
    return _COARSE_HOSP_LV.get(code, "1")


_VISIT_KIND: dict[str, str] = {
    **dict.fromkeys(("11", "12", "13", "16", "19", "51"), "outpatient"),
    **dict.fromkeys(("14", "15"), "chronic"),
    **dict.fromkeys(("21", "22", "23", "24", "26", "28", "52", "53"), "inpatient"),
    "41": "pharmacy",
    "9901": "ltc",  # yibao extension: med_type 9901 长期护理
}


def visit_kind(med_type: str) -> str:
    """The benefit visit kind of a med_type: outpatient, chronic, inpatient, pharmacy or ltc.

    ``9901`` 长期护理 → "ltc" is a yibao extension (see the module docstring). 53 计划生育手术费 is
    treated as inpatient, 51 生育门诊 as outpatient.

    >>> visit_kind("11"), visit_kind("15"), visit_kind("28"), visit_kind("41"), visit_kind("9901")
    ('outpatient', 'chronic', 'inpatient', 'pharmacy', 'ltc')
    """
    try:
        return _VISIT_KIND[med_type]
    except (KeyError, TypeError):
        raise CodeError(
            "med_type", f"unknown code {med_type!r} (expected one of {', '.join(_VISIT_KIND)})"
        ) from None


def med_types(kind: str) -> tuple[str, ...]:
    """The med_type codes of a benefit visit kind (:func:`visit_kind`), in code order.

    >>> med_types("chronic")
    ('14', '15')
    """
    return tuple(sorted(c for c, k in _VISIT_KIND.items() if k == kind))


_SCHEME: dict[str, str] = {
    **dict.fromkeys(("310", "320", "330", "340", "370"), "employee"),
    **dict.fromkeys(("390", "391", "392", "380"), "resident"),
    "410": "ltc",
    "510": "maternity",
}


def scheme(insutype: str) -> str:
    """The benefit scheme of an insutype: employee, resident, ltc or maternity.

    350 / 360 / 399 (special-person schemes paid outside the two basic funds) have no scheme and,
    like unknown codes, raise :class:`CodeError`.

    >>> scheme("310"), scheme("330"), scheme("392"), scheme("410"), scheme("510")
    ('employee', 'employee', 'resident', 'ltc', 'maternity')
    >>> scheme("350")
    Traceback (most recent call last):
    ...
    yibao.codes.CodeError: insutype: no benefit scheme for code '350' (一至六级残疾军人医疗补助)
    """
    try:
        return _SCHEME[insutype]
    except (KeyError, TypeError):
        pass
    if isinstance(insutype, str) and insutype in INSUTYPE:
        raise CodeError("insutype", f"no benefit scheme for code {insutype!r} ({INSUTYPE[insutype]})")
    raise CodeError("insutype", f"unknown code {insutype!r} (expected one of {', '.join(_SCHEME)})")


_PSN_PREFIX: dict[str, str] = {
    "11": "in_service",
    "12": "retired",
    "13": "retired",
    "14": "resident_child",
    "15": "resident_adult",
}
ADULT_AGE = 18
"""Age (whole years) from which a person of an unknown local psn_type counts as an adult resident."""


def psn_category(psn_type: str, age: int) -> str:
    """The benefit category of a person: in_service, retired, resident_child or resident_adult.

    The psn_type is decisive: 11xx → in_service, 12xx and 13xx (1300 离休) → retired, 14xx →
    resident_child, 15xx → resident_adult, whatever the age (a 16-year-old enrolled as 1501 is an
    adult resident). Only a 4-digit code outside these families (a local extension such as 1660)
    falls back on ``age``: under 18 → resident_child, else resident_adult.

    >>> psn_category("1101", 40), psn_category("1300", 90), psn_category("1403", 12), psn_category("1501", 16)
    ('in_service', 'retired', 'resident_child', 'resident_adult')
    >>> psn_category("1160", 40), psn_category("1660", 9), psn_category("1660", 30)
    ('in_service', 'resident_child', 'resident_adult')
    """
    if (
        not isinstance(psn_type, str)
        or len(psn_type) != 4
        or not psn_type.isascii()
        or not psn_type.isdigit()
    ):
        raise CodeError("psn_type", f"must be a 4-digit code, got {psn_type!r}")
    if isinstance(age, bool) or not isinstance(age, int) or age < 0:
        raise ValueError(f"age must be a non-negative whole number of years, got {age!r}")
    category = _PSN_PREFIX.get(psn_type[:2])
    if category is not None:
        return category
    return "resident_child" if age < ADULT_AGE else "resident_adult"


_SETL_COLUMN: dict[str, str] = {
    "310100": "hifp_pay",
    "390100": "hifp_pay",
    "410100": "hifp_pay",  # the LTC fund settles as the pool of insutype 410
    "320100": "cvlserv_pay",
    "330100": "hifob_pay",
    "390200": "hifmi_pay",
    "370100": "hifes_pay",
    "610100": "maf_pay",
    "310200": "acct_pay",
}

FUND_COLUMNS: tuple[str, ...] = (
    "hifp_pay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
)
"""The setlinfo fund columns summing to ``fund_pay_sumamt`` (identity 2); ``acct_pay`` is not one."""


def setl_column(fund_pay_type: str) -> str:
    """The setlinfo money column a setldetail row of ``fund_pay_type`` is paid into.

    310100 / 390100 → hifp_pay, 410100 → hifp_pay (the LTC pool of insutype 410), 320100 → cvlserv_pay,
    330100 → hifob_pay, 390200 → hifmi_pay, 370100 → hifes_pay, 610100 → maf_pay, 310200 → acct_pay
    (the personal account, outside ``fund_pay_sumamt``); every other code → oth_pay. The mapping is
    [inferred] (interface.md §5).

    >>> setl_column("310100"), setl_column("310200"), setl_column("410100"), setl_column("510100")
    ('hifp_pay', 'acct_pay', 'hifp_pay', 'oth_pay')
    """
    return _SETL_COLUMN.get(fund_pay_type, "oth_pay")


def assistance_category(psn_idet_type: str | None) -> str | None:
    """The yibao assistance category of a psn_idet_type, or ``None`` when the person has none.

    ``None`` or "" means no assistance identity; an unknown code raises :class:`CodeError` (a region
    must map its codes to yibao's, see :data:`PSN_IDET_TYPE`).

    >>> assistance_category("2301"), assistance_category(""), assistance_category(None)
    ('tekun', None, None)
    """
    if psn_idet_type is None or psn_idet_type == "":
        return None
    return ASSISTANCE_CATEGORY[check("psn_idet_type", psn_idet_type)]
