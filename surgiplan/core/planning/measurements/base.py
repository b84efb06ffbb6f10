"""Measurement plugins: each declares its quantities (key, name, unit, definition).

Shaped like 3D Slicer's SegmentStatistics plugins: a plugin lists what it
measures up front (:attr:`Measurement.definitions`) and :meth:`compute` returns
:class:`MeasurementResult` rows carrying their unit and definition, so every
printed number says what it is. A quantity that cannot be computed (missing
landmark or implant) is returned with ``value=None`` and the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.planning.catalog import Catalog, ImplantGeometry, default_catalog
from surgiplan.core.planning.plan import Landmark, PlacedImplant


@dataclass(frozen=True)
class MeasurementDef:
    key: str
    name: str
    unit: str  # "mm", "deg", "mm^2", "mm^3", "" (text)
    definition: str


@dataclass
class MeasurementResult:
    key: str
    name: str
    value: float | str | None
    unit: str
    definition: str
    missing: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        if isinstance(v, (float, np.floating)):
            v = float(v)
        return {"key": self.key, "name": self.name, "value": v, "unit": self.unit,
                "definition": self.definition, "missing": self.missing,
                "details": _jsonable(self.details)}

    def text(self) -> str:
        if self.value is None:
            return f"{self.name}: n/a ({self.missing})"
        if isinstance(self.value, str):
            return f"{self.name}: {self.value}"
        from surgiplan.core.units import format_value

        return f"{self.name}: {format_value(float(self.value), self.unit)}"


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.floating | np.integer):
        return x.item()
    return x


class MeasureContext:
    """What a plugin may read: the plan's implants (posed), merged landmarks, bone models."""

    def __init__(self, case, plan_name: str, catalog: Catalog | None = None, cached_only: bool = False):
        self.case = case
        #: Use derived data (bone distance fields) only when already built.
        self.cached_only = cached_only
        self.plan_name = plan_name
        self.plan = case.plan(plan_name)
        self.catalog = catalog or default_catalog()
        self.landmarks: dict[str, Landmark] = case.all_landmarks(plan_name)

    def point(self, name: str) -> np.ndarray | None:
        lm = self.landmarks.get(name)
        return None if lm is None else lm.position

    def axis(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        lm = self.landmarks.get(name)
        if lm is None or lm.direction is None:
            return None
        return lm.position, lm.direction

    def implants_of_kind(self, kind: str) -> list[PlacedImplant]:
        out = []
        for imp in self.plan.implants.values():
            if imp.catalog_id in self.catalog and self.catalog.get(imp.catalog_id).model.kind == kind:
                out.append(imp)
        return out

    def kind(self, imp: PlacedImplant) -> str:
        return self.catalog.get(imp.catalog_id).model.kind

    def params(self, imp: PlacedImplant) -> dict:
        return self.catalog.get(imp.catalog_id).size(imp.size)

    def geometry(self, imp: PlacedImplant) -> ImplantGeometry:
        """The implant's meshes and anchors moved into LPS."""
        return self.catalog.get(imp.catalog_id).geometry(imp.size, imp.options).transformed(imp.transform)

    def model(self, name: str):
        try:
            return self.case.get_model(name)
        except InputError:
            return None


class Measure:
    """Base class of a measurement plugin (subclass, declare ``definitions``, implement ``compute``)."""

    name = "measurement"
    anatomy = "general"
    #: True for plugins that build slow derived data once per bone (left out of saves).
    expensive = False
    definitions: tuple[MeasurementDef, ...] = ()

    def compute(self, ctx: MeasureContext) -> list[MeasurementResult]:
        raise NotImplementedError

    def _def(self, key: str) -> MeasurementDef:
        for d in self.definitions:
            if d.key == key:
                return d
        raise KeyError(key)

    def result(self, key: str, value, *, suffix: str = "", missing: str = "", **details) -> MeasurementResult:
        d = self._def(key)
        return MeasurementResult(key + suffix, d.name + (f" ({suffix.strip('_').replace('_', ' ')})" if suffix else ""),
                                 value, d.unit, d.definition, missing, details)

    def missing(self, key: str, reason: str, suffix: str = "") -> MeasurementResult:
        return self.result(key, None, suffix=suffix, missing=reason)

    def missing_rows(self, keys, reason: str, suffix: str = "") -> list[MeasurementResult]:
        """One :meth:`missing` row per key (all of the plugin's definitions when ``keys`` is None)."""
        keys = [d.key for d in self.definitions] if keys is None else keys
        return [self.missing(k, reason, suffix) for k in keys]
