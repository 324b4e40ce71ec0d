"""Rule kinds, one module each: an online check over one encounter and a batch form over a dataset.

Every module exposes the same four names:

- ``Params`` — a pydantic model of the kind's parameters (what a rule's ``params:`` may say);
- ``prepare(rule, kb) -> Prepared`` — run once at library load: the parameters and the knowledge base
  become dict / set indexes, and ``Prepared.codes`` names the items without which the rule cannot fire
  (the online engine skips it when the encounter has none of them);
- ``online(enc, rule, prepared) -> list[Finding]`` — one encounter (national 3101 shapes, parsed by
  :func:`yibao.supervision.rules._base.parse_encounter`) with the patient's in-memory history;
- ``batch(con, rule, kb) -> polars.DataFrame`` — the same rule as SQL over the dataset views registered
  by the audit, returning rows of the ``findings`` table.

The list of kinds is :data:`yibao.supervision.library.KINDS`.
"""
