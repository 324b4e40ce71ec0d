"""The catalogue: drug, herb, service-item and consumable entries with class 甲乙丙, 先行自付, caps, restrictions.

* :mod:`yibao.catalog.model` — the immutable types (CatalogItem, Restriction, Catalog, LineContext);
* :mod:`yibao.catalog.loader` — yibao's own CSV (:func:`load_catalog`, :func:`write_catalog_csv`) and the
  shipped demo subset (:func:`default_catalog`);
* :mod:`yibao.catalog.national` — the national 1301/1305/1306 download files (:func:`import_national`).

See docs/catalog.md.
"""

from yibao.catalog.loader import CatalogError, default_catalog, load_catalog, parse_catalog, write_catalog_csv
from yibao.catalog.model import Catalog, CatalogItem, LineContext, Restriction
from yibao.catalog.national import import_national

__all__ = [
    "Catalog",
    "CatalogError",
    "CatalogItem",
    "LineContext",
    "Restriction",
    "default_catalog",
    "import_national",
    "load_catalog",
    "parse_catalog",
    "write_catalog_csv",
]
