"""Measurement plugins (hip, knee, spine, vascular, general), each with declared units and definitions."""

from __future__ import annotations

from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)
from surgiplan.core.planning.measurements.hip import HipMeasurements
from surgiplan.core.planning.measurements.interference import InterferenceMeasurements
from surgiplan.core.planning.measurements.knee import KneeMeasurements
from surgiplan.core.planning.measurements.spine import SpineMeasurements
from surgiplan.core.planning.measurements.vascular import VascularMeasurements

PLUGINS: tuple[Measure, ...] = (HipMeasurements(), KneeMeasurements(), SpineMeasurements(),
                                VascularMeasurements(), InterferenceMeasurements())


def measure_plan(case, plan_name: str, catalog=None, anatomy: str | None = None, *,
                 expensive: bool = True, cached_only: bool = False,
                 only: tuple[str, ...] | None = None) -> list[MeasurementResult]:
    """Every applicable measurement of a plan (plugins skip what they cannot compute).

    Parameters
    ----------
    case, plan_name : Case, str
        The plan to measure.
    catalog : Catalog, optional
        Implant catalog (the default one otherwise).
    anatomy : str, optional
        Only the plugins of this anatomy.
    expensive : bool
        Include plugins that need derived data built once per bone (interference).
    cached_only : bool
        Use only derived data already built; rows needing more say they are pending (the
        window, which builds it in the background).
    only : tuple of str, optional
        Only the plugins of these names (e.g. ``("interference",)`` for the live drag).
    """
    ctx = MeasureContext(case, plan_name, catalog, cached_only=cached_only)
    out: list[MeasurementResult] = []
    for plugin in PLUGINS:
        if only is not None and plugin.name not in only:
            continue
        if (anatomy is None or plugin.anatomy == anatomy) and (expensive or not plugin.expensive):
            out.extend(plugin.compute(ctx))
    return out


def all_definitions() -> list[MeasurementDef]:
    """Every declared measurement (key, name, unit, definition)."""
    return [d for p in PLUGINS for d in p.definitions]


__all__ = ["PLUGINS", "Measure", "MeasureContext", "MeasurementDef", "MeasurementResult",
           "all_definitions", "measure_plan"]
