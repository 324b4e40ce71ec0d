"""Evaluation arithmetic: entity levels, hard negatives, other patterns' frauds, precision@k."""

from __future__ import annotations

import polars as pl
import pytest

from yibao.supervision.evaluate import evaluate, level_of, save, to_markdown


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None)


def one(table: pl.DataFrame, pattern: str) -> dict[str, object]:
    return table.filter(pl.col("pattern") == pattern).row(0, named=True)


def test_each_pattern_is_scored_at_the_level_its_labels_name() -> None:
    labels = frame([{"pattern": "x_new", "label": "1", "mdtrt_id": "M1", "feedetl_sn": "F1"},
                    {"pattern": "x_new", "label": "0", "mdtrt_id": "M2", "feedetl_sn": ""}])  # fmt: skip
    assert level_of("ghost_bed", labels) == "encounter"
    assert level_of("drug_resale", labels) == "code"
    assert level_of("doctor_outlier", labels) == "doctor"
    assert level_of("overprice", labels) == "line"
    assert level_of("x_new", labels) == "encounter"  # the most specific level every row names


def test_hard_negatives_and_unlabelled_hits_are_false_positives() -> None:
    labels = frame([
        {"pattern": "overprice", "label": "1", "feedetl_sn": "F1"},
        {"pattern": "overprice", "label": "1", "feedetl_sn": "F2"},
        {"pattern": "overprice", "label": "0", "feedetl_sn": "F3"},
    ])  # fmt: skip
    findings = frame([{"pattern": "overprice", "feedetl_sn": f, "score": 1.0} for f in ("F1", "F3", "F9")])
    r = one(evaluate(findings, labels), "overprice")
    assert (r["tp"], r["fp"], r["fn"], r["hard_negatives_flagged"]) == (1, 2, 1, 1)
    assert r["precision"] == pytest.approx(1 / 3, abs=1e-4) and r["recall"] == 0.5
    assert r["meets_target"] is False and r["kind"] == "rule" and r["target"] == 0.95


def test_a_hit_on_another_patterns_fraud_is_counted_apart() -> None:
    labels = frame([
        {"pattern": "identity_fraud", "label": "1", "mdtrt_id": "M1"},
        {"pattern": "gender_age", "label": "1", "mdtrt_id": "M2", "feedetl_sn": "F2"},
    ])  # fmt: skip
    findings = frame([{"pattern": "identity_fraud", "mdtrt_id": m, "score": 1.0} for m in ("M1", "M2")])
    r = one(evaluate(findings, labels), "identity_fraud")
    assert (r["tp"], r["fp"], r["other_fraud"]) == (1, 0, 1)
    assert r["precision"] == 1.0 and r["strict_precision"] == 0.5


def test_a_clean_hit_whose_evidence_names_a_fraud_is_counted_apart_but_a_hard_negative_is_not() -> None:
    labels = frame([
        {"pattern": "overdispense", "label": "1", "mdtrt_id": "M1", "feedetl_sn": "F1"},
        {"pattern": "overdispense", "label": "0", "mdtrt_id": "M3", "feedetl_sn": "F3"},
    ])  # fmt: skip
    findings = frame([
        {"pattern": "overdispense", "feedetl_sn": "F1", "score": 1.0, "evidence": '{"prev_mdtrt":"M0"}'},
        {"pattern": "overdispense", "feedetl_sn": "F2", "score": 1.0, "evidence": '{"prev_mdtrt":"M1","supply":30}'},
        {"pattern": "overdispense", "feedetl_sn": "F3", "score": 1.0, "evidence": '{"prev_mdtrt":"M1"}'},
        {"pattern": "overdispense", "feedetl_sn": "F4", "score": 1.0, "evidence": '{"prev_mdtrt":"M11"}'},
    ])  # fmt: skip
    r = one(evaluate(findings, labels), "overdispense")
    # F2 rests on the fraud M1; F3 is a hard negative whatever it names; F4 names no fraud ("M11" ≠ "M1")
    assert (r["tp"], r["fp"], r["other_fraud"], r["hard_negatives_flagged"]) == (1, 2, 1, 1)


def test_several_findings_on_one_entity_count_once() -> None:
    labels = frame([{"pattern": "ghost_bed", "label": "1", "mdtrt_id": "M1", "feedetl_sn": "F1"},
                    {"pattern": "ghost_bed", "label": "1", "mdtrt_id": "M1", "feedetl_sn": "F2"}])  # fmt: skip
    findings = frame(
        [{"pattern": "ghost_bed", "mdtrt_id": "M1", "rule_id": r, "score": 0.5} for r in ("M-A", "M-B")]
    )
    r = one(evaluate(findings, labels), "ghost_bed")
    assert (r["positives"], r["flagged"], r["tp"], r["precision"], r["recall"]) == (1, 1, 1, 1.0, 1.0)


def test_findings_without_the_levels_entity_are_not_scored() -> None:
    labels = frame([{"pattern": "ghost_bed", "label": "1", "mdtrt_id": "M1"}])
    findings = frame([{"pattern": "ghost_bed", "mdtrt_id": "", "fixmedins_code": "H1", "score": 0.9}])
    r = one(evaluate(findings, labels), "ghost_bed")
    assert (r["flagged"], r["unscored_findings"], r["recall"], r["precision"]) == (0, 1, 0.0, None)


def test_precision_at_k_ranks_by_score_then_amount() -> None:
    labels = frame([{"pattern": "card_cashout", "label": "1", "mdtrt_id": m} for m in ("M1", "M2")])
    findings = frame([
        {"pattern": "card_cashout", "mdtrt_id": "M9", "score": 0.9, "vola_amt": 1},
        {"pattern": "card_cashout", "mdtrt_id": "M1", "score": 0.8, "vola_amt": 5},
        {"pattern": "card_cashout", "mdtrt_id": "M2", "score": 0.8, "vola_amt": 9},
    ])  # fmt: skip
    assert one(evaluate(findings, labels, k=1), "card_cashout")["precision_at_k"] == 0.0
    assert one(evaluate(findings, labels, k=2), "card_cashout")["precision_at_k"] == 0.5
    assert one(evaluate(findings, labels, k=50), "card_cashout")["precision_at_k"] == pytest.approx(
        2 / 3, abs=1e-4
    )
    with pytest.raises(ValueError, match="k must be"):
        evaluate(findings, labels, k=0)


def test_a_pattern_without_findings_has_zero_recall_and_by_rule_rows_split_detectors() -> None:
    labels = frame([{"pattern": "upcoding", "label": "1", "mdtrt_id": "M1"},
                    {"pattern": "overlap_stay", "label": "1", "mdtrt_id": "M2"}])  # fmt: skip
    findings = frame(
        [{"pattern": "overlap_stay", "mdtrt_id": "M2", "rule_id": r, "score": 1.0} for r in ("R-O", "M-O")]
    )
    t = evaluate(findings, labels, by_rule=True)
    assert one(t, "upcoding")["recall"] == 0.0
    assert t.filter(pl.col("pattern") == "overlap_stay")["rule_id"].to_list() == ["*", "M-O", "R-O"]


def test_the_table_is_saved_as_parquet_and_markdown(tmp_path: object) -> None:
    from pathlib import Path

    labels = frame([{"pattern": "split_admission", "label": "1", "mdtrt_id": "M1"}])
    findings = frame([{"pattern": "split_admission", "mdtrt_id": "M1", "score": 1.0}])
    table = evaluate(findings, labels, k=5)
    pq, md = save(table, Path(str(tmp_path)))
    assert pl.read_parquet(pq).equals(table)
    text = md.read_text(encoding="utf-8")
    assert "| split_admission | model | encounter | 1 | 1 | 1 | 0 | 0 |" in text and "p@5" in to_markdown(
        table
    )
