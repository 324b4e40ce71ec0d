"""Importer for the national catalogue download files (1301 西药中成药, 1305 医疗服务项目, 1306 医用耗材).

A pooling region receives these catalogues as text files through 9102 文件下载 (often zipped; unzip
first): one item per line, no header, the fields of the national interface document in its order,
separated by tabs (``|`` is accepted too: the separator is taken from the first non-empty line).
:func:`import_national` turns one such file into a :class:`~yibao.catalog.model.Catalog`;
:func:`write_catalog_csv` (re-exported from :mod:`yibao.catalog.loader`) then writes yibao's own CSV,
which a person completes and reviews (classes, 先行自付, caps, structured restrictions).

Field order. The positions below were learnt from public HIS code that parses these files (the Guangzhou
``frmGoodUpload`` importer in liutao2019/IBORN_HIS_ALL, cross-checked against the column lists of
newtouch-cloud/openhis ``G_yb_*_info_b``); the official specification PDF has not been checked. The
1301 layout has 92 fields, the last being the 甲乙类 field; older versions are said to lack the trailing fields
(inferred, not seen), so any 1301 line with at least the 79 fields up to vali_flag is accepted.

What is read (1-based field numbers):

=====  ===========================================================================================
kind   fields read
=====  ===========================================================================================
1301   1 med_list_codg; 4 drug_genname (name; else 8 reg_name, else 2 drug_prodname);
       10/11 drug_dosform(_name); 14 drug_spec; 24 tcmpat_flag (1 → 中成药 11, 0 → 西药 09; else the
       code's first letter Z/X); 37/38 begndate/enddate; 39 min_useunt / 49 min_prcunt (unit);
       57 lmt_usescp (限制使用范围 → restriction text); 79 vali_flag; 92 nat_hi_druglist_chrgitm_lv
       (国家医保药品目录甲乙类标识, when present)
1305   1 med_list_codg; 2/3 prcunt(_name) (unit); 7 vali_flag; 10 servitem_name; 12/13 begndate/enddate
1306   1 med_list_codg; 2 mcs_name (else 5 hi_genname); 8 spec (else 10 spec_mol); 18 min_useunt;
       35 hi_lmt_scp (医保限用范围 → restriction text); 47/48 begndate/enddate; 68 vali_flag
=====  ===========================================================================================

What is *not* in these files and how it is filled:

* 收费项目等级 chrgitm_lv: the ``chrgitm_lv`` mapping (code → 01/02/03, e.g. from 1312 医保目录信息查询,
  whose rows carry ``hilist_code`` and ``chrgitm_lv``) wins; else 1301 field 92; else ``default_lv``
  (``"03"`` 丙类 by default — an unclassified item pays nothing until someone classes it); with
  ``default_lv=None`` an unclassified row is an error.
* 医疗收费项目类别 med_chrgitm_type: the ``chrgitm_type`` mapping (1312 ``med_chrgitm_type``) wins; else 1301
  as above, 1306 → 08 卫生材料费, and for 1305 a heuristic on the price-item chapter of the 15-digit code
  (``00`` + 9-digit 价格项目编码 + 4): 1109 床位 01, 1102 诊察 02, 1101 挂号 13, 1201 护理 07, 21–23 影像/超声/
  核医学 03, 25–27 检验/血型/病理 04, 32–33 介入/手术 06, other 2x/3x/4x 05 治疗, anything else 14.
* 先行自付 selfpay_prop: the ``selfpay`` mapping (1319 先自付比例), applied to 乙类 only; else
  ``default_selfpay`` (0).
* price caps: not in 1301/1305/1306 (1318 限价 carries them): the optional ``caps`` mapping gives one cap in
  1e-6 yuan for all three levels; otherwise none.
* structured restrictions (sex, age, level, visit, indication, days): never parsed from the free text,
  which is kept as ``Restriction.text`` for reviewers; add the structured columns in the CSV.

Rows with vali_flag ``0`` are skipped; with ``on`` only versions in force on that day are kept; of two rows
with the same code and begndate the later line wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from yibao.catalog.loader import CHRGITM_LVS, MED_CHRGITM_TYPES, CatalogError, write_catalog_csv
from yibao.catalog.model import HOSP_LEVELS, NO_RESTRICTION, Catalog, CatalogItem, Restriction
from yibao.money import ZERO_RATIO, Ratio

__all__ = [
    "FIELDS",
    "NationalKind",
    "import_national",
    "write_catalog_csv",
]

NationalKind = Literal["1301", "1305", "1306"]

FIELDS_1301 = (
    "med_list_codg", "drug_prodname", "genname_codg", "drug_genname", "chemname", "alis", "eng_name",
    "reg_name", "drugstdcode", "drug_dosform", "drug_dosform_name", "drug_type", "drug_type_name",
    "drug_spec", "drug_spec_code", "reg_dosform", "reg_spec", "reg_spec_code", "each_dos", "used_frqu",
    "acdbas", "nat_drug_no", "used_mtd", "tcmpat_flag", "prodplac_type", "prodplac_type_name",
    "prcunt_type", "otc_flag", "otc_flag_name", "pacmatl", "pacmatl_name", "pacspec", "pac_cnt",
    "efcc_atd", "rute", "manl", "begndate", "enddate", "min_useunt", "min_salunt", "min_unt",
    "min_pac_cnt", "min_pacunt", "min_prepunt", "minpacunt_name", "min_prepunt_name", "convrat",
    "drug_expy", "min_prcunt", "wubi", "pinyin", "subpck_fcty", "prodentp_code", "prodentp_name",
    "sp_lmtpric_drug_flag", "sp_drug_flag", "lmt_usescp", "lmt_used_flag", "drug_regno",
    "drug_regcert_begndate", "drug_regcert_enddate", "aprvno", "aprvno_begndate", "aprvno_enddate",
    "mkt_stas", "mkt_stas_name", "drug_reg_appvletr_elecacs", "splm_appy_appvletr_file",
    "nat_hi_druglist_memo", "bas_medn_flag_name", "bas_medn_flag", "advaltax_adjm_drug_flag",
    "advaltax_adjm_drug_name", "lstd_druglist_drug", "hi_nego_drug_flag", "hi_nego_drug_name",
    "nhc_drug_codg", "memo", "vali_flag", "rid", "crte_time", "updt_time", "ver", "ver_name",
    "chld_medc", "co_name", "conseval_drug", "dstr", "dstr_coner", "dstr_auth_file_elecacs",
    "nat_hi_druglist_dosform", "nat_hi_druglist_chrgitm_lv",
)  # fmt: skip
"""1301 西药中成药目录, 92 fields; lines with 79 or more (through ``vali_flag``) are accepted."""

FIELDS_1305 = (
    "med_list_codg", "prcunt", "prcunt_name", "trt_item_dscr", "trt_exct_cont", "trt_item_cont",
    "vali_flag", "memo", "servitem_type", "servitem_name", "item_dscr", "begndate", "enddate", "rid",
    "ver", "ver_name",
)  # fmt: skip
"""1305 医疗服务项目目录, 16 fields."""

FIELDS_1306 = (
    "med_list_codg", "mcs_name", "udi", "hi_genname_code", "hi_genname", "prod_mol", "spec_code", "spec",
    "mcs_type", "spec_mol", "matl_code", "mcs_matl", "pacspec", "pac_cnt", "prod_pacmatl", "pacunt",
    "prod_convrat", "min_useunt", "prodplac_type", "prodplac_type_name", "prodstrd", "prodexpy",
    "perf_stru_comp", "apb_scp", "prod_istr", "prod_img_no", "prod_qlt_std", "manl", "oth_cert_matl",
    "sped_flag", "sped_name", "comb_name", "case_flag", "lmt_used_flag", "hi_lmt_scp", "min_salunt",
    "highval_mcs_flag", "matl_type_code", "impt_matl_hmorgn_flag", "stlz_flag", "stlz_flag_name",
    "impt_itvt_clss_flag", "impt_itvt_clss_name", "dspo_used_flag", "dspo_used_flag_name", "reger_name",
    "begndate", "enddate", "med_equ_mgt_type", "med_equ_mgt_type_name", "reg_fil_no",
    "reg_fil_prod_name", "stru_comp", "oth_cont", "aprv_date", "reger_addr", "regcert_expy_begntime",
    "regcert_expy_endtime", "prodentp_code", "prodentp_name", "manu_addr", "agnt_entp", "agnt_entp_addr",
    "manu_nat_regn", "aftsal_serins", "reg_fil_elec_file", "prod_img", "vali_flag", "rid", "ver",
    "ver_name",
)  # fmt: skip
"""1306 医用耗材目录, 71 fields."""

FIELDS: Mapping[str, tuple[str, ...]] = {"1301": FIELDS_1301, "1305": FIELDS_1305, "1306": FIELDS_1306}


@dataclass(frozen=True, slots=True)
class _Layout:
    list_type: str
    min_fields: int
    names: tuple[str, ...]  # field names tried in turn for the item name
    specs: tuple[str, ...]
    units: tuple[str, ...]
    dosforms: tuple[str, ...]
    lmt_text: str | None
    level: str | None  # a 甲乙丙 field, when the file has one


_LAYOUTS: Mapping[str, _Layout] = {
    "1301": _Layout(
        "drug", FIELDS_1301.index("vali_flag") + 1,
        ("drug_genname", "reg_name", "drug_prodname"), ("drug_spec",), ("min_prcunt", "min_useunt"),
        ("drug_dosform_name", "drug_dosform"), "lmt_usescp", "nat_hi_druglist_chrgitm_lv",
    ),
    "1305": _Layout(
        "service", FIELDS_1305.index("enddate") + 1,
        ("servitem_name",), (), ("prcunt_name", "prcunt"), (), None, None,
    ),
    "1306": _Layout(
        "consumable", FIELDS_1306.index("vali_flag") + 1,
        ("mcs_name", "hi_genname"), ("spec", "spec_mol"), ("min_useunt",), (), "hi_lmt_scp", None,
    ),
}  # fmt: skip

_LEVEL_WORDS = {
    "01": "01", "1": "01", "甲": "01", "甲类": "01",
    "02": "02", "2": "02", "乙": "02", "乙类": "02",
    "03": "03", "3": "03", "丙": "03", "丙类": "03", "自费": "03",
}  # fmt: skip

_SERVICE_TYPES = (  # (prefix of the 9-digit price-item code, med_chrgitm_type); first match wins
    ("1109", "01"), ("1102", "02"), ("1101", "13"), ("1201", "07"),
    ("21", "03"), ("22", "03"), ("23", "03"), ("25", "04"), ("26", "04"), ("27", "04"),
    ("32", "06"), ("33", "06"), ("2", "05"), ("3", "05"), ("4", "05"),
)  # fmt: skip


def import_national(
    path: Path | str,
    kind: NationalKind,
    *,
    selfpay: Mapping[str, Ratio] | None = None,
    on: date | None = None,
    chrgitm_lv: Mapping[str, str] | None = None,
    chrgitm_type: Mapping[str, str] | None = None,
    caps: Mapping[str, int] | None = None,
    default_lv: str | None = "03",
    default_selfpay: Ratio = ZERO_RATIO,
    encoding: str = "utf-8-sig",
) -> Catalog:
    """Read one national 1301 / 1305 / 1306 download file (see the module docstring for what is read).

    Args:
        path: the unzipped text file.
        kind: which catalogue the file is.
        selfpay: 先行自付 by code (1319), applied to 乙类 items.
        on: keep only the versions in force on this day.
        chrgitm_lv: 甲乙丙 by code (01/02/03, or 甲/乙/丙), e.g. from 1312; wins over the file.
        chrgitm_type: med_chrgitm_type by code (01–14), e.g. from 1312; wins over the derived value.
        caps: one price cap per code in 1e-6 yuan (1318), used at all three hospital levels.
        default_lv: class of an item nothing else classes; None makes that an error.
        default_selfpay: 先行自付 of a 乙类 item missing from ``selfpay``.
        encoding: of the file (the platform ships UTF-8; pass ``"gb18030"`` for re-encoded copies).

    Raises:
        CatalogError: a line that is too short or carries an unusable value (file, line and field named).
    """
    if kind not in _LAYOUTS:
        raise ValueError(f"kind must be one of {', '.join(_LAYOUTS)}, not {kind!r}")
    if default_lv is not None and default_lv not in CHRGITM_LVS:
        raise ValueError(f"default_lv must be 01, 02, 03 or None, not {default_lv!r}")
    p = Path(path)
    reader = _NationalReader(
        source=p.name,
        kind=kind,
        layout=_LAYOUTS[kind],
        fields=FIELDS[kind],
        selfpay=selfpay or {},
        levels=chrgitm_lv or {},
        types=chrgitm_type or {},
        caps=caps or {},
        default_lv=default_lv,
        default_selfpay=default_selfpay,
    )
    kept: dict[tuple[str, date], CatalogItem] = {}
    with p.open(encoding=encoding, newline="") as f:
        for item in reader.items(f):
            if on is not None and not item.in_force(on):
                continue
            kept[(item.med_list_codg, item.begndate)] = item
    return Catalog(kept.values())


@dataclass(slots=True)
class _NationalReader:
    source: str
    kind: str
    layout: _Layout
    fields: tuple[str, ...]
    selfpay: Mapping[str, Ratio]
    levels: Mapping[str, str]
    types: Mapping[str, str]
    caps: Mapping[str, int]
    default_lv: str | None
    default_selfpay: Ratio
    line: int = 0

    def fail(self, field: str, message: str) -> CatalogError:
        number = self.fields.index(field) + 1 if field in self.fields else 0
        column = f"field {number} {field}" if number else field
        return CatalogError(self.source, self.line, column, message)

    def items(self, lines: Iterable[str]) -> Iterator[CatalogItem]:
        sep: str | None = None
        for number, raw in enumerate(lines, start=1):
            self.line = number
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            if sep is None:
                sep = "\t" if "\t" in text else "|"
            values = [v.strip() for v in text.split(sep)]
            if len(values) < self.layout.min_fields:
                missing = self.fields[len(values)]
                raise self.fail(
                    missing,
                    f"missing: the line has {len(values)} fields, a {self.kind} line needs at least "
                    f"{self.layout.min_fields}",
                )
            record = dict(zip(self.fields, values, strict=False))
            flag = record["vali_flag"]
            if flag == "0":
                continue
            if flag not in ("1", ""):
                raise self.fail("vali_flag", f"must be 1 or 0, not {flag!r}")
            yield self.item(record)

    def item(self, rec: dict[str, str]) -> CatalogItem:
        code = rec["med_list_codg"]
        if not code:
            raise self.fail("med_list_codg", "is empty")
        name = _first(rec, self.layout.names)
        if not name:
            raise self.fail(self.layout.names[0], "is empty (no name for the item)")
        level = self.level(code, rec)
        begndate = self.date(rec, "begndate") or date(1900, 1, 1)
        enddate = self.date(rec, "enddate")
        if enddate is not None and enddate < begndate:
            raise self.fail("enddate", f"{enddate.isoformat()} is before begndate {begndate.isoformat()}")
        text = rec.get(self.layout.lmt_text, "") if self.layout.lmt_text else ""
        cap = self.caps.get(code)
        if cap is not None and cap <= 0:
            raise ValueError(f"caps[{code!r}] must be a positive amount in 1e-6 yuan, not {cap}")
        return CatalogItem(
            med_list_codg=code,
            name=name,
            list_type=self.layout.list_type,
            med_chrgitm_type=self.chrgitm_type(code, rec),
            chrgitm_lv=level,
            selfpay_prop=self.selfpay.get(code, self.default_selfpay) if level == "02" else ZERO_RATIO,
            pric_uplmt={lv: cap for lv in HOSP_LEVELS} if cap is not None else {},
            restriction=Restriction(text=text) if text else NO_RESTRICTION,
            begndate=begndate,
            enddate=enddate,
            spec=_first(rec, self.layout.specs),
            unit=_first(rec, self.layout.units),
            dosform=_first(rec, self.layout.dosforms),
            demo=False,
        )

    def level(self, code: str, rec: dict[str, str]) -> str:
        mapped = self.levels.get(code)
        if mapped is not None:
            lv = _LEVEL_WORDS.get(mapped.strip())
            if lv is None:
                raise ValueError(f"chrgitm_lv[{code!r}] must be 01/02/03 or 甲/乙/丙, not {mapped!r}")
            return lv
        field = self.layout.level
        raw = rec.get(field, "") if field else ""
        if raw:
            lv = _LEVEL_WORDS.get(raw)
            if lv is None:
                assert field is not None
                raise self.fail(field, f"must be 甲/乙/丙 or 01/02/03, not {raw!r}")
            return lv
        if self.default_lv is None:
            raise self.fail(
                "med_list_codg",
                f"no 甲乙丙 class for {code}: pass chrgitm_lv= (e.g. from 1312) or a default_lv",
            )
        return self.default_lv

    def chrgitm_type(self, code: str, rec: dict[str, str]) -> str:
        mapped = self.types.get(code)
        if mapped is not None:
            if mapped not in MED_CHRGITM_TYPES:
                raise ValueError(f"chrgitm_type[{code!r}] must be 01-14, not {mapped!r}")
            return mapped
        if self.kind == "1301":
            flag = rec["tcmpat_flag"]
            if flag in ("0", "1"):
                return "11" if flag == "1" else "09"
            return "11" if code.startswith("Z") else "09"
        if self.kind == "1306":
            return "08"
        return service_chrgitm_type(code)

    def date(self, rec: dict[str, str], field: str) -> date | None:
        text = rec[field]
        if not text:
            return None
        try:
            return parse_national_date(text)
        except ValueError:
            raise self.fail(
                field, f"is not a date (YYYY-MM-DD, optionally with a time, or YYYYMMDD): {text!r}"
            ) from None


def service_chrgitm_type(code: str) -> str:
    """med_chrgitm_type guessed from a 15-digit national service code (``00`` + price item + 4 digits).

    >>> service_chrgitm_type("001109000010000"), service_chrgitm_type("002502000010000")
    ('01', '04')
    """
    if len(code) < 11 or not code[:11].isdigit() or not code.startswith("00"):
        return "14"
    item = code[2:11]
    for prefix, chrgitm_type in _SERVICE_TYPES:
        if item.startswith(prefix):
            return chrgitm_type
    return "14"


def parse_national_date(text: str) -> date:
    """``2024-01-01``, ``2024-01-01 00:00:00`` or ``20240101`` as a date; ValueError otherwise."""
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    head = text[:10]
    if len(head) == 10 and head[4] == "-" and head[7] == "-" and (len(text) == 10 or text[10] in " T"):
        return date.fromisoformat(head)
    raise ValueError(f"not a national date: {text!r}")


def _first(rec: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        value = rec.get(name, "")
        if value:
            return value
    return ""
