"""The CHS-DRG 1.1 tables: every file read, every entry-rule form recognised, anything new refused.

The tables are never part of yibao; without them these tests skip and say where to get them.
"""

from __future__ import annotations

import doctest
from collections import Counter
from pathlib import Path

import pytest

from yibao.drg import tables as tables_module
from yibao.drg.tables import (
    ENV_VAR,
    Form,
    Kind,
    Tables,
    TablesError,
    TablesMissing,
    default_folder,
    load_tables,
    normalise_code,
)


@pytest.fixture(scope="module")
def t() -> Tables:
    try:
        return load_tables()
    except TablesMissing as e:
        pytest.skip(str(e))


def _copy(src: Path, dst: Path) -> Path:
    """A writable copy of the tables folder in tmp (symlinks for the files a test does not change)."""
    dst.mkdir()
    (dst / "MDC").mkdir()
    for p in src.rglob("*"):
        if p.is_file():
            target = dst / p.relative_to(src)
            target.symlink_to(p)
    return dst


def _replace_file(folder: Path, name: str, text: str) -> None:
    path = folder / name
    path.unlink()
    path.write_text(text, encoding="utf-8")


def test_doctests() -> None:
    assert doctest.testmod(tables_module).failed == 0


def test_normalise_code() -> None:
    assert normalise_code(" a01.002+g01* ") == "A01.002+G01*"
    assert normalise_code("47.0900X001") == "47.0900x001"
    assert normalise_code("x59.900") == "X59.900"
    assert normalise_code("") == ""


def test_counts_of_the_official_scheme(t: Tables) -> None:
    assert len(t.mdcs) == 26
    assert len(t.adrgs) == 376
    assert len(t.drgs) == 628
    suffix = Counter(d[3] for d in t.drgs)
    assert suffix == {"1": 123, "3": 129, "5": 184, "9": 192}  # benefits.md §8.1
    assert sum(a.kind == Kind.SURGICAL for a in t.adrgs.values()) > 100
    for a in t.adrgs.values():
        assert a.mdc[3] == a.code[0]
        assert all(a.code + s in t.drgs for s in a.suffixes)


def test_mcc_cc_and_exclusion_tables(t: Tables) -> None:
    levels = Counter(e.level for e in t.cc.values())
    # OpenDRG's own data for chs_drg_11 has 4,677 MCC and 16,567 CC rows
    assert 4600 <= levels["MCC"] <= 4700
    assert 16400 <= levels["CC"] <= 16700
    assert len(t.exclusions) > 200
    assert t.cc["A01.100"].table == "7-1"
    assert "A00.900" in t.exclusions["7-1"]
    assert all(e.table is None or e.table in t.exclusions for e in t.cc.values())
    # "无" in the exclusion column: a CC that nothing cancels
    assert t.cc["U82.100"].table is None


def test_glued_codes_and_multi_record_lines_are_read(t: Tables) -> None:
    # 7_CCE.txt: "…其他特指 的J63.800x001 铸工尘肺" and several records on one page line
    assert "J63.800x001" in t.exclusions["7-105"]
    assert "J34.003" in t.exclusions["7-103"]
    # 5_MCC.txt line "1100 疾病编码 疾病名称 排除内容 A05.202 急性坏死性肠炎 表 7-1 …"
    assert t.cc["A05.202"] == ("MCC", "7-1")


def test_principal_tables_and_sites(t: Tables) -> None:
    assert t.mdcs["MDCA"].principal == frozenset()
    assert "K35.800x001" in t.mdcs["MDCG"].principal
    assert set(t.mdcs["MDCZ"].sites) == {
        "头颈部创伤", "胸部创伤", "腹部创伤", "泌尿系统创伤", "生殖系统创伤", "躯干、脊柱创伤", "上肢创伤",
        "下肢创伤", "骨盆创伤",
    }  # fmt: skip
    assert t.mdcs["MDCM"].sex == "1" and t.mdcs["MDCN"].sex == "2" and t.mdcs["MDCO"].sex == "2"
    assert t.principal_mdcs["C79.800x228"] == ("MDCM", "MDCN")  # 生殖器官继发恶性肿瘤: by sex
    # MDC/MDCZ.dat comments one line out with '#'; it is reported, not silently dropped
    assert any("commented out" in w and "S12.910" in w for w in t.warnings)


def test_every_form_is_found(t: Tables) -> None:
    counts = t.form_counts()
    assert sum(counts.values()) == 376
    assert {f.value for f in Form} <= {k.split(" ")[0] for k in counts}
    assert counts["principal"] > 150 and counts["main_procedure"] > 100


@pytest.mark.parametrize(
    ("adrg", "form"),
    [
        ("AA1", Form.MAIN_PROCEDURE),
        ("GZ1", Form.PRINCIPAL),
        ("BB1", Form.PRINCIPAL_MAIN_PROCEDURE),
        ("AC1", Form.PROCEDURE_PAIR),
        ("FB1", Form.PROCEDURE_PAIR),
        ("IB1", Form.PRINCIPAL_PROCEDURE_PAIR),
        ("JA1", Form.PRINCIPAL_PROCEDURE_TABLES),
        ("NA1", Form.PRINCIPAL_PROCEDURE_TABLES),
        ("PS2", Form.ANY_DIAGNOSIS),
        ("YC1", Form.ANY_DIAGNOSIS),
        ("SB1", Form.ANY_OR_PROCEDURE),
        ("XJ1", Form.ANY_OR_PROCEDURE),
        ("WJ1", Form.ANY_OR_PROCEDURE),
        ("ZZ1", Form.NO_OR_PROCEDURE),
    ],
)
def test_form_of(t: Tables, adrg: str, form: Form) -> None:
    assert t.adrgs[adrg].rule.form == form


def test_rule_details(t: Tables) -> None:
    ja1 = t.adrgs["JA1"].rule
    assert [len(alt) for alt in ja1.procedure_sets] == [2, 3]  # 手术表 1+2, or 1+3+4
    assert "85.7000x001" in ja1.procedure_sets[0][0].codes
    na1 = t.adrgs["NA1"].rule  # written "手术 1：" instead of "手术表 1："
    assert [len(alt) for alt in na1.procedure_sets] == [1, 2]
    assert t.adrgs["PS1"].rule.weight == (1, 1499)
    assert t.adrgs["PS2"].rule.weight == (1500, 1999)
    assert t.adrgs["PS4"].rule.weight == (2500, 10**6)
    assert t.adrgs["PB1"].rule.age_days == (0, 28)
    assert t.adrgs["PV1"].rule.age_days == (29, 364)
    assert t.adrgs["PU1"].rule.age_days == (0, 28)  # MDCP default: newborn
    assert t.adrgs["YC1"].rule.or_procedure is True  # a surgical ADRG with only a diagnosis list
    assert t.adrgs["WJ1"].rule.implicit_or  # no list at all: any OR procedure
    assert t.adrgs["AH1"].rule.or_procedure is None  # MDCA does not need an OR procedure
    assert t.adrgs["GZ1"].rule.or_procedure is None
    assert "47.0901" in t.or_procedures and "99.2900" not in t.or_procedures


def test_grouping_order_inside_an_mdc(t: Tables) -> None:
    kinds = [a.kind for a in t.mdcs["MDCB"].adrgs]
    assert kinds == sorted(kinds, key=[Kind.SURGICAL, Kind.PROCEDURE, Kind.MEDICAL].index)
    assert [a.code for a in t.mdcs["MDCP"].adrgs][:4] == ["PB1", "PC1", "PJ1", "PK1"]


def test_names_are_clean(t: Tables) -> None:
    assert t.adrgs["IB1"].name == "复杂脊柱疾患或3节段及以上脊柱融合手术或翻修手术"
    assert "~~" not in t.dx_name("A18.000x049+M49.0*")
    assert t.px_name("37.5100") == "心脏移植术"


def test_aliases_for_dagger_codes(t: Tables) -> None:
    assert t.aliases.get("A18.000x047") == "A18.000x047+M49.0*"


def test_missing_folder_says_where_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(TablesMissing) as e:
        load_tables(tmp_path / "nowhere")
    text = str(e.value)
    assert "OpenDRG/DRG_Rules" in text and "CHS_DRG_11" in text and ENV_VAR in text


def test_missing_file(t: Tables, tmp_path: Path) -> None:
    copy = _copy(t.folder, tmp_path / "tables")
    (copy / "7_CCE.txt").unlink()
    with pytest.raises(TablesMissing, match=r"7_CCE\.txt"):
        load_tables(copy)


def test_env_var_names_the_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert default_folder() == tmp_path
    monkeypatch.delenv(ENV_VAR)
    assert default_folder().parts[-3:] == ("shared", "data", "chs-drg-1.1")


@pytest.mark.parametrize(
    ("after", "inserted", "message"),
    [
        ("包含以下主要手术或操作：", "包含以下其他手术或操作：", "unrecognised phrase"),
        ("包含以下主要手术或操作：", "47.09-1 坏代码", "malformed code"),
        ("包含以下主要诊断：", "包含以下主要诊断：", "a second"),
        ("包含以下主要诊断+手术表 1+手术表 2", "或包含以下主要诊断+手术表 9", "missing table9"),
    ],
)
def test_an_unknown_form_fails_loudly_with_its_line(
    t: Tables, tmp_path: Path, after: str, inserted: str, message: str
) -> None:
    copy = _copy(t.folder, tmp_path / "tables")
    lines = (t.folder / "4_ADRG_DETAIL.txt").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line == after and i > 100) + 1
    lines.insert(at, inserted)
    _replace_file(copy, "4_ADRG_DETAIL.txt", "\n".join(lines) + "\n")
    with pytest.raises(TablesError, match=message) as e:
        load_tables(copy)
    assert e.value.where.startswith("4_ADRG_DETAIL.txt:")
    if message != "missing table9":
        assert e.value.where == f"4_ADRG_DETAIL.txt:{at + 1}"


def test_an_adrg_without_rule_is_refused(t: Tables, tmp_path: Path) -> None:
    copy = _copy(t.folder, tmp_path / "tables")
    text = (t.folder / "4_ADRG_DETAIL.txt").read_text(encoding="utf-8")
    # drop the whole GZ1 block: a medical ADRG cannot have an implicit rule
    start = text.index("\nGZ1 ")
    end = text.index("\nMDCH ")
    _replace_file(copy, "4_ADRG_DETAIL.txt", text[:start] + "\nGZ1 其他消化系统诊断" + text[end:])
    with pytest.raises(TablesError, match="GZ1"):
        load_tables(copy)


def test_a_cc_without_exclusion_table_is_refused(t: Tables, tmp_path: Path) -> None:
    copy = _copy(t.folder, tmp_path / "tables")
    text = (t.folder / "6_CC.txt").read_text(encoding="utf-8")
    _replace_file(
        copy,
        "6_CC.txt",
        text.replace("A00.100 霍乱，由于 O1 群霍乱弧菌，埃尔托生物型所致 表 7-1", "A00.100 霍乱 表 7-999", 1),
    )
    with pytest.raises(TablesError, match="7-999"):
        load_tables(copy)


def test_tables_are_immutable(t: Tables) -> None:
    with pytest.raises(TypeError):
        t.adrgs["GZ1"] = t.adrgs["GZ2" if "GZ2" in t.adrgs else "GZ1"]  # type: ignore[index]
    with pytest.raises(AttributeError):
        t.or_procedures.add("x")  # type: ignore[attr-defined]
