# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""What every rule kind's batch form shares: normalised line views, scope filters, and the findings frame.

Batch rules are SQL over the dataset views that the audit registers (fee_list_d, mdtrt_d, psn_info_b,
fixmedins_b, setl_list_diag_d, setl_list_oprn_d, drug_trac_d, setl_d) and the knowledge-base tables
(``yb_kb_*``, :meth:`yibao.supervision.kb.KnowledgeBase.register`). The SQL is plain ANSI so that the same
text runs on Spark: joins, CASE, EXTRACT, SUBSTRING, LIKE, window functions, ``INTERVAL 'n' MINUTE``
arithmetic. The exceptions, which each engine spells its own way, go through a function of this module:
a difference of two dates in days, :func:`days_between` (DuckDB ``CAST(b AS DATE) - CAST(a AS DATE)``,
Spark ``DATEDIFF(b, a)``), a whole-string regular-expression match, :func:`full_match` (DuckDB
``regexp_full_match``, Spark ``RLIKE '^…$'``), and a list aggregate, :func:`list_sql` (DuckDB ``LIST``,
Spark ``COLLECT_LIST``): set :data:`DIALECT`. ``hash(…)`` and ``ANY_VALUE`` are spelt alike in both.

Money in the views may be DECIMAL (as on disk: DECIMAL(16,2) money, (16,4) counts, (16,6) prices) or
already integer (fen, 1e-4, 1e-6): :class:`Columns` looks at the view's types and writes the cast, so
every rule sees integers. The rows a rule's SQL returns become the ``findings`` table through
:func:`finish` (jr_id, the sentence, the evidence as JSON).

>>> days_between("a.t", "b.t")
'(CAST(b.t AS DATE) - CAST(a.t AS DATE))'
>>> full_match("t.code", "8[0-9]{19}")
"regexp_full_match(t.code, '8[0-9]{19}')"
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from yibao.codes import med_types
from yibao.dataset.schema import TABLES

__all__ = [
    "DIALECT",
    "FINDING_COLUMNS",
    "INPATIENT_MED_TYPES",
    "Columns",
    "age_sql",
    "days_between",
    "empty_findings",
    "finish",
    "full_match",
    "lines_sql",
    "list_sql",
    "lv_sql",
    "prefix_join",
    "scope_sql",
    "sql_list",
    "visit_sql",
    "yuan_expr",
]

DIALECT = "duckdb"
"""``duckdb`` or ``spark``: only :func:`days_between`, :func:`full_match` and :func:`list_sql` differ."""

FINDING_COLUMNS = TABLES["findings"].names
_FINDING_TYPES: dict[str, Any] = {c: pl.String for c in FINDING_COLUMNS}
_FINDING_TYPES["vola_amt"] = pl.Int64
_FINDING_TYPES["score"] = pl.Float64

SCALE = {"money": 100, "count": 10_000, "price": 1_000_000}


def days_between(a: str, b: str) -> str:
    """Whole days from date-or-time ``a`` to ``b`` (b − a) as SQL, in :data:`DIALECT`."""
    if DIALECT == "spark":
        return f"DATEDIFF(CAST({b} AS DATE), CAST({a} AS DATE))"
    return f"(CAST({b} AS DATE) - CAST({a} AS DATE))"


def full_match(col: str, pattern: str) -> str:
    """Whether the whole of ``col`` matches the regular expression ``pattern`` (no quotes in it), as SQL
    in :data:`DIALECT` — far cheaper than character tests such as TRANSLATE over millions of rows."""
    if DIALECT == "spark":
        return f"({col} RLIKE '^{pattern}$')"
    return f"regexp_full_match({col}, '{pattern}')"


def list_sql(col: str) -> str:
    """The aggregate that collects ``col`` into a list (also as a window function), in :data:`DIALECT`."""
    return f"COLLECT_LIST({col})" if DIALECT == "spark" else f"LIST({col})"


def lv_sql(col: str) -> str:
    """The coarse level "3" / "2" / "1" of a national hosp_lv code (as yibao.codes.coarse_hosp_lv)."""
    return (
        f"CASE WHEN {col} IN ('01', '02', '03', '04', '3') THEN '3' "
        f"WHEN {col} IN ('05', '06', '07', '2') THEN '2' ELSE '1' END"
    )


def sql_list(values: Iterable[str]) -> str:
    """Quoted values as an SQL list for IN: ``('21', '22')``."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


INPATIENT_MED_TYPES = sql_list(med_types("inpatient"))
"""The inpatient med_type codes as an SQL list (yibao.codes.med_types)."""


def visit_sql(col: str) -> str:
    """The benefit visit kind of a med_type (as yibao.codes.visit_kind; unknown → outpatient)."""
    kinds = " ".join(f"WHEN {col} IN {sql_list(med_types(k))} THEN '{k}'" for k in ("inpatient", "chronic", "pharmacy", "ltc"))
    return f"CASE {kinds} ELSE 'outpatient' END"


def age_sql(brdy: str, on: str) -> str:
    """Whole years of age on ``on`` (a date or time) for a birthday ``brdy``."""
    return (
        f"(EXTRACT(YEAR FROM {on}) - EXTRACT(YEAR FROM {brdy}) - CASE WHEN "
        f"EXTRACT(MONTH FROM {on}) * 100 + EXTRACT(DAY FROM {on}) < "
        f"EXTRACT(MONTH FROM {brdy}) * 100 + EXTRACT(DAY FROM {brdy}) THEN 1 ELSE 0 END)"
    )


class Columns:
    """The types of the registered views' columns, to write exact integer casts."""

    def __init__(self, con: Any) -> None:
        rows = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
        ).fetchall()
        self.types = {(t, c): str(d).upper() for t, c, d in rows}

    def has(self, table: str, column: str) -> bool:
        return (table, column) in self.types

    def scaled(self, table: str, alias: str, column: str) -> str:
        """``alias.column`` as an integer in yibao's unit (fen / 1e-4 / 1e-6) whatever its stored type."""
        kind = TABLES[table].column(column).kind
        t = self.types.get((table, column), "BIGINT")
        ref = f"{alias}.{column}"
        if t.startswith("DECIMAL") or t in ("DOUBLE", "FLOAT", "REAL") or t.startswith("NUMERIC"):
            return f"CAST(ROUND({ref} * {SCALE[kind]}) AS BIGINT)"
        return f"CAST({ref} AS BIGINT)"


def scope_sql(rule: Any, *, visit: str = "visit", lv: str = "lv", insutype: str = "insutype") -> str:
    """SQL conditions restricting rows to the rule's scenarios, hospital levels and insutypes ("TRUE")."""
    parts = []
    scen = set(rule.scenarios)
    if scen and not scen >= {"住院", "门(急)诊", "购药"}:
        visits = []
        if "住院" in scen:
            visits += ["inpatient", "ltc"]
        if "门(急)诊" in scen:
            visits += ["outpatient", "chronic"]
        if "购药" in scen:
            visits += ["pharmacy"]
        parts.append(f"{visit} IN ({', '.join(repr(v) for v in visits) or 'NULL'})")
    if rule.hosp_levels and set(rule.hosp_levels) != {"1", "2", "3"}:
        parts.append(f"{lv} IN ({', '.join(repr(v) for v in rule.hosp_levels)})")
    if rule.insutypes:
        parts.append(f"{insutype} IN ({', '.join(repr(v) for v in rule.insutypes)})")
    return " AND ".join(parts) or "TRUE"


def lines_sql(
    cols: Columns,
    rule: Any,
    *,
    join: str = "",
    where: str = "TRUE",
    person: bool = False,
    extra: Sequence[str] = (),
) -> str:
    """A SELECT of fee lines in the rule's scope with their encounter and institution, normalised.

    Columns: feedetl_sn, mdtrt_id, psn_no, fixmedins_code, code, chrgitm_type, t (fee time), cnt, pric,
    amt (integers), doctor, dept, rxno, prd_days, med_type, visit, begntime, endtime, insutype, lv,
    inst_type (1 hospital / 2 pharmacy), and with ``person`` gend, brdy, death_date. ``join`` adds
    joins (e.g. a KB table on ``f.med_list_codg``) before the scope filter and ``where``.
    """
    cnt = cols.scaled("fee_list_d", "f", "cnt")
    pric = cols.scaled("fee_list_d", "f", "pric")
    amt = cols.scaled("fee_list_d", "f", "det_item_fee_sumamt")
    prd = "f.prd_days" if cols.has("fee_list_d", "prd_days") else "0"
    p_cols = ", p.gend, p.brdy, p.death_date" if person else ""
    p_join = "JOIN psn_info_b p ON p.psn_no = f.psn_no" if person else ""
    more = "".join(f", {e}" for e in extra)
    return f"""
        SELECT * FROM (
          SELECT f.feedetl_sn, f.mdtrt_id, f.psn_no, f.fixmedins_code, f.med_list_codg AS code,
                 f.med_chrgitm_type AS chrgitm_type, f.fee_ocur_time AS t, {cnt} AS cnt, {pric} AS pric,
                 {amt} AS amt, f.bilg_dr_codg AS doctor, f.bilg_dept_codg AS dept, f.rxno,
                 CAST({prd} AS BIGINT) AS prd_days, m.med_type, {visit_sql("m.med_type")} AS visit, m.begntime,
                 m.endtime, m.insutype, {lv_sql("i.hosp_lv")} AS lv, i.fixmedins_type AS inst_type{p_cols}{more}
          FROM fee_list_d f
          JOIN mdtrt_d m ON m.mdtrt_id = f.mdtrt_id
          JOIN fixmedins_b i ON i.fixmedins_code = f.fixmedins_code
          {p_join}
          {join}
          WHERE {where}
        ) scoped WHERE {scope_sql(rule)}
    """


def yuan_expr(col: str) -> pl.Expr:
    """Fen as a yuan string with two decimals (1234 → "12.34"), vectorised."""
    c = pl.col(col).cast(pl.Int64)
    return pl.format("{}.{}", (c // 100).cast(pl.String), (c % 100).cast(pl.String).str.zfill(2))


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=_FINDING_TYPES)


def finish(
    rows: pl.DataFrame,
    rule: Any,
    *,
    cont: pl.Expr,
    key: Sequence[str],
    evidence: Sequence[str],
    amount: pl.Expr | None = None,
) -> pl.DataFrame:
    """Rows of a rule's SQL → the findings table.

    ``rows`` must hold vola_amt and the entity columns it knows (fixmedins_code, psn_no, mdtrt_id,
    feedetl_sn, drug_trac_codg, doctor); ``cont`` builds the sentence (the rule's name and id are
    appended), ``key`` the columns that make jr_id unique, ``evidence`` the columns kept as JSON.
    ``amount`` replaces the "违规金额 X 元" phrase where the amount is not what the finding states
    (an estimate, or an amount a later step computes).
    """
    if rows.height == 0:
        return empty_findings()
    money = amount if amount is not None else pl.format("违规金额 {} 元", yuan_expr("vola_amt"))
    sentence = pl.format("{}，{}，依据规则「{}」（{}）。", cont, money, pl.lit(rule.name), pl.lit(rule.id))
    jr = pl.concat_str(
        [pl.lit(rule.id), *[pl.col(k).cast(pl.String).fill_null("") for k in key]], separator=":"
    )
    ev_cols = [c for c in evidence if c in rows.columns]
    out = rows.with_columns(
        jr_id=jr,
        rule_id=pl.lit(rule.id),
        rule_name=pl.lit(rule.name),
        pattern=pl.lit(rule.pattern),
        sev_deg=pl.lit(rule.sev_deg),
        vola_cont=sentence,
        evidence=pl.struct(ev_cols).struct.json_encode() if ev_cols else pl.lit("{}"),
        score=pl.lit(1.0),
        stage=pl.lit("事后"),
    )
    for c in ("fixmedins_code", "psn_no", "mdtrt_id", "feedetl_sn", "drug_trac_codg", "doctor"):
        if c not in out.columns:
            out = out.with_columns(pl.lit("").alias(c))
    out = out.unique("jr_id", keep="first", maintain_order=True)
    return out.select(
        [pl.col(c).cast(t).fill_null("" if t == pl.String else 0) for c, t in _FINDING_TYPES.items()]
    )


def run(con: Any, sql: str) -> pl.DataFrame:
    """Execute ``sql`` and return the result as a Polars frame."""
    out = con.sql(sql).pl()
    assert isinstance(out, pl.DataFrame)
    return out


def prefix_join(table: str, alias: str, code: str, kb_table: str, kb_alias: str) -> str:
    """``table`` as ``alias`` joined with the KB rows (columns prefix, len) whose prefix its ``code``
    column starts with, as an equi-join: each row's code is cut once per distinct prefix length, so the
    engine hashes instead of comparing every code with every prefix (a nested loop over millions of
    diagnoses). Use it where a table would stand in a FROM clause.

    >>> prefix_join("setl_list_diag_d", "d", "diag_code", "yb_kb_cc", "k")  # doctest: +NORMALIZE_WHITESPACE
    '(SELECT d_.*, SUBSTRING(d_.diag_code, 1, n_.n) AS k_cut, n_.n AS k_n FROM setl_list_diag_d d_
      CROSS JOIN (SELECT DISTINCT CAST(len AS INTEGER) AS n FROM yb_kb_cc) n_) d
     JOIN yb_kb_cc k ON k.prefix = d.k_cut AND CAST(k.len AS INTEGER) = d.k_n'
    """
    return (
        f"(SELECT {alias}_.*, SUBSTRING({alias}_.{code}, 1, n_.n) AS {kb_alias}_cut, n_.n AS {kb_alias}_n "
        f"FROM {table} {alias}_ CROSS JOIN (SELECT DISTINCT CAST(len AS INTEGER) AS n FROM {kb_table}) n_) {alias} "
        f"JOIN {kb_table} {kb_alias} ON {kb_alias}.prefix = {alias}.{kb_alias}_cut "
        f"AND CAST({kb_alias}.len AS INTEGER) = {alias}.{kb_alias}_n"
    )


def line_who(time: str = "t") -> pl.Expr:
    """ "<institution> 于 <day> 为参保人 <psn_no> 收取「<name>」（<code>）" from the usual columns."""
    return pl.format(
        "{} 于 {} 为参保人 {} 收取「{}」（{}）",
        pl.col("fixmedins_code"), pl.col(time).dt.strftime("%Y-%m-%d"), pl.col("psn_no"), pl.col("name"), pl.col("code"),
    )  # fmt: skip


def enc_who(time: str = "begntime") -> pl.Expr:
    """ "<institution> 于 <day> 为参保人 <psn_no> 的就诊（<mdtrt_id>）" from the usual columns."""
    return pl.format(
        "{} 于 {} 为参保人 {} 的就诊（{}）",
        pl.col("fixmedins_code"), pl.col(time).dt.strftime("%Y-%m-%d"), pl.col("psn_no"), pl.col("mdtrt_id"),
    )  # fmt: skip


def fee_expr(pric: pl.Expr, cnt: pl.Expr) -> pl.Expr:
    """pric (1e-6 yuan) × cnt (1e-4) in fen, half away from zero (yibao.money.round_div), vectorised."""
    num = pric.cast(pl.Int64) * cnt.cast(pl.Int64)
    d = 10**8
    pos = (2 * num + d) // (2 * d)
    neg = -((-2 * num + d) // (2 * d))
    return pl.when(num >= 0).then(pos).otherwise(neg)


def share_expr(amount: pl.Expr, num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """amount × num / den in fen, half away from zero, vectorised (den > 0)."""
    n = amount.cast(pl.Int64) * num.cast(pl.Int64)
    d = den.cast(pl.Int64)
    return pl.when(n >= 0).then((2 * n + d) // (2 * d)).otherwise(-((-2 * n + d) // (2 * d)))
