"""Planning: case folder, plans, implant catalog, placement, landmarks, measurements,
interference, resections and plan comparison (headless; the GUI and CLI call these)."""

from surgiplan.core.planning.case import Case
from surgiplan.core.planning.plan import Landmark, PlacedImplant, Plan, Resection

__all__ = ["Case", "Landmark", "PlacedImplant", "Plan", "Resection"]
