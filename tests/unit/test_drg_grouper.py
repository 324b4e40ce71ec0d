"""CHS-DRG 1.1 grouping: every entry-rule form, the MDC order, CC/MCC exclusion, QY, 0000 and bad input.

Cases are built from the tables' own codes (read here, in the test), never from real 病案. Without the
tables the tests skip and say where to get them.
"""

from __future__ import annotations

import doctest
import random
from collections import Counter

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao.drg import grouper as grouper_module
from yibao.drg.grouper import Case, Grouper, GroupResult, Status, case_from_row, group_batch, group_frame
from yibao.drg.synth import case_for, synthetic_cases
from yibao.drg.tables import Kind, ProcedureList, Tables, TablesMissing, load_tables


@pytest.fixture(scope="module")
def t() -> Tables:
    try:
        return load_tables()
    except TablesMissing as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def g(t: Tables) -> Grouper:
    return Grouper(t)


def first(codes: frozenset[str] | set[str]) -> str:
    return sorted(codes)[0]


def codes(lst: ProcedureList | None) -> frozenset[str]:
    assert lst is not None
    return lst.codes


def adult(dx: tuple[str, ...], px: tuple[str, ...] = (), sex: str = "1", age: int = 50) -> Case:
    return Case("c", sex, age, diagnoses=dx, procedures=px)


def an_or_procedure_outside(t: Tables, mdc: str) -> str:
    """An operating-room procedure that no surgical or procedure ADRG of ``mdc`` lists."""
    listed: set[str] = set()
    for a in t.mdcs[mdc].adrgs:
        r = a.rule
        if r.main_procedure is not None:
            listed |= codes(r.main_procedure)
        for alt in r.procedure_sets:
            for pl_ in alt:
                listed |= pl_.codes
    mdca: set[str] = set()
    for a in t.mdcs["MDCA"].adrgs:
        if a.rule.main_procedure is not None:
            mdca |= a.rule.main_procedure.codes
        for alt in a.rule.procedure_sets:
            for pl_ in alt:
                mdca |= pl_.codes
    return first(t.or_procedures - listed - mdca)


def test_doctests() -> None:
    assert doctest.testmod(grouper_module).failed == 0


# ---------------------------------------------------------------------------------------------
# every ADRG, every form
# ---------------------------------------------------------------------------------------------


def test_every_adrg_is_reached_by_a_case_built_from_its_own_lists(t: Tables, g: Grouper) -> None:
    unreached = []
    for code in sorted(t.adrgs):
        rng = random.Random(code)
        if not any(g.group(case_for(t, code, rng, i, exclusive=True)).adrg == code for i in range(12)):
            unreached.append(code)
    assert unreached == []


def test_main_procedure_form(t: Tables, g: Grouper) -> None:
    r = g.group(adult(("K35.800x001",), ("47.0901",)))  # 急性阑尾炎, 阑尾切除术
    assert (r.status, r.mdc, r.adrg, r.drg) == (Status.OK, "MDCG", "GD2", "GD25")
    assert "main_procedure" in r.trace_text and "main procedure 47.0901" in r.trace_text
    # the main procedure is the first one: listed second, it does not place the case
    r2 = g.group(adult(("K35.800x001",), ("99.2900", "47.0901")))
    assert r2.adrg != "GD2"


def test_principal_form(t: Tables, g: Grouper) -> None:
    code = "I21.000"
    if code not in codes(t.adrgs["FR1"].rule.principal):
        code = first(codes(t.adrgs["FR1"].rule.principal))
    r = g.group(adult((code,)))
    assert (r.mdc, r.adrg) == ("MDCF", "FR1")
    assert f"principal {code} in 'FR1 包含以下主要诊断：'" in r.trace_text


def test_principal_and_main_procedure_form(g: Grouper) -> None:
    # 急性阑尾炎伴有弥漫性腹膜炎 + 阑尾切除术 → GD1 (伴穿孔、化脓、坏疽等阑尾切除术)
    r = g.group(adult(("K35.200",), ("47.0901",)))
    assert (r.adrg, r.drg) == ("GD1", "GD15")
    assert "principal+main_procedure" in r.trace_text


def test_procedure_pair_form(g: Grouper) -> None:
    both = g.group(adult(("N18.500",), ("52.8000", "55.6901")))  # 胰腺移植 和 肾异体移植术
    assert (both.mdc, both.adrg, both.drg) == ("MDCA", "AC1", "AC19")
    assert "'AC1 同时包含以下手术：'" in both.trace_text and "'AC1 和'" in both.trace_text
    assert g.group(adult(("N18.500",), ("52.8000",))).adrg == "AD1"
    assert g.group(adult(("N18.500",), ("55.6901",))).adrg == "AE1"
    # the same procedure cannot fill both lists
    assert g.group(adult(("N18.500",), ("55.6901", "55.6901"))).adrg == "AE1"


def test_principal_and_procedure_pair_form(t: Tables, g: Grouper) -> None:
    r = t.adrgs["IB1"].rule
    dx = first(codes(r.principal))
    a, b = first(r.procedure_sets[0][0].codes), first(r.procedure_sets[0][1].codes)
    assert g.group(adult((dx,), (a, b))).adrg == "IB1"
    assert g.group(adult((dx,), (a,))).adrg != "IB1"


def test_principal_and_procedure_tables_form(t: Tables, g: Grouper) -> None:
    r = t.adrgs["JA1"].rule
    t1, t2 = r.procedure_sets[0]
    _, t3, t4 = r.procedure_sets[1]
    dx = "C50.900"  # 乳房恶性肿瘤
    assert dx in codes(r.principal)
    assert g.group(adult((dx,), (first(t2.codes), first(t1.codes)), sex="2")).adrg == "JA1"
    alt2 = g.group(adult((dx,), (first(t3.codes), first(t1.codes), first(t4.codes)), sex="2"))
    assert alt2.adrg == "JA1" and "手术表 4" in alt2.trace_text
    # 手术表 1 alone is not JA1
    assert g.group(adult((dx,), (first(t1.codes),), sex="2")).adrg != "JA1"


def test_any_diagnosis_form_newborn_weight(t: Tables, g: Grouper) -> None:
    dx = first(codes(t.adrgs["PS2"].rule.any_diagnosis))

    def baby(w: int | None, days: int = 5) -> GroupResult:
        return g.group(Case("b", "1", 0, days, w, diagnoses=(dx,)))

    assert baby(1499).adrg == "PS1"
    assert baby(1500).adrg == "PS2"
    assert baby(1999).adrg == "PS2"
    assert baby(2000).adrg == "PS3"
    missing = baby(None)
    assert missing.status == Status.NEWBORN_DATA and "birth weight" in missing.trace_text
    # in a secondary diagnosis too (主要诊断或其他诊断中包含以下诊断)
    other = first(codes(t.adrgs["PU1"].rule.principal) - codes(t.adrgs["PR1"].rule.principal))
    r = g.group(Case("b", "1", 0, 5, 1700, diagnoses=(other, dx)))
    assert r.adrg == "PS2" and f"diagnosis {dx}" in r.trace_text


def test_any_diagnosis_form_with_surgery(t: Tables, g: Grouper) -> None:
    hiv = first(codes(t.adrgs["YC1"].rule.any_diagnosis) & t.mdcs["MDCY"].principal)
    op = g.group(adult((hiv,), ("47.0901",)))
    assert (op.mdc, op.adrg) == ("MDCY", "YC1") and "operating-room procedure 47.0901" in op.trace_text
    assert g.group(adult((hiv,))).adrg in ("YR1", "YR2")


def test_any_or_procedure_forms(t: Tables, g: Grouper) -> None:
    sepsis = g.group(adult(("A41.900",), ("47.0901",)))
    assert (sepsis.adrg, sepsis.drg[:3]) == ("SB1", "SB1") and "全部手术" in sepsis.trace_text
    burn = first(t.mdcs["MDCW"].principal - codes(t.adrgs["WB1"].rule.principal))
    r = g.group(adult((burn,), ("47.0901",)))
    assert r.adrg == "WJ1" and "without a list" in r.trace_text


def test_no_or_procedure_form_and_multiple_trauma(t: Tables, g: Grouper) -> None:
    head, chest = "S06.500", "S27.000"  # 创伤性硬膜下出血 (头颈部), 创伤性气胸 (胸部)
    assert head in t.mdcs["MDCZ"].sites["头颈部创伤"] and chest in t.mdcs["MDCZ"].sites["胸部创伤"]
    r = g.group(adult((head, chest)))
    assert (r.mdc, r.adrg) == ("MDCZ", "ZZ1") and "2 trauma sites" in r.trace_text
    # one site only: not multiple trauma
    single = g.group(adult((head,)))
    assert single.mdc != "MDCZ" and "only one trauma site" in single.trace_text
    # an OR procedure no MDCZ ADRG takes: ZQY
    qy = g.group(adult((head, chest), (an_or_procedure_outside(t, "MDCZ"),)))
    assert (qy.status, qy.adrg, qy.drg) == (Status.AMBIGUOUS, "QY", "ZQY")


# ---------------------------------------------------------------------------------------------
# the MDC order
# ---------------------------------------------------------------------------------------------


def test_mdca_comes_first(g: Grouper) -> None:
    r = g.group(adult(("I50.900",), ("37.5100",)))  # 心力衰竭 + 心脏移植术
    assert (r.mdc, r.adrg, r.drg) == ("MDCA", "AA1", "AA19")
    assert r.trace[0].startswith("MDC MDCA")


def test_newborns_by_age_in_days(t: Tables, g: Grouper) -> None:
    dx = first(codes(t.adrgs["PV1"].rule.principal) & codes(t.adrgs["PU1"].rule.principal))
    assert g.group(Case("n", "1", 0, 28, 3000, diagnoses=(dx,))).adrg == "PU1"
    assert g.group(Case("n", "1", 0, 29, 3000, diagnoses=(dx,))).adrg == "PV1"
    older = g.group(Case("n", "1", 2, None, None, diagnoses=(dx,)))
    assert older.mdc != "MDCP" and "one year or older" in older.trace_text
    unknown = g.group(Case("n", "1", 0, None, None, diagnoses=(dx,)))
    assert unknown.status == Status.NEWBORN_DATA
    no_age = g.group(Case("n", "1", None, None, None, diagnoses=(dx,)))
    assert no_age.status == Status.NEWBORN_DATA and "age is missing" in no_age.trace_text


def test_hiv_before_the_mdc_of_the_diagnosis(t: Tables, g: Grouper) -> None:
    both = sorted(t.mdcs["MDCY"].principal & t.mdcs["MDCX"].principal)
    assert both, "a diagnosis in both MDCX and MDCY"
    assert g.group(adult((both[0],))).mdc == "MDCY"


def test_sex_check(t: Tables, g: Grouper) -> None:
    man = g.group(adult(("C61.x00",), sex="1"))  # 前列腺恶性肿瘤
    assert man.mdc == "MDCM" and man.status == Status.OK
    woman = g.group(adult(("C61.x00",), sex="2"))
    assert (woman.status, woman.drg, woman.adrg) == (Status.SEX_CONFLICT, "0000", "00")
    assert "not for a woman" in woman.trace_text
    # a diagnosis in both MDCM and MDCN goes by sex
    assert g.group(adult(("C79.800x228",), sex="1")).mdc == "MDCM"
    assert g.group(adult(("C79.800x228",), sex="2")).mdc == "MDCN"
    unknown = g.group(adult(("C61.x00",), sex=""))
    assert unknown.mdc == "MDCM" and "sex unknown" in unknown.trace_text


def test_surgical_before_procedure_before_medical(t: Tables, g: Grouper) -> None:
    for mdc in t.mdcs.values():
        kinds = [a.kind for a in mdc.adrgs]
        assert kinds == sorted(kinds, key=[Kind.SURGICAL, Kind.PROCEDURE, Kind.MEDICAL].index)


# ---------------------------------------------------------------------------------------------
# QY, 0000
# ---------------------------------------------------------------------------------------------


def test_qy_for_an_operating_room_procedure_unrelated_to_the_mdc(t: Tables, g: Grouper) -> None:
    op = an_or_procedure_outside(t, "MDCG")
    r = g.group(adult(("K35.800x001",), (op,)))
    assert (r.status, r.mdc, r.adrg, r.drg) == (Status.AMBIGUOUS, "MDCG", "QY", "GQY")
    assert f"operating-room procedure {op}" in r.trace_text
    # a procedure that is not an OR procedure leaves the case medical
    assert g.group(adult(("K35.800x001",), ("99.2900",))).status == Status.OK


def test_0000_with_the_reason(t: Tables, g: Grouper) -> None:
    gap = g.group(adult(("C79.800x228",), sex="1"))  # in MDCM's table, in no ADRG of MDCM
    assert (gap.status, gap.mdc, gap.adrg, gap.drg) == (Status.NO_ADRG, "MDCM", "00", "0000")
    assert "no entry rule of MDCM" in gap.trace_text
    p_code = first(codes(t.adrgs["PV1"].rule.principal) - set(t.principal_mdcs))
    nowhere = g.group(adult((p_code,)))
    assert nowhere.status == Status.NO_MDC


# ---------------------------------------------------------------------------------------------
# MCC / CC and the exclusion tables
# ---------------------------------------------------------------------------------------------


def test_cc_and_mcc_with_exclusion_tables(t: Tables, g: Grouper) -> None:
    adrg = t.adrgs["GS1"]  # 胃肠出血: split 1/3/5
    assert adrg.suffixes == ("1", "3", "5")
    earlier = [
        a.rule.principal.codes
        for a in t.mdcs["MDCG"].adrgs
        if a.kind == Kind.MEDICAL and a.code < "GS1" and a.rule.principal
    ]
    p = first(codes(adrg.rule.principal) - set().union(*earlier))
    assert g.group(adult((p,))).drg == "GS15"
    mccs = sorted(c for c, e in t.cc.items() if e.level == "MCC" and e.table and c != p)
    cancelled = next(c for c in mccs if p in t.exclusions[t.cc[c].table or ""])
    counting = next(c for c in mccs if p not in t.exclusions[t.cc[c].table or ""])
    cc = next(
        c for c, e in sorted(t.cc.items()) if e.level == "CC" and e.table and p not in t.exclusions[e.table]
    )
    with_mcc = g.group(adult((p, counting)))
    assert with_mcc.drg == "GS11" and with_mcc.severity == "MCC"
    assert f"MCC {counting}" in with_mcc.trace_text and "counts" in with_mcc.trace_text
    excluded = g.group(adult((p, cancelled)))
    table = t.cc[cancelled].table
    assert excluded.drg == "GS15"
    assert f"excluded, 表 {table} contains the principal {p}" in excluded.trace_text
    assert g.group(adult((p, cc))).drg == "GS13"
    assert g.group(adult((p, cc, counting))).drg == "GS11"
    # an MCC whose exclusion column says 无 always counts
    never = next(c for c, e in sorted(t.cc.items()) if e.table is None and e.level == "MCC")
    free = g.group(adult((p, never)))
    assert free.drg == "GS11" and "no exclusion table" in free.trace_text


def test_split_falls_back_to_the_nearest_drg(t: Tables, g: Grouper) -> None:
    # GD2 has only GD23/GD25: an MCC gives GD23
    mcc = next(
        c
        for c, e in sorted(t.cc.items())
        if e.level == "MCC" and (e.table is None or "K35.800x001" not in t.exclusions[e.table])
    )
    r = g.group(adult(("K35.800x001", mcc), ("47.0901",)))
    assert r.drg == "GD23" and "split only into GD23/GD25" in r.trace_text
    # ZZ1 has ZZ11/ZZ15: a CC gives ZZ15
    assert t.adrgs["ZZ1"].suffixes == ("1", "5")


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "status"),
    [
        (Case("x", "1", 40, diagnoses=()), Status.NO_PRINCIPAL),
        (Case("x", "1", 40, diagnoses=("", "K35.800x001")), Status.NO_PRINCIPAL),
        (Case("x", "1", 40, diagnoses=("K99.999x999",)), Status.UNKNOWN_PRINCIPAL),
        (Case("x", "1", 40, diagnoses=("not a code",)), Status.UNKNOWN_PRINCIPAL),
        (Case("x", "1", -1, diagnoses=("K35.800x001",)), Status.INVALID_AGE),
        (Case("x", "1", 151, diagnoses=("K35.800x001",)), Status.INVALID_AGE),
        (Case("x", "1", 0, 400, diagnoses=("K35.800x001",)), Status.INVALID_AGE),
        (Case("x", "1", 0, -2, diagnoses=("K35.800x001",)), Status.INVALID_AGE),
        (Case("x", "1", 0, 3, 20_000, diagnoses=("K35.800x001",)), Status.INVALID_WEIGHT),
    ],
)
def test_bad_input_gives_a_status_and_a_trace(g: Grouper, case: Case, status: Status) -> None:
    r = g.group(case)
    assert r.status == status and r.drg == "0000" and r.trace


def test_unknown_codes_are_reported_not_fatal(g: Grouper) -> None:
    r = g.group(adult(("K35.800x001", "FOO", "K99.999x999"), ("47.0901", "00.0000x999")))
    assert r.adrg == "GD2"
    text = r.trace_text
    assert "'FOO' is not an ICD-10" in text and "K99.999x999 is in no table" in text
    assert "'00.0000x999' is in no ADRG list" in text


def test_codes_are_normalised(g: Grouper) -> None:
    assert g.group(adult((" k35.800X001 ",), ("47.0901",))).adrg == "GD2"
    # a dagger code written without its asterisk part
    r = g.group(adult(("A18.000x047",)))
    assert r.status in (Status.OK, Status.NO_ADRG) and "read as A18.000x047+M49.0*" in r.trace_text


def test_rows_with_unreadable_values(g: Grouper) -> None:
    c = case_from_row({"case_id": 1, "gender": "男", "age": "abc", "diagnoses": "K35.800x001"})
    assert c.gender == "1" and c.problems == (("age", "'abc' is not a number"),)
    assert g.group(c).status == Status.INVALID_AGE
    c2 = case_from_row({"case_id": 2, "gender": 2.0, "age": 30.0, "los": "x", "diagnoses": ["O80.000"]})
    r = g.group(c2)
    assert c2.gender == "2" and "los" in r.trace_text


some_codes = st.sampled_from(["K35.800x001", "47.0901", "S06.500", "S27.000", "C61.x00", "P07.200", "37.5100",
                         "", " ", "Z", "B20.001", "81.5100", "A41.900", "x", "K35.200"])  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    dx=st.lists(st.one_of(some_codes, st.text(max_size=12)), max_size=5),
    px=st.lists(st.one_of(some_codes, st.text(max_size=12)), max_size=4),
    sex=st.one_of(st.none(), st.sampled_from(["1", "2", "9", ""])),
    age=st.one_of(st.none(), st.integers(-5, 200)),
    age_day=st.one_of(st.none(), st.integers(-5, 800)),
    weight=st.one_of(st.none(), st.integers(-10, 30_000)),
)
def test_grouping_never_raises(
    g: Grouper,
    dx: list[str],
    px: list[str],
    sex: str | None,
    age: int | None,
    age_day: int | None,
    weight: int | None,
) -> None:
    r = g.group(Case("h", sex, age, age_day, weight, diagnoses=tuple(dx), procedures=tuple(px)))
    assert isinstance(r.status, Status)
    assert r.trace and "internal error" not in r.trace_text
    if r.status == Status.OK:
        assert r.drg[:3] == r.adrg and len(r.drg) == 4
    elif r.status == Status.AMBIGUOUS:
        assert r.drg.endswith("QY")
    else:
        assert (r.adrg, r.drg) == ("00", "0000")


# ---------------------------------------------------------------------------------------------
# memo and batches
# ---------------------------------------------------------------------------------------------


def test_memo_gives_the_same_answer_and_keeps_case_notes_apart(t: Tables) -> None:
    g = Grouper(t)
    a = g.group(Case("a", "1", 40, diagnoses=("K35.800x001", "FOO"), procedures=("47.0901",)))
    b = g.group(Case("b", "1", 40, diagnoses=("K35.800x001",), procedures=("47.0901",)))
    assert a.case_id == "a" and b.case_id == "b"
    assert "FOO" in a.trace_text and "FOO" not in b.trace_text
    assert (a.drg, a.trace[-3:]) == (b.drg, b.trace[-3:])
    cases = list(synthetic_cases(t, 400, seed=3))
    fresh = Grouper(t, memo_size=1).group_many(cases)
    memo = g.group_many(cases + cases)
    assert memo[:400] == fresh and memo[400:] == fresh


def test_group_batch_and_frame(t: Tables, g: Grouper) -> None:
    rows: list[dict[str, object]] = [
        {"case_id": "1", "gender": "1", "age": 45, "diagnoses": "K35.800x001", "procedures": "47.0901"},
        {"case_id": "2", "gender": "2", "age": None, "diagnoses": None, "procedures": None},
        {"case_id": "3", "gender": "1", "age": 0, "age_day": 10, "weight": 1700, "diagnoses": "P07.200"},
    ]
    out = group_batch(rows, g)
    assert [r.status for r in out] == [Status.OK, Status.NO_PRINCIPAL, Status.OK]
    df = pl.DataFrame(rows)
    res = group_frame(df, g)
    assert res.columns[: len(df.columns)] == df.columns
    assert res.get_column("drg").to_list() == [r.drg for r in out]
    assert res.get_column("status").to_list() == ["ok", "no_principal", "ok"]
    seen: list[int] = []
    group_frame(df, g, progress=seen.append, chunk=2)
    assert seen == [2, 3]
    with pytest.raises(ValueError, match="diagnoses"):
        group_frame(pl.DataFrame({"case_id": ["1"]}), g)


def test_a_synthetic_year_groups_sensibly(t: Tables) -> None:
    g = Grouper(t)
    cases = list(synthetic_cases(t, 3000, seed=9))
    counts = Counter(r.status for r in g.group_many(cases))
    assert counts[Status.OK] > 0.9 * len(cases)
    assert set(counts) <= set(Status)


def test_a_bug_stays_inside_its_case(t: Tables, monkeypatch: pytest.MonkeyPatch) -> None:
    g = Grouper(t)

    def boom(*_: object) -> GroupResult:
        raise RuntimeError("boom")

    monkeypatch.setattr(g, "_assign", boom)
    [bad] = g.group_many([adult(("K35.800x001",))])
    assert (bad.status, bad.drg) == (Status.INTERNAL_ERROR, "0000") and "boom" in bad.trace_text
