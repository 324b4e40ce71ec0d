"""Fund accounts, statistics and the statistical bulletin of a settled dataset (docs/stats.md).

Entry points: :func:`yibao.stats.bulletin.write_bulletin`, :func:`yibao.stats.bulletin.dashboard_section`,
:func:`yibao.stats.bulletin.bulletin_section`, :func:`yibao.stats.accounts.fund_accounts`,
:func:`yibao.stats.indicators.indicators`, :func:`yibao.stats.fidelity.fidelity` and the command
:func:`yibao.stats.cli.bulletin_command`.
"""
