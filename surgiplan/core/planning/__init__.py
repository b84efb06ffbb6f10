"""Planning: plans, implant catalog, placement, landmarks, measurements,
interference, resections and plan comparison (headless; the GUI and CLI call these).
The case folder is :mod:`surgiplan.core.case` (``Case`` is re-exported here lazily).

Heavy parts (catalog geometry, measurements, comparison) load on first use.
"""

from surgiplan.core.planning.plan import Landmark, PlacedImplant, Plan, Resection

_LAZY = {
    "Case": "surgiplan.core.case",
    "compare_plans": "surgiplan.core.planning.comparison",
    "Comparison": "surgiplan.core.planning.comparison",
    "measure_plan": "surgiplan.core.planning.measurements",
    "load_catalog": "surgiplan.core.planning.catalog",
    "default_catalog": "surgiplan.core.planning.catalog",
    "place_implant": "surgiplan.core.planning.operations",
    "move_implant": "surgiplan.core.planning.operations",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'surgiplan.core.planning' has no attribute {name!r}")


__all__ = ["Case", "Comparison", "Landmark", "PlacedImplant", "Plan", "Resection",
           "compare_plans", "default_catalog", "load_catalog", "measure_plan", "move_implant",
           "place_implant"]
