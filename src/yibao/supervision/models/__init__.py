"""The big-data models of the batch audit, one module each: feature scores and peer thresholds.

==========  ===================  =====================================================================
id          pattern              signal
==========  ===================  =====================================================================
M-SPLIT     split_admission      readmission to the same hospital ≤ 15 days, same ICD-10 category,
                                 planned cycles (Z51, Z49 …), staged surgery and emergencies excluded
M-GHOST     ghost_bed            ≥ 3 consecutive days with only 床位费/护理费; census above beds
M-FAKE      fake_admission       an employer's cohort admitted within a week for check-up care with
                                 near-identical examination bundles
M-CASHOUT   card_cashout         bursts of cards at one pharmacy for the same basket, night swipes
M-OVERLAP   overlap_stay         one person in two stays at once
M-IDENT     identity_fraud       care contradicting the card holder's sex or age; doctor card bursts
M-DOCTOR    doctor_outlier       robust z against doctors of the same 科别 and hospital level
==========  ===================  =====================================================================

Resold drugs (duplicate traceability codes) and swapped drugs (code prefix ≠ billed drug) are rule
kinds of the rule library (yibao.supervision.rules), which owns the vectorised detectors.

>>> [m.id for m in MODELS]
['M-SPLIT', 'M-GHOST', 'M-FAKE', 'M-CASHOUT', 'M-OVERLAP', 'M-IDENT', 'M-DOCTOR']
"""

from __future__ import annotations

from yibao.supervision.models import (
    card_cashout,
    doctor_outlier,
    fake_admission,
    ghost_bed,
    identity_fraud,
    overlap_stay,
    split_admission,
)
from yibao.supervision.models._common import Model

__all__ = ["MODELS", "Model", "model"]

MODELS: tuple[Model, ...] = (
    split_admission.MODEL,
    ghost_bed.MODEL,
    fake_admission.MODEL,
    card_cashout.MODEL,
    overlap_stay.MODEL,
    identity_fraud.MODEL,
    doctor_outlier.MODEL,
)


def model(model_id: str) -> Model:
    """The model of an id (KeyError naming the known ids otherwise)."""
    for m in MODELS:
        if m.id == model_id:
            return m
    raise KeyError(f"no model {model_id!r}; known: {', '.join(m.id for m in MODELS)}")
