"""The dataset tables (DESIGN.md §3.3): names, columns and their kinds — the contract between the
synthetic region, settlement of a year, supervision, DRG and statistics.

A dataset is a folder of Parquet files named like the national platform's warehouse tables. On disk,
money is DECIMAL(16,2), counts DECIMAL(16,4), prices DECIMAL(16,6), codes strings; in memory (Polars),
money is Int64 fen, counts Int64 in 1e-4 and prices Int64 in 1e-6 — exact integers everywhere.

>>> TABLES["fee_list_d"].column("pric").kind
'price'
>>> [c.name for c in TABLES["drug_trac_d"].columns][:3]
['drug_trac_codg', 'feedetl_sn', 'mdtrt_id']
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("str", "int", "float", "money", "count", "price", "ratio", "date", "datetime")
"""str = code or text; int = whole number; money = fen (DECIMAL(16,2) on disk); count = 1e-4 units
(DECIMAL(16,4)); price = 1e-6 yuan (DECIMAL(16,6)); ratio = 1e-4 (DECIMAL(5,4)); date; datetime (seconds)."""

SCALE = {"money": 2, "count": 4, "price": 6, "ratio": 4}
PRECISION = {"money": 16, "count": 16, "price": 16, "ratio": 5}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: str
    nullable: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _t(name: str, doc: str, *cols: Column) -> Table:
    return Table(name, doc, cols)


def S(name: str, doc: str = "", nullable: bool = False) -> Column:
    return Column(name, "str", nullable, doc)


def I(name: str, doc: str = "", nullable: bool = False) -> Column:  # noqa: E743
    return Column(name, "int", nullable, doc)


def M(name: str, doc: str = "") -> Column:
    return Column(name, "money", False, doc)


def D(name: str, doc: str = "", nullable: bool = False) -> Column:
    return Column(name, "date", nullable, doc)


def T(name: str, doc: str = "", nullable: bool = False) -> Column:
    return Column(name, "datetime", nullable, doc)


SETLINFO_MONEY = (
    "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
    "hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
    "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay",
)  # fmt: skip

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        _t(
            "psn_info_b",
            "one row per insured person",
            S("psn_no", "personal number (unique)"),
            S("certno", "GB 11643 identity number (synthetic: area 99xxxx)"),
            S("psn_name"),
            S("gend", "1 男 / 2 女"),
            D("brdy"),
            S("insutype", "310 employees / 390 residents"),
            S("psn_type", "national 人员类别"),
            S("insuplc_admdvs"),
            S("emp_no", "employer (empty for residents)"),
            S("psn_idet_type", "assistance identity (yibao codes 2301–2306) or empty"),
            D("death_date", nullable=True),
            M("acct_balc_begn", "personal account balance on 1 January"),
            S("mulaid_psn_no", "family member whose account may pay for this person (家庭共济), or empty"),
        ),
        _t(
            "psn_insu_d",
            "one row per enrolment period (history: breaks, repairs, late enrolment)",
            S("psn_no"),
            S("insutype"),
            D("begndate"),
            D("enddate", nullable=True),
            S("in_window", "1 = enrolled inside the concentrated window, 0 = outside"),
            S("repaid", "1 = the period was paid retroactively (补缴), 0 = not"),
            S(
                "zero_claim",
                "1 = the funds reimbursed nothing in this period's year, 0 = claims, empty = unknown",
            ),
        ),
        _t(
            "emp_b",
            "one row per employer",
            S("emp_no"),
            S("emp_name"),
            S("emp_type", "1 企业 / 2 机关事业 / 3 灵活就业 (pseudo-employer)"),
            I("emp_size"),
        ),
        _t(
            "fixmedins_b",
            "one row per designated institution",
            S("fixmedins_code"),
            S("fixmedins_name"),
            S("fixmedins_type", "1 hospital / clinic, 2 pharmacy"),
            S("hosp_lv", "national 01–10, empty for pharmacies"),
            S("admdvs"),
            I("bed_cnt"),
        ),
        _t(
            "dept_b",
            "one row per department of an institution",
            S("fixmedins_code"),
            S("dept_codg"),
            S("dept_name"),
            S("caty", "科别"),
            I("bed_cnt"),
        ),
        _t(
            "medstaff_b",
            "doctors, pharmacists and nurses with their codes",
            S("staff_codg"),
            S("staff_name"),
            S("staff_type", "1 doctor / 2 pharmacist / 3 nurse"),
            S("fixmedins_code"),
            S("dept_codg"),
            S("profttl", "职称 1 主任 2 副主任 3 主治 4 住院/医师"),
        ),
        _t(
            "mdtrt_d",
            "one row per encounter",
            S("mdtrt_id"),
            S("psn_no"),
            S("fixmedins_code"),
            S("med_type"),
            T("begntime"),
            T("endtime"),
            S("dscg_maindiag_code"),
            S("dscg_maindiag_name"),
            S("dept_codg"),
            S("atddr_no"),
            S("insutype"),
            S("adm_bed", "bed number for inpatient stays, else empty"),
            S("dscg_way", "离院方式 1–5, 9; empty if outpatient"),
        ),
        _t(
            "setl_list_diag_d",
            "one row per diagnosis of an encounter",
            S("mdtrt_id"),
            S("diag_type", "1 西医 2 中医"),
            S("maindiag_flag", "1 principal / 0"),
            S("diag_code"),
            S("diag_name"),
        ),
        _t(
            "setl_list_oprn_d",
            "one row per procedure",
            S("mdtrt_id"),
            S("oprn_code"),
            S("oprn_name"),
            S("main_oprn_flag"),
            D("oprn_date"),
        ),
        _t(
            "fee_list_d",
            "one row per fee line",
            S("feedetl_sn", "unique in the dataset"),
            S("mdtrt_id"),
            S("psn_no"),
            S("fixmedins_code"),
            S("med_list_codg"),
            S("med_chrgitm_type"),
            T("fee_ocur_time"),
            Column("cnt", "count"),
            Column("pric", "price"),
            M("det_item_fee_sumamt"),
            S("bilg_dr_codg"),
            S("bilg_dept_codg"),
            S("rxno"),
            I("prd_days", "days of medication supplied (0 = not a drug)"),
        ),
        _t(
            "drug_trac_d",
            "one row per scanned traceability code (one per smallest package)",
            S("drug_trac_codg", "20 digits, starts with 8, first 7 = product and package"),
            S("feedetl_sn"),
            S("mdtrt_id"),
            S("med_list_codg"),
            S("fixmedins_code"),
            T("sel_time"),
            S("retn_flag", "0 sale / 1 return"),
        ),
        _t(
            "setl_d",
            "one row per settlement (every money field of the 2207 setlinfo)",
            S("setl_id"),
            S("mdtrt_id"),
            S("psn_no"),
            S("fixmedins_code"),
            T("setl_time"),
            S("insutype"),
            S("psn_type"),
            S("med_type"),
            S("clr_type"),
            S("hosp_lv"),
            *(M(n) for n in SETLINFO_MONEY),
            Column("pool_prop_selfpay", "ratio"),
            S("refd_setl_flag", "0 normal / 1 reversed"),
        ),
        _t(
            "contribution_d",
            "one row per contribution",
            S("psn_no"),
            S("emp_no"),
            S("insutype"),
            S("clct_month", "YYYY-MM"),
            S(
                "clct_type",
                "1 单位缴费 2 个人缴费 3 财政补助 4 医疗救助资助 5 灵活就业个人缴费 6 个人账户划入(退休)",
            ),
            M("amount"),
            M("to_account", "part credited to the personal account"),
        ),
        _t(
            "findings",
            "supervision output: one row per finding (DESIGN.md §3.5; yibao.supervision.findings)",
            S("jr_id"),
            S("rule_id"),
            S("rule_name"),
            S("pattern"),
            S("sev_deg", "1 明确违规 / 2 可疑 / 3 提示"),
            M("vola_amt"),
            S("vola_cont"),
            S("fixmedins_code"),
            S("psn_no"),
            S("mdtrt_id"),
            S("feedetl_sn"),
            S("drug_trac_codg"),
            S("doctor"),
            S("evidence", "JSON"),
            Column("score", "float"),
            S("stage"),
        ),
        _t(
            "labels",
            "synthetic datasets only: one row per injected fraud case or hard negative",
            S("case_id"),
            S("pattern", "DESIGN.md §3.5 vocabulary"),
            S("label", "1 fraud / 0 legitimate look-alike"),
            S("mdtrt_id"),
            S("feedetl_sn"),
            S("psn_no"),
            S("fixmedins_code"),
            S("drug_trac_codg"),
            S("doctor"),
            S("params", "JSON of the injector's parameters"),
        ),
    )
}
