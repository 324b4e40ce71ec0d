"""The rule library (规则库): rules as data in ``rules_data/rules/*.yaml``, validated on load, precompiled.

Each rule carries the fields of the national 两库 template (supervision.md §1.1): id, name, kind (the rule
module that evaluates it, see :data:`KINDS`), logic parameters, result type (明确违规 / 可疑 / 提示), time
window, hospital levels and types, scenarios, stage (事前 / 事中 / 事后, a list), insurance types, legal
basis and the pattern it detects (DESIGN.md §3.5). A YAML file holds ``rules: [...]``::

    rules:
      - id: R-GEND-01
        name: 限定性别
        kind: gender
        pattern: gender_age
        result_type: 明确违规
        vola_bhvr_type: "1"
        time_window: 当次就诊
        hosp_levels: ["1", "2", "3"]   # coarse 三级 / 二级 / 一级及以下; empty = all
        hosp_types: []                 # 综合, 中医, 专科 … ; empty = all
        scenarios: [住院, 门(急)诊, 购药]
        stage: [事前, 事中, 事后]
        insutypes: []                  # empty = every insutype
        legal_basis: [《医疗保障基金使用监督管理条例》第十五条]
        logic: 就诊信息中限定性别的药品、诊疗项目与患者性别不符
        params: {}

Loading checks every field (pydantic), the kind's own parameters (each rule module's ``Params``) and
that ids are unique across files; an error names the file, the rule and the key, e.g.
``gender.yaml rules[0] (R-GEND-01) → result_type: Input should be '明确违规', '可疑' or '提示'``.
At load every rule is *prepared* against the knowledge base: its parameters become dict / set indexes
(:attr:`Library.prepared`), so an online check does no parsing.

>>> lib = load_library()
>>> r = lib.rule("R-GEND-01")
>>> r.kind, r.sev_deg, "事前" in r.stage
('gender', '1', True)
>>> len(lib.kinds()) >= 25
True
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from yibao.supervision.findings import PATTERNS
from yibao.supervision.kb import KnowledgeBase, default_kb, load_kb, rules_root

__all__ = [
    "KINDS",
    "STAGES",
    "Library",
    "LibraryError",
    "Rule",
    "default_library",
    "kind_module",
    "load_library",
]

STAGES = ("事前", "事中", "事后")
SCENARIOS = ("住院", "门(急)诊", "购药", "互联网诊疗", "异地就医")
RESULT_SEV = {"明确违规": "1", "可疑": "2", "提示": "3"}
TIME_WINDOWS = (
    "当次就诊", "当次门诊", "当次住院", "处方", "同一时间", "单日", "自然日", "自然周", "自然月", "单月", "季度",
    "自然年", "医保年度", "就诊前后", "全部历史",
)  # fmt: skip
HOSP_TYPES = ("综合", "中医", "中西医结合", "民族医", "专科", "康复", "基层", "药店")

KINDS = (
    "gender", "age", "visit_type", "hosp_level", "insutype", "indication", "catalogue_scope", "nonpayable_dx",
    "duplicate_item", "included_component", "exclusive_items", "overprice", "primary_secondary", "unbundling",
    "item_swap", "drug_swap", "trace_duplicate", "trace_invalid", "frequency", "quantity", "course",
    "days_supply", "early_refill", "dose", "incompatible", "single_herb", "consumable_link", "fee_outside_stay",
    "overlap_stay", "after_death", "visit_frequency", "identity_contradiction", "prescription_burst", "cc_support",
    "swap_level", "dept_restriction", "stent_stay", "stent_antiplatelet",
)  # fmt: skip
"""Every rule kind, one module each under :mod:`yibao.supervision.rules`."""


class LibraryError(ValueError):
    """A rule file that cannot be used; the message names the file, the rule and the key."""


class Rule(BaseModel):
    """One rule of the library (the national 两库 template fields); immutable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    kind: str
    pattern: str
    result_type: Literal["明确违规", "可疑", "提示"]
    vola_bhvr_type: Literal["1", "2", "3", "4", "5"]
    time_window: str
    hosp_levels: tuple[Literal["1", "2", "3"], ...] = ()
    hosp_types: tuple[str, ...] = ()
    scenarios: tuple[Literal["住院", "门(急)诊", "购药", "互联网诊疗", "异地就医"], ...] = ()
    stage: tuple[Literal["事前", "事中", "事后"], ...]
    insutypes: tuple[str, ...] = ()
    fund_type: str = "基本医疗保险（含生育保险）基金"
    legal_basis: tuple[str, ...]
    logic: str
    params: Mapping[str, Any] = {}
    enabled: bool = True

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not v.startswith("R-") or not v.replace("-", "").isalnum() or not v.isascii():
            raise ValueError(f"must look like R-KIND-01 (R-, ASCII letters, digits, dashes), not {v!r}")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(f"unknown kind {v!r} (known: {', '.join(KINDS)})")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str) -> str:
        if v not in PATTERNS:
            raise ValueError(f"unknown pattern {v!r} (DESIGN.md §3.5: {', '.join(sorted(PATTERNS))})")
        return v

    @field_validator("time_window")
    @classmethod
    def _window(cls, v: str) -> str:
        if v not in TIME_WINDOWS:
            raise ValueError(f"unknown time window {v!r} (known: {', '.join(TIME_WINDOWS)})")
        return v

    @field_validator("hosp_types")
    @classmethod
    def _types(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for t in v:
            if t not in HOSP_TYPES:
                raise ValueError(f"unknown hospital type {t!r} (known: {', '.join(HOSP_TYPES)})")
        return v

    @field_validator("insutypes")
    @classmethod
    def _insutypes(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from yibao.codes import INSUTYPE

        for t in v:
            if t not in INSUTYPE:
                raise ValueError(f"unknown insutype {t!r}")
        return v

    @model_validator(mode="after")
    def _lists(self) -> Rule:
        if not self.stage:
            raise ValueError("stage: needs at least one of 事前, 事中, 事后")
        if not self.legal_basis:
            raise ValueError("legal_basis: needs at least one source")
        return self

    @property
    def sev_deg(self) -> str:
        """yibao's sev_deg code of the result type: 1 明确违规, 2 可疑, 3 提示 (findings.py)."""
        return RESULT_SEV[self.result_type]

    def params_of(self, params_type: type[Any]) -> Any:
        """The kind's parameters validated as ``params_type`` (the rule module's ``Params``)."""
        return params_type(**dict(self.params))


def kind_module(kind: str) -> ModuleType:
    """The module of a rule kind (``yibao.supervision.rules.<kind>``)."""
    if kind not in KINDS:
        raise KeyError(f"unknown rule kind {kind!r}")
    return importlib.import_module(f"yibao.supervision.rules.{kind}")


@dataclass(frozen=True)
class Library:
    """The loaded rules, by id, with each rule's prepared (precompiled) online form."""

    rules: tuple[Rule, ...]
    kb: KnowledgeBase
    sources: Mapping[str, str] = field(default_factory=dict)
    prepared: Mapping[str, Any] = field(default_factory=dict)

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(f"no rule {rule_id!r} in the library")

    def for_stage(self, stage: str) -> tuple[Rule, ...]:
        """The enabled rules run at ``stage`` (事前 / 事中 / 事后)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
        return tuple(r for r in self.rules if r.enabled and stage in r.stage)

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({r.kind for r in self.rules}))

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in loc) or "(rule)"


def load_library(path: Path | str | None = None, *, kb: KnowledgeBase | None = None) -> Library:
    """Read every ``*.yaml`` under ``path`` (default ``rules_data/rules``), validate, prepare.

    ``kb`` defaults to the knowledge base beside the rules (``<path>/../kb``) when ``path`` is given,
    else the shipped one.
    """
    folder = Path(path) if path is not None else rules_root() / "rules"
    if not folder.is_dir():
        raise LibraryError(f"{folder}: not a folder of rule YAML files")
    if kb is None:
        kb = (
            default_kb()
            if path is None or not (folder.parent / "kb").is_dir()
            else load_kb(folder.parent / "kb")
        )
    rules: list[Rule] = []
    sources: dict[str, str] = {}
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise LibraryError(f"{folder}: no *.yaml rule files")
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise LibraryError(f"{f.name}: not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or set(doc) != {"rules"} or not isinstance(doc["rules"], list):
            raise LibraryError(f"{f.name}: expected a mapping with one key 'rules' holding a list")
        for i, raw in enumerate(doc["rules"]):
            label = f"{f.name} rules[{i}]"
            if not isinstance(raw, dict):
                raise LibraryError(f"{label}: expected a mapping, not {type(raw).__name__}")
            rid = raw.get("id", "?")
            label = f"{label} ({rid})"
            try:
                rule = Rule(**raw)
            except ValidationError as exc:
                e = exc.errors()[0]
                raise LibraryError(f"{label} → {_where(e['loc'])}: {e['msg']}") from None
            except TypeError as exc:
                raise LibraryError(f"{label}: {exc}") from None
            if rule.id in sources:
                raise LibraryError(f"{label} → id: {rule.id} is already defined in {sources[rule.id]}")
            try:
                mod = kind_module(rule.kind)
                mod.Params(**dict(rule.params))
            except ValidationError as exc:
                e = exc.errors()[0]
                raise LibraryError(f"{label} → params.{_where(e['loc'])}: {e['msg']}") from None
            except TypeError as exc:
                raise LibraryError(f"{label} → params: {exc}") from None
            sources[rule.id] = f.name
            rules.append(rule)
    prepared: dict[str, Any] = {}
    for rule in rules:
        try:
            prepared[rule.id] = kind_module(rule.kind).prepare(rule, kb)
        except (KeyError, ValueError) as exc:
            raise LibraryError(f"{sources[rule.id]} ({rule.id}) → params: {exc}") from None
    return Library(tuple(rules), kb, sources, prepared)


_DEFAULT: list[Library] = []


def default_library() -> Library:
    """The shipped library with the shipped knowledge base, loaded once per process."""
    if not _DEFAULT:
        _DEFAULT.append(load_library())
    return _DEFAULT[0]
