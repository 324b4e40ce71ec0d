"""Score findings against the labels of a synthetic dataset: per pattern precision, recall, precision@k.

**The matching rule.** Each pattern is scored at one entity level (:data:`PATTERN_LEVEL`): fee line
(``feedetl_sn``) for the line patterns of the rules, encounter (``mdtrt_id``) for stays and visits,
traceability code (``drug_trac_codg``) for resold drugs, doctor for doctor outliers; a pattern not in
the table is scored at the most specific level every one of its label rows names. An entity is

* a **positive** when a label row of the pattern with label "1" names it;
* a **hard negative** when only label rows with label "0" name it;
* **flagged** when a finding of the pattern names it (findings that do not name the level's entity —
  a hospital-level census finding for an encounter-level pattern — are not scored, only counted).

A flagged positive is a true positive. A flagged hard negative is a false positive, and so is a
flagged entity no label names (in a synthetic region everything not injected is clean). A flagged
entity that is a *fraud of another pattern* (the finding's line, encounter or code is in a label-1 row
of another pattern) is neither: it is counted in ``other_fraud`` and left out of ``precision`` —
``strict_precision`` counts it as false. So is a flagged clean entity whose finding's ``evidence`` names
a fraud of any pattern (the regular refill right after an injected early one, "only 12 days after
M…"): the finding rests on that fraud, and the reviewer who follows it finds it. Recall = flagged
positives / positives.

**precision@k**: the pattern's flagged entities (other patterns' frauds left out, as for precision)
ranked by their best finding's score, then amount; the share of true positives among the first
``k`` (k = inspection capacity, default 50; fewer when fewer are flagged).

>>> f = pl.DataFrame({"pattern": ["ghost_bed"] * 3, "mdtrt_id": ["M1", "M2", "M9"], "score": [0.9, 0.8, 0.7]})
>>> lab = pl.DataFrame({"pattern": ["ghost_bed"] * 3, "label": ["1", "1", "0"], "mdtrt_id": ["M1", "M3", "M9"]})
>>> r = evaluate(f, lab, k=2).row(0, named=True)
>>> r["level"], r["tp"], r["fp"], r["fn"], r["hard_negatives_flagged"], r["precision"], r["recall"], r["precision_at_k"]
('encounter', 1, 2, 1, 1, 0.3333, 0.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

LEVEL_FIELD = {
    "line": "feedetl_sn",
    "code": "drug_trac_codg",
    "encounter": "mdtrt_id",
    "person": "psn_no",
    "doctor": "doctor",
    "institution": "fixmedins_code",
}
"""Entity levels, most specific first, and the column that names each."""

PATTERN_LEVEL: Mapping[str, str] = {
    **dict.fromkeys(
        ("split_admission", "ghost_bed", "fake_admission", "card_cashout", "overlap_stay", "identity_fraud",
         "after_death", "upcoding"),
        "encounter",
    ),
    **dict.fromkeys(
        ("drug_swap", "item_swap", "duplicate_charge", "overprice", "unbundling", "overdispense", "gender_age",
         "indication", "frequency", "catalogue_scope"),
        "line",
    ),
    "drug_resale": "code",
    "doctor_outlier": "doctor",
}  # fmt: skip
MODEL_PATTERNS = frozenset(
    {"split_admission", "ghost_bed", "fake_admission", "card_cashout", "doctor_outlier"}
)
"""Patterns found by models (target precision and recall ≥ 0.8); the rest are rule patterns (≥ 0.95)."""
TARGET = {"model": 0.8, "rule": 0.95}
DEFAULT_K = 50

COLUMNS = (
    "pattern", "kind", "level", "positives", "hard_negatives", "flagged", "tp", "fp", "fn", "other_fraud",
    "hard_negatives_flagged", "unscored_findings", "precision", "strict_precision", "recall", "k", "precision_at_k",
    "target", "meets_target",
)  # fmt: skip


def _nonempty(col: str) -> pl.Expr:
    return pl.col(col).is_not_null() & (pl.col(col) != "")


def level_of(pattern: str, labels: pl.DataFrame) -> str:
    """The entity level a pattern is scored at (:data:`PATTERN_LEVEL`, else the most specific level
    named by all of its label rows, else encounter)."""
    if pattern in PATTERN_LEVEL:
        return PATTERN_LEVEL[pattern]
    mine = labels.filter(pl.col("pattern") == pattern)
    for level, col in LEVEL_FIELD.items():
        if col in mine.columns and mine.height and mine.select(_nonempty(col).all()).item():
            return level
    return "encounter"


def _other_fraud(labels: pl.DataFrame, pattern: str) -> dict[str, set[str]]:
    """Lines, encounters and codes that label-1 rows of other patterns name."""
    other = labels.filter((pl.col("pattern") != pattern) & (pl.col("label") == "1"))
    out: dict[str, set[str]] = {}
    for col in ("feedetl_sn", "mdtrt_id", "drug_trac_codg"):
        out[col] = (
            set(other.filter(_nonempty(col)).get_column(col).to_list()) if col in other.columns else set()
        )
    return out


def _names_fraud(evidence: pl.Expr, labels: pl.DataFrame) -> pl.Expr:
    """Whether a finding's evidence (JSON) names, as a string value, a line, encounter or code of a
    label-1 row."""
    fraud = labels.filter(pl.col("label") == "1")
    ids = pl.concat([fraud.get_column(c) for c in ("feedetl_sn", "mdtrt_id", "drug_trac_codg")]).unique()
    values = (
        evidence.cast(pl.String)
        .fill_null("")
        .str.extract_all(r'"[^"]+"')
        .list.eval(pl.element().str.strip_chars('"'))
    )
    return values.list.eval(pl.element().is_in(ids.filter(ids != "").implode())).list.any().fill_null(False)


def _with_columns(df: pl.DataFrame, cols: tuple[str, ...]) -> pl.DataFrame:
    missing = [c for c in cols if c not in df.columns]
    return df.with_columns(pl.lit("").alias(c) for c in missing) if missing else df


_SCHEMA = {
    "pattern": pl.String, "rule_id": pl.String, "kind": pl.String, "level": pl.String, "positives": pl.Int64,
    "hard_negatives": pl.Int64, "flagged": pl.Int64, "tp": pl.Int64, "fp": pl.Int64, "fn": pl.Int64,
    "other_fraud": pl.Int64, "hard_negatives_flagged": pl.Int64, "unscored_findings": pl.Int64,
    "precision": pl.Float64, "strict_precision": pl.Float64, "recall": pl.Float64, "k": pl.Int64,
    "precision_at_k": pl.Float64, "target": pl.Float64, "meets_target": pl.Boolean,
}  # fmt: skip


def evaluate(
    findings: pl.DataFrame, labels: pl.DataFrame, *, k: int = DEFAULT_K, by_rule: bool = False
) -> pl.DataFrame:
    """One row per pattern (of the labels or the findings): counts, precision, recall, precision@k.

    ``by_rule`` adds one row per rule or model of each pattern (``rule_id``; "*" on the pattern rows),
    scored alone against the pattern's labels — to see which detector brings which hits.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    ents = tuple(LEVEL_FIELD.values())
    findings = _with_columns(findings, (*ents, "score", "vola_amt", "rule_id")).with_columns(
        pl.col("score").cast(pl.Float64).fill_null(0.0),
        pl.col("vola_amt").cast(pl.Int64, strict=False).fill_null(0),
    )
    labels = _with_columns(labels, ents).with_columns(pl.col("label").cast(pl.String))
    patterns = sorted(
        set(labels.get_column("pattern").to_list()) | set(findings.get_column("pattern").to_list())
    )
    rows = []
    for pattern in patterns:
        mine = findings.filter(pl.col("pattern") == pattern)
        rows.append(_score(pattern, "*", mine, labels, k))
        if by_rule:
            for rule_id in sorted(set(mine.get_column("rule_id").to_list())):
                rows.append(_score(pattern, rule_id, mine.filter(pl.col("rule_id") == rule_id), labels, k))
    table = pl.DataFrame(rows, schema=_SCHEMA, orient="row") if rows else pl.DataFrame(schema=_SCHEMA)
    return table if by_rule else table.drop("rule_id")


def _score(pattern: str, rule_id: str, mine: pl.DataFrame, labels: pl.DataFrame, k: int) -> dict[str, object]:
    level = level_of(pattern, labels)
    col = LEVEL_FIELD[level]
    lab = labels.filter((pl.col("pattern") == pattern) & _nonempty(col))
    positives = set(lab.filter(pl.col("label") == "1").get_column(col).to_list())
    negatives = set(lab.filter(pl.col("label") == "0").get_column(col).to_list()) - positives
    scored = mine.filter(_nonempty(col))
    hits_other = pl.lit(False)
    for c, values in _other_fraud(labels, pattern).items():
        if values:
            hits_other = hits_other | pl.col(c).is_in(sorted(values))
    if "evidence" in scored.columns:
        hits_other = hits_other | _names_fraud(pl.col("evidence"), labels)
    ranked = (
        scored.with_columns(hits_other.alias("_other"))
        .group_by(col)
        .agg(pl.col("score").max(), pl.col("vola_amt").max(), pl.col("_other").any())
        .sort(["score", "vola_amt", col], descending=[True, True, False])
    )
    flagged = ranked.get_column(col).to_list()
    other_set = set(ranked.filter(pl.col("_other")).get_column(col).to_list())
    tp = sum(1 for e in flagged if e in positives)
    fp = sum(1 for e in flagged if e not in positives and (e in negatives or e not in other_set))
    others = sum(1 for e in flagged if e not in positives and e not in negatives and e in other_set)
    top = [e for e in flagged if e in positives or e in negatives or e not in other_set][:k]
    kind = "model" if pattern in MODEL_PATTERNS else "rule"
    precision = round(tp / (tp + fp), 4) if tp + fp else None
    recall = round(tp / len(positives), 4) if positives else None
    target = TARGET[kind]
    return {
        "pattern": pattern, "rule_id": rule_id, "kind": kind, "level": level, "positives": len(positives),
        "hard_negatives": len(negatives), "flagged": len(flagged), "tp": tp, "fp": fp, "fn": len(positives) - tp,
        "other_fraud": others, "hard_negatives_flagged": sum(1 for e in flagged if e in negatives),
        "unscored_findings": mine.height - scored.height, "precision": precision,
        "strict_precision": round(tp / len(flagged), 4) if flagged else None, "recall": recall, "k": k,
        "precision_at_k": round(sum(1 for e in top if e in positives) / len(top), 4) if top else None,
        "target": target,
        "meets_target": precision is not None and recall is not None and precision >= target and recall >= target,
    }  # fmt: skip


def to_markdown(table: pl.DataFrame) -> str:
    """The evaluation as a Markdown table (what ``evaluation.md`` holds)."""
    cols = ["pattern", "kind", "level", "positives", "flagged", "tp", "fp", "fn", "other_fraud",
            "hard_negatives_flagged", "precision", "recall", "precision_at_k", "meets_target"]  # fmt: skip

    def cell(v: object) -> str:
        if v is None:
            return "–"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:.3f}"
        return str(v)

    k = table.get_column("k")[0] if table.height else DEFAULT_K
    head = [c if c != "precision_at_k" else f"p@{k}" for c in cols]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(cols)]
    for r in table.iter_rows(named=True):
        lines.append("| " + " | ".join(cell(r[c]) for c in cols) + " |")
    note = (
        "\nPrecision leaves out entities that are frauds of another pattern (`other_fraud`); hard negatives "
        "and unlabelled entities flagged count as false positives. Targets: rule patterns ≥ 0.95, model "
        "patterns ≥ 0.80 (precision and recall).\n"
    )
    return "\n".join(lines) + "\n" + note


def save(table: pl.DataFrame, out: Path | str) -> tuple[Path, Path]:
    """Write ``evaluation.parquet`` and ``evaluation.md`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pq, md = out / "evaluation.parquet", out / "evaluation.md"
    table.write_parquet(pq)
    md.write_text("# Detection against labels\n\n" + to_markdown(table), encoding="utf-8")
    return pq, md
