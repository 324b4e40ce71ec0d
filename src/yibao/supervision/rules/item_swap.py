# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""串换项目 / 耗材 (item_swap): a cheap service or consumable done, the dearer item of its pair billed.

The knowledge base's ``swap`` pairs (B超 ↔ 彩超, 换药(小) ↔ 换药(大), III级护理 ↔ I级护理, CT平扫 ↔ CT增强 …)
say which items are commonly swapped. A single line cannot show a swap; an institution can: for every
pair, each institution's share of the dear item among the pair's lines is compared with its peers (same
coarse level and institution type) by robust z = (share − median) / (1.4826 · MAD). Where the share is
far above the peers (``min_z``, and at least ``min_gap`` above the peer median, over at least
``min_lines`` lines), the dear lines of that institution are 可疑 (to be verified against records and
equipment); vola_amt is the price gap to the cheap item at the institution (excess over the cheap
item's median price there), an estimate (vola_amt_stas 2).

Before (peers bill 彩超 for ~25% of B超 + 彩超)::

    H7  002201000010000 B超常规检查   × 300     002202000010000 彩色多普勒超声 × 100   (share 25%)

After::

    H7  002201000010000 B超常规检查   × 160     002202000010000 彩色多普勒超声 × 240   (share 60%)
    → R-SWAP-01 可疑 on each 彩超 line of H7, vola_amt = ¥100.00 − ¥40.00 per line

Online checks cannot see an institution's distribution: the rule is 事后 only (``online`` returns []).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared
from yibao.supervision.rules._sql import Columns, fee_expr, finish, line_who, lines_sql, run


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    min_z: float = Field(3.5, gt=0)
    min_gap: float = Field(0.15, ge=0, le=1)
    min_lines: int = Field(20, ge=1)
    min_peers: int = Field(5, ge=2)


def prepare(rule: Any, kb: KnowledgeBase) -> Prepared:
    rule.params_of(Params)
    return Prepared(frozenset(), None)


def online(enc: Encounter, rule: Any, prep: Prepared) -> list[Finding]:
    return []


def batch(con: Any, rule: Any, kb: KnowledgeBase) -> pl.DataFrame:
    p: Params = rule.params_of(Params)
    kb.register(con, "pairs", "items")
    cols = Columns(con)
    codes = "SELECT item_a FROM yb_kb_pairs WHERE relation = 'swap' UNION SELECT item_b FROM yb_kb_pairs WHERE relation = 'swap'"
    sql = f"""
        WITH p AS (SELECT item_a AS cheap, item_b AS dear FROM yb_kb_pairs WHERE relation = 'swap'),
        l AS ({lines_sql(cols, rule, where=f"f.med_list_codg IN ({codes})")}),
        c AS (SELECT l.fixmedins_code, l.lv, l.inst_type, p.cheap, p.dear,
                     SUM(CASE WHEN l.code = p.dear THEN 1 ELSE 0 END) AS n_dear, COUNT(*) AS n
              FROM l JOIN p ON l.code = p.cheap OR l.code = p.dear
              GROUP BY l.fixmedins_code, l.lv, l.inst_type, p.cheap, p.dear),
        s AS (SELECT c.*, CAST(n_dear AS DOUBLE) / n AS share FROM c),
        med AS (SELECT lv, inst_type, cheap, dear, COUNT(*) AS peers,
                       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY share) AS med
                FROM s WHERE n >= {p.min_lines} GROUP BY lv, inst_type, cheap, dear),
        mad AS (SELECT s.lv, s.inst_type, s.cheap, s.dear,
                       PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY ABS(s.share - med.med)) AS mad
                FROM s JOIN med ON med.lv = s.lv AND med.inst_type = s.inst_type AND med.cheap = s.cheap AND med.dear = s.dear
                WHERE s.n >= {p.min_lines} GROUP BY s.lv, s.inst_type, s.cheap, s.dear),
        flag AS (SELECT s.*, med.med, med.peers, mad.mad,
                        (s.share - med.med) / GREATEST(1.4826 * mad.mad, 0.01) AS z
                 FROM s JOIN med ON med.lv = s.lv AND med.inst_type = s.inst_type AND med.cheap = s.cheap AND med.dear = s.dear
                 JOIN mad ON mad.lv = s.lv AND mad.inst_type = s.inst_type AND mad.cheap = s.cheap AND mad.dear = s.dear
                 WHERE s.n >= {p.min_lines} AND med.peers >= {p.min_peers}
                   AND s.share - med.med >= {p.min_gap}
                   AND (s.share - med.med) / GREATEST(1.4826 * mad.mad, 0.01) >= {p.min_z}),
        cheap_price AS (SELECT l.fixmedins_code, l.code, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY l.pric) AS cheap_pric
                        FROM l WHERE l.code IN (SELECT cheap FROM flag) GROUP BY l.fixmedins_code, l.code)
        SELECT l.feedetl_sn, l.mdtrt_id, l.psn_no, l.fixmedins_code, l.doctor, l.code, it.name, l.t, l.cnt, l.pric,
               flag.cheap, ch.name AS cheap_name, flag.share, flag.med, flag.z, flag.n, cp.cheap_pric
        FROM l JOIN flag ON flag.fixmedins_code = l.fixmedins_code AND flag.dear = l.code
        JOIN yb_kb_items it ON it.code = l.code JOIN yb_kb_items ch ON ch.code = flag.cheap
        LEFT JOIN cheap_price cp ON cp.fixmedins_code = l.fixmedins_code AND cp.code = flag.cheap
    """
    rows = run(con, sql).with_columns(
        vola_amt=pl.max_horizontal(
            fee_expr(pl.col("pric") - pl.col("cheap_pric").fill_null(0), pl.col("cnt")), pl.lit(0)
        ),
        pct=(pl.col("share") * 100).round(0).cast(pl.Int64),
        peer=(pl.col("med") * 100).round(0).cast(pl.Int64),
    )
    cont = pl.format(
        "{}，该机构此项目占「{}」与本项目合计的 {}%（同级同类机构中位数 {}%），疑将「{}」（{}）串换为本项目",
        line_who(), pl.col("cheap_name"), pl.col("pct"), pl.col("peer"), pl.col("cheap_name"), pl.col("cheap"),
    )  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["feedetl_sn"],
        evidence=["code", "name", "t", "cheap", "share", "med", "z", "n", "cnt", "pric", "cheap_pric"],
    )
