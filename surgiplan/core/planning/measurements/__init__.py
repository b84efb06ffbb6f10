"""Measurement plugins (hip, knee, spine, vascular, general), each with declared units and definitions."""

from __future__ import annotations

from surgiplan.core.planning.measurements.base import (
    Measure,
    MeasureContext,
    MeasurementDef,
    MeasurementResult,
)
from surgiplan.core.planning.measurements.hip import HipMeasurements
from surgiplan.core.planning.measurements.knee import KneeMeasurements
from surgiplan.core.planning.measurements.spine import SpineMeasurements
from surgiplan.core.planning.measurements.vascular import VascularMeasurements

PLUGINS: tuple[Measure, ...] = (HipMeasurements(), KneeMeasurements(), SpineMeasurements(),
                                VascularMeasurements())


def measure_plan(case, plan_name: str, catalog=None, anatomy: str | None = None) -> list[MeasurementResult]:
    """Every applicable measurement of a plan (plugins skip what they cannot compute)."""
    ctx = MeasureContext(case, plan_name, catalog)
    out: list[MeasurementResult] = []
    for plugin in PLUGINS:
        if anatomy is None or plugin.anatomy == anatomy:
            out.extend(plugin.compute(ctx))
    return out


def all_definitions() -> list[MeasurementDef]:
    """Every declared measurement (key, name, unit, definition)."""
    return [d for p in PLUGINS for d in p.definitions]


__all__ = ["PLUGINS", "Measure", "MeasureContext", "MeasurementDef", "MeasurementResult",
           "all_definitions", "measure_plan"]
