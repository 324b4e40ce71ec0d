"""Synthetic cases drawn from the tables' own codes, for tests and benchmarks (never real 病案).

:func:`case_for` builds, for one ADRG, a case that satisfies its entry rule (principal diagnosis from
its list or its MDC's table, procedures from its lists, age and weight inside its ranges); the case's
``case_id`` is ``"<ADRG>-<n>"`` so a test can say what it aimed at. :func:`synthetic_cases` draws
many of them, with random secondary diagnoses (often CC/MCC) and some noise.

>>> from yibao.drg.tables import load_tables          # doctest: +SKIP
>>> c = case_for(load_tables(), "GD2", random.Random(1))  # doctest: +SKIP
>>> c.procedures[0] in load_tables().adrgs["GD2"].rule.main_procedure.codes  # doctest: +SKIP
True
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from yibao.drg.grouper import Case
from yibao.drg.tables import EntryRule, Form, Tables

__all__ = ["case_for", "synthetic_cases"]


def _pick(
    rng: random.Random, codes: frozenset[str] | set[str], cache: dict[int, tuple[object, list[str]]]
) -> str:
    """A random code; the sorted list of a persistent table set is kept (keyed by identity)."""
    if isinstance(codes, set):  # a temporary
        return rng.choice(sorted(codes))
    hit = cache.get(id(codes))
    if hit is None or hit[0] is not codes:
        hit = cache[id(codes)] = (codes, sorted(codes))
    return rng.choice(hit[1])


_CACHE: dict[int, tuple[object, list[str]]] = {}
_CC_KEYS: dict[int, frozenset[str]] = {}


def _earlier(t: Tables, adrg: str) -> tuple[set[str], set[str]]:
    """Principal diagnoses and main procedures listed by the ADRGs tried before ``adrg`` in its MDC."""
    a = t.adrgs[adrg]
    dx: set[str] = set()
    px: set[str] = set()
    for b in t.mdcs[a.mdc].adrgs:
        if b.code == adrg:
            break
        if b.rule.principal is not None:
            dx |= b.rule.principal.codes
        if b.rule.main_procedure is not None:
            px |= b.rule.main_procedure.codes
    return dx, px


_EXCLUSIVE: dict[tuple[int, str], tuple[Tables, EntryRule]] = {}


def _exclusive_rule(t: Tables, adrg: str) -> EntryRule:
    hit = _EXCLUSIVE.get((id(t), adrg))
    if hit is not None and hit[0] is t:
        return hit[1]
    r = t.adrgs[adrg].rule
    mdc = t.mdcs[t.adrgs[adrg].mdc]
    taken_dx, taken_px = _earlier(t, adrg)
    if r.principal is not None:
        own = (r.principal.codes & mdc.principal) - taken_dx
        if own:
            r = r._replace(principal=r.principal._replace(codes=frozenset(own)))
    if r.main_procedure is not None:
        own = r.main_procedure.codes - taken_px
        if own:
            r = r._replace(main_procedure=r.main_procedure._replace(codes=frozenset(own)))
    _EXCLUSIVE[(id(t), adrg)] = (t, r)
    return r


def case_for(
    t: Tables, adrg: str, rng: random.Random, n: int = 0, *, secondaries: int = 0, exclusive: bool = False
) -> Case:
    """A case meant for ``adrg`` (see the module docstring).

    With ``exclusive`` the principal diagnosis and main procedure are taken, where the lists allow,
    among the codes that no ADRG tried earlier in the same MDC lists.
    """
    a = t.adrgs[adrg]
    r = a.rule
    mdc = t.mdcs[a.mdc]
    c = _CACHE
    if exclusive:
        r = _exclusive_rule(t, adrg)
    dx: list[str] = []
    extra: list[str] = []
    if a.mdc == "MDCA":
        regular = t.mdcs["MDCG"]
        dx.append(_pick(rng, regular.principal, c))
    elif r.principal is not None:
        inside = set(r.principal.codes & mdc.principal)
        dx.append(_pick(rng, inside, c) if inside else _pick(rng, r.principal.codes, c))
    elif r.any_diagnosis is not None:
        both = set(r.any_diagnosis.codes & mdc.principal)
        if both:
            dx.append(_pick(rng, both, c))
        else:
            dx.append(_pick(rng, mdc.principal, c))
            extra.append(_pick(rng, r.any_diagnosis.codes, c))
    else:
        dx.append(_pick(rng, mdc.principal, c))
    if a.mdc == "MDCZ":
        own = {s for s, codes in mdc.sites.items() if dx[0] in codes}
        other = [s for s in mdc.sites if s not in own]
        extra.append(_pick(rng, mdc.sites[rng.choice(other)], c))
    px: list[str] = []
    if r.main_procedure is not None:
        px.append(_pick(rng, r.main_procedure.codes, c))
    if r.procedure_sets:
        for pl in r.procedure_sets[0]:
            choices = set(pl.codes - set(px))
            px.append(_pick(rng, choices or pl.codes, c))
    if r.form == Form.ANY_OR_PROCEDURE or (r.or_procedure is True and not px):
        px.append(_pick(rng, t.or_procedures, c))
    sex = mdc.sex or rng.choice("12")
    age, age_day, weight = rng.randint(18, 90), None, None
    if a.mdc == "MDCP":
        lo, hi = r.age_days or (0, 28)
        age, age_day = 0, rng.randint(lo, hi)
        wlo, whi = r.weight or (2500, 4000)
        weight = rng.randint(wlo, min(whi, 5000))
    cc_codes = _CC_KEYS.get(id(t))
    if cc_codes is None:
        cc_codes = _CC_KEYS[id(t)] = frozenset(t.cc)
    for _ in range(secondaries):
        if rng.random() < 0.5:
            extra.append(_pick(rng, cc_codes, c))
        else:
            extra.append(_pick(rng, mdc.principal or t.mdcs["MDCG"].principal, c))
    return Case(f"{adrg}-{n}", sex, age, age_day, weight, None, rng.randint(1, 30), "1",
                tuple(dx + extra), tuple(px))  # fmt: skip


def synthetic_cases(t: Tables, n: int, seed: int = 1, *, noise: float = 0.02) -> Iterator[Case]:
    """``n`` cases over all ADRGs, each with 0–5 secondary diagnoses; ``noise`` share of bad input."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    adrgs = sorted(t.adrgs)
    for i in range(n):
        case = case_for(t, rng.choice(adrgs), rng, i, secondaries=rng.randint(0, 5))
        if rng.random() < noise:
            kind = rng.randrange(4)
            if kind == 0:
                case = case._replace(diagnoses=())
            elif kind == 1:
                case = case._replace(diagnoses=("Q99.999x999", *case.diagnoses[1:]))
            elif kind == 2:
                case = case._replace(age=-3)
            else:
                case = case._replace(procedures=("00.0000x999", *case.procedures))
        yield case
