"""Implant catalog: JSON families in ``resources/implants/``, parametric geometry, user sidecars."""

from surgiplan.core.planning.catalog.loader import (
    Catalog,
    ImplantGeometry,
    ImplantSpec,
    default_catalog,
    load_catalog,
    load_catalog_file,
)

__all__ = ["Catalog", "ImplantGeometry", "ImplantSpec", "default_catalog", "load_catalog",
           "load_catalog_file"]
