# ruff: noqa: S608 - SQL is built from the validated knowledge base and rule parameters, never from user input
"""串换项目 / 耗材 (item_swap): an institution billing the dear item of a swap pair far more than its peers.

The knowledge base's ``swap`` pairs (B超 ↔ 彩超, 换药(小) ↔ 换药(大), III级护理 ↔ I级护理, CT平扫 ↔ CT增强 …)
say which items are commonly swapped. A single line cannot show a swap between two items the institution
really provides (that takes the images, the reports, the equipment: an on-site check); an institution's
distribution can: for every pair, each institution's share of the dear item among the pair's lines is
compared with its peers (same coarse level and institution type) by robust z = (share − median) /
(1.4826 · MAD). Where the share is far above the peers (``min_z``, and at least ``min_gap`` above the
peer median, over at least ``min_lines`` lines), the institution gets one 可疑 finding per pair — a lead
for inspection, naming no line (most of its dear lines may be genuine). vola_amt estimates the excess:
the dear lines above the peer share × the price gap between the twins at the institution (vola_amt_stas 2).

Before (peers bill 彩超 for ~25% of B超 + 彩超)::

    H7  002201000010000 B超常规检查   × 300     002202000010000 彩色多普勒超声 × 100   (share 25%)

After::

    H7  002201000010000 B超常规检查   × 160     002202000010000 彩色多普勒超声 × 240   (share 60%)
    → R-SWAP-01 可疑 on H7 × (B超, 彩超): 240 − 25% × 400 = 140 excess lines × (¥100 − ¥40) = ¥8,400

The line-level swap a claim does show — the dear twin billed where the level does not provide it — is
:mod:`yibao.supervision.rules.swap_level` (R-SWAP-02). Online checks cannot see an institution's
distribution: this rule is 事后 only (``online`` returns []).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from yibao.supervision.findings import Finding
from yibao.supervision.kb import KnowledgeBase
from yibao.supervision.rules._base import Encounter, Prepared
from yibao.supervision.rules._sql import Columns, empty_findings, fee_expr, finish, lines_sql, run, yuan_expr

UNIT = 10_000


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
        price AS (SELECT l.fixmedins_code, l.code, PERCENTILE_DISC(0.5) WITHIN GROUP (ORDER BY l.pric) AS pric,
                         MIN(l.t) AS first_t, MAX(l.t) AS last_t
                  FROM l WHERE l.fixmedins_code IN (SELECT fixmedins_code FROM flag) GROUP BY l.fixmedins_code, l.code)
        SELECT flag.fixmedins_code, flag.cheap, ch.name AS cheap_name, flag.dear AS code, it.name, flag.n_dear, flag.n,
               flag.share, flag.med, flag.z, flag.peers, dp.pric AS dear_pric, cp.pric AS cheap_pric, dp.first_t, dp.last_t
        FROM flag JOIN yb_kb_items it ON it.code = flag.dear JOIN yb_kb_items ch ON ch.code = flag.cheap
        JOIN price dp ON dp.fixmedins_code = flag.fixmedins_code AND dp.code = flag.dear
        LEFT JOIN price cp ON cp.fixmedins_code = flag.fixmedins_code AND cp.code = flag.cheap
    """
    rows = run(con, sql)
    if rows.height == 0:
        return empty_findings()
    excess = (pl.col("n_dear") - (pl.col("med") * pl.col("n")).round(0)).clip(lower_bound=0).cast(pl.Int64)
    gap = (pl.col("dear_pric") - pl.col("cheap_pric").fill_null(0)).clip(lower_bound=0)
    rows = rows.with_columns(excess=excess).with_columns(
        vola_amt=fee_expr(gap, pl.col("excess") * UNIT),
        pct=(pl.col("share") * 100).round(0).cast(pl.Int64),
        peer=(pl.col("med") * 100).round(0).cast(pl.Int64),
        zr=pl.col("z").round(1),
        vola_amt_stas=pl.lit("2"),
    )
    cont = pl.format(
        "{} 在 {} 至 {} 收取「{}」（{}）{} 次，占其与「{}」合计 {} 次的 {}%（同级同类 {} 家机构中位数 {}%，稳健z={}），"
        "估算多收 {} 次，疑将「{}」（{}）串换为「{}」，需现场核查设备与检查报告",
        "fixmedins_code", pl.col("first_t").dt.strftime("%Y-%m-%d"), pl.col("last_t").dt.strftime("%Y-%m-%d"),
        "name", "code", "n_dear", "cheap_name", "n", "pct", "peers", "peer", "zr", "excess", "cheap_name", "cheap",
        "name",
    )  # fmt: skip
    return finish(
        rows,
        rule,
        cont=cont,
        key=["fixmedins_code", "cheap", "code"],
        evidence=["code", "cheap", "n_dear", "n", "share", "med", "z", "peers", "dear_pric", "cheap_pric", "excess",
                  "vola_amt_stas"],
        amount=pl.format("估算违规金额 {} 元", yuan_expr("vola_amt")),
    )  # fmt: skip
