"""CHS-DRG 1.1 grouping and DRG/DIP payment.

- :mod:`yibao.drg.tables` reads the official tables (never shipped with yibao) into immutable lookups;
- :mod:`yibao.drg.grouper` puts a case into MDC → ADRG → DRG with a trace a coder can read;
- :mod:`yibao.drg.payment` turns groups into points, point values and money per hospital and month;
- :mod:`yibao.drg.cli` is ``yibao drg group FILE``.

See docs/drg.md.
"""

from __future__ import annotations
