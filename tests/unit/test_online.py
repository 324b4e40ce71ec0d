"""3101 / 3102 in national shapes, bad input naming the field, library validation, 3103 feedback and the
reminder compliance rate."""

from __future__ import annotations

import copy
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from yibao.money import dumps, loads
from yibao.supervision.feedback import compliance_rate, record_feedback_3103, record_shown
from yibao.supervision.kb import KBError, load_kb, rules_root
from yibao.supervision.library import LibraryError, load_library
from yibao.supervision.online import OnlineInputError, analyse_3101, analyse_3102, build_history, check

TVUS = "002206000010000"  # 经阴道超声检查, 限女性
AMLODIPINE = "XC08CAD036A001010172582"


def request(trig: str = "2", **over: Any) -> dict[str, Any]:
    data = {
        "syscode": "HIS01", "task_id": "T20250612093001A7", "trig_scen": trig, "rule_ids": "",
        "patient_dtos": [{
            "patn_id": "32058100000000012345", "patn_name": "李明", "gend": "1", "brdy": "1990-03-15",
            "poolarea": "320581", "curr_mdtrt_id": "M2",
            "fsi_encounter_dtos": [
                {"mdtrt_id": "M1", "medins_id": "H1", "medins_lv": "05", "med_type": "11", "adm_date": "2025-06-01 09:00:00",
                 "insutype": "310", "fsi_diagnose_dtos": [{"dise_codg": "I10.x09", "maindise_flag": "1"}],
                 "fsi_order_dtos": [{"rx_id": "A1", "hilist_code": AMLODIPINE, "hilist_name": "苯磺酸氨氯地平片", "cnt": "1",
                                     "pric": "10.00", "sumamt": "10.00", "prd_days": 30, "drord_begn_date": "2025-06-01 09:05:00"}]},
                {"mdtrt_id": "M2", "medins_id": "H1", "medins_name": "示例市第二人民医院", "medins_lv": "05", "med_type": "11",
                 "med_mdtrt_type": "1", "adm_date": "2025-06-12 08:55:00", "insutype": "310",
                 "fsi_diagnose_dtos": [{"dise_id": "DX01", "inout_dise_type": "1", "maindise_flag": "1", "dias_srt_no": "1",
                                        "dise_codg": "I10.x09", "dise_name": "原发性高血压", "dise_date": "2025-06-12 09:05:00"}],
                 "fsi_order_dtos": [
                     {"rx_id": "RX1-1", "rxno": "RX1", "hilist_type": "201", "chrg_type": "03", "hilist_code": TVUS,
                      "hilist_name": "经阴道超声检查", "hilist_lv": "01", "cnt": "1", "pric": "70.00", "sumamt": "70.00",
                      "drord_begn_date": "2025-06-12 09:06:00", "drord_dr_codg": "D1", "curr_drord_flag": "1"},
                     {"rx_id": "RX1-2", "rxno": "RX1", "hilist_type": "101", "chrg_type": "09", "hilist_code": AMLODIPINE,
                      "hilist_name": "苯磺酸氨氯地平片", "hilist_lv": "01", "cnt": "1", "pric": "10.00", "sumamt": "10.00",
                      "prd_days": 30, "drord_begn_date": "2025-06-12 09:06:00", "drord_dr_codg": "D1"},
                 ],
                 "fsi_operation_dtos": []},
            ]}],
    }  # fmt: skip
    data.update(over)
    return {"data": data}


def test_3101_returns_the_national_result_shape_with_per_line_details():
    out = analyse_3101(request("2"))
    by_rule = {r["rule_id"]: r for r in out["result"]}
    assert set(by_rule) == {"R-GEND-01", "R-REFILL-01"}
    g = by_rule["R-GEND-01"]
    assert set(g) == {"jr_id", "rule_id", "rule_name", "vola_cont", "patn_id", "mdtrt_id", "vola_amt", "vola_amt_stas",
                      "sev_deg", "vola_evid", "vola_bhvr_type", "task_id", "judge_result_detail_dtos"}  # fmt: skip
    assert g["vola_amt"] == Decimal("70.00") and g["sev_deg"] == "1" and g["task_id"] == "T20250612093001A7"
    assert g["mdtrt_id"] == "M2" and "条例" in g["vola_evid"] and "经阴道超声检查" in g["vola_cont"]
    assert g["judge_result_detail_dtos"] == [
        {"jrd_id": f"{g['jr_id']}/1", "patn_id": "32058100000000012345", "mdtrt_id": "M2", "rx_id": "RX1-1",
         "vola_item_type": "1", "vola_amt": Decimal("70.00")}]  # fmt: skip
    r = by_rule["R-REFILL-01"]
    assert r["judge_result_detail_dtos"][0]["rx_id"] == "RX1-2" and r["vola_amt_stas"] == "2"
    # the whole answer survives the project's float-free JSON
    assert loads(dumps(out))["result"][0]["vola_amt"] == by_rule[out["result"][0]["rule_id"]]["vola_amt"]


def test_3102_runs_the_in_event_rules_and_rule_ids_select_rules():
    out = analyse_3102(request("7"))
    assert "R-GEND-01" in {r["rule_id"] for r in out["result"]}
    only = analyse_3101(request("", rule_ids="R-REFILL-01"))
    assert [r["rule_id"] for r in only["result"]] == ["R-REFILL-01"]
    assert (
        analyse_3101(request("2", patient_dtos=[{**request()["data"]["patient_dtos"][0], "gend": "2"}]))[
            "result"
        ][0]["rule_id"]
        == "R-REFILL-01"
    )


def test_a_clean_bill_has_an_empty_result():
    req = request("2")
    p = req["data"]["patient_dtos"][0]
    p["gend"] = "2"
    p["fsi_encounter_dtos"] = p["fsi_encounter_dtos"][1:]
    assert analyse_3101(req) == {"result": []}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("task_id"), "task_id"),
        (lambda d: d.update(trig_scen="7"), "trig_scen"),
        (lambda d: d.update(trig_scen="12"), "trig_scen"),
        (lambda d: d.update(rule_ids="R-NOPE-01"), "rule_ids"),
        (lambda d: d.update(patient_dtos=[]), "patient_dtos"),
        (lambda d: d["patient_dtos"][0].pop("brdy"), "patient_dtos[0].brdy"),
        (lambda d: d["patient_dtos"][0].update(curr_mdtrt_id="M9"), "patient_dtos[0].curr_mdtrt_id"),
        (
            lambda d: d["patient_dtos"][0]["fsi_encounter_dtos"][1]["fsi_order_dtos"][1].update(cnt=1.5),
            "patient_dtos[0].fsi_encounter_dtos[1].fsi_order_dtos[1].cnt",
        ),
        (
            lambda d: d["patient_dtos"][0]["fsi_encounter_dtos"][1]["fsi_order_dtos"][0].update(pric="7O"),
            "patient_dtos[0].fsi_encounter_dtos[1].fsi_order_dtos[0].pric",
        ),
        (
            lambda d: d["patient_dtos"][0]["fsi_encounter_dtos"][1].update(med_type="77", med_mdtrt_type=""),
            "patient_dtos[0].fsi_encounter_dtos[1].med_type",
        ),
    ],
)
def test_bad_3101_input_gets_an_error_naming_the_field(mutate, field):
    req = copy.deepcopy(request("2"))
    mutate(req["data"])
    with pytest.raises(OnlineInputError) as e:
        analyse_3101(req)
    assert e.value.field == field, str(e.value)


def test_check_accepts_a_prebuilt_history():
    req = request()["data"]["patient_dtos"][0]
    hist = build_history(req["fsi_encounter_dtos"][:1], req)
    found = check(req["fsi_encounter_dtos"][1], hist, patient=req, stage="事前")
    assert {f.rule_id for f in found} == {"R-GEND-01", "R-REFILL-01"}
    assert all(f.stage == "事前" for f in found)


# --- the library ------------------------------------------------------------------------------------


def _copy_rules(tmp_path: Path) -> Path:
    shutil.copytree(rules_root(), tmp_path / "rules_data")
    return tmp_path / "rules_data"


def test_library_errors_name_the_file_the_rule_and_the_key(tmp_path):
    root = _copy_rules(tmp_path)
    f = root / "rules" / "catalogue.yaml"
    f.write_text(
        f.read_text(encoding="utf-8").replace("result_type: 明确违规", "result_type: 很严重", 1),
        encoding="utf-8",
    )
    with pytest.raises(LibraryError, match=r"catalogue\.yaml rules\[0\] \(R-GEND-01\) → result_type"):
        load_library(root / "rules")


def test_library_rejects_unknown_kinds_params_and_duplicate_ids(tmp_path):
    root = _copy_rules(tmp_path)
    f = root / "rules" / "charges.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(
        text.replace("params: {max_gap_minutes: 30", "params: {max_gap_minute: 30"), encoding="utf-8"
    )
    with pytest.raises(LibraryError, match=r"R-SPLIT-01\) → params\.max_gap_minute"):
        load_library(root / "rules")
    f.write_text(text.replace("kind: overprice", "kind: overpriced"), encoding="utf-8")
    with pytest.raises(LibraryError, match=r"R-PRICE-01\) → kind: .*unknown kind 'overpriced'"):
        load_library(root / "rules")
    f.write_text(text.replace("id: R-EXCL-01", "id: R-DUP-01"), encoding="utf-8")
    with pytest.raises(LibraryError, match=r"already defined in charges\.yaml"):
        load_library(root / "rules")


def test_knowledge_base_errors_name_the_file_the_line_and_the_column(tmp_path):
    root = _copy_rules(tmp_path)
    f = root / "kb" / "item_pairs.csv"
    lines = f.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("003301000010000", "003301000019999")
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(
        KBError, match=r"item_pairs\.csv line 3, column item_b: '003301000019999' is not in the catalogue"
    ):
        load_kb(root / "kb")


# --- 3103 feedback ----------------------------------------------------------------------------------


def test_feedback_and_compliance_rate(tmp_path):
    db = tmp_path / "fb.sqlite"
    out = analyse_3101(request("2"))["result"]
    assert record_shown(db, out, warn_type="1", on="2025-06-12") == 2
    assert record_shown(db, out, warn_type="1", on="2025-06-12") == 0  # idempotent
    assert compliance_rate(db, "2025-06").rate == Decimal("0.0000")
    j1, j2 = (r["jr_id"] for r in out)
    record_feedback_3103(
        {"data": {"warn_type": "1", "warns": [{"warn_rslt_id": j1, "dspo_way": "2"}]}}, db, on="2025-06-12"
    )
    c = compliance_rate(db, "2025-06")
    assert (c.shown, c.answered, c.followed, c.continued, c.rate) == (2, 1, 1, 0, Decimal("0.5000"))
    record_feedback_3103(
        {"warn_type": "1", "warns": [{"warn_rslt_id": j2, "dspo_way": "1", "dspo_way_rea": "已核对"}]},
        db,
        on="2025-06-13",
    )
    assert compliance_rate(db, ("2025-06-01", "2025-06-30")).continued == 1
    assert compliance_rate(db, "2025-07").shown == 0 and compliance_rate(db, "2025-07").rate is None


@pytest.mark.parametrize(
    ("msg", "field"),
    [
        ({"warn_type": "3", "warns": [{"warn_rslt_id": "J", "dspo_way": "2"}]}, "warn_type"),
        ({"warn_type": "1", "warns": []}, "warns"),
        ({"warn_type": "1", "warns": [{"dspo_way": "2"}]}, "warns[0].warn_rslt_id"),
        ({"warn_type": "1", "warns": [{"warn_rslt_id": "J", "dspo_way": "3"}]}, "warns[0].dspo_way"),
        ({"warn_type": "1", "warns": [{"warn_rslt_id": "J", "dspo_way": "1"}]}, "warns[0].dspo_way_rea"),
    ],
)
def test_bad_3103_is_refused_naming_the_field(tmp_path, msg, field):
    with pytest.raises(OnlineInputError) as e:
        record_feedback_3103({"data": msg}, tmp_path / "fb.sqlite")
    assert e.value.field == field
