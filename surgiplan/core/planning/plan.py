"""A plan: placed implants, plan landmarks, resections, approval lock.

A :class:`Plan` is plain data (numpy arrays for transforms) convertible to and
from the validated :class:`~surgiplan.core.case.schema.PlanModel`.
Edits go through :class:`~surgiplan.core.case.case.Case` so that they are
undoable and audited; the functions here never touch files.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from surgiplan.core.case.schema import (
    SCHEMA_VERSION,
    ImplantModel,
    LandmarkModel,
    LockInfo,
    PlanModel,
    ResectionModel,
)


@dataclass
class Landmark:
    """A named point in LPS mm, optionally with a unit direction (an axis)."""

    position: np.ndarray
    direction: np.ndarray | None = None
    source: str = "manual"
    definition: str = ""

    def to_model(self) -> LandmarkModel:
        return LandmarkModel(
            position=tuple(float(x) for x in self.position),
            direction=None if self.direction is None else tuple(float(x) for x in self.direction),
            source=self.source,
            definition=self.definition,
        )

    @classmethod
    def from_model(cls, m: LandmarkModel) -> Landmark:
        return cls(
            np.array(m.position, dtype=float),
            None if m.direction is None else np.array(m.direction, dtype=float),
            m.source,
            m.definition,
        )


@dataclass
class PlacedImplant:
    """An implant from the catalog at a rigid transform (own anchor frame -> LPS mm)."""

    id: str
    catalog_id: str
    size: str
    transform: np.ndarray
    side: str = "none"
    bone: str = ""
    options: dict[str, float | str] = field(default_factory=dict)

    def to_model(self) -> ImplantModel:
        return ImplantModel(
            id=self.id,
            catalog_id=self.catalog_id,
            size=self.size,
            transform=[[float(x) for x in row] for row in self.transform],
            side=self.side,
            bone=self.bone,
            options=dict(self.options),
        )

    @classmethod
    def from_model(cls, m: ImplantModel) -> PlacedImplant:
        return cls(m.id, m.catalog_id, m.size, np.array(m.transform, dtype=float), m.side, m.bone,
                   dict(m.options))


@dataclass
class Resection:
    """A planar cut of model ``model``: point ``origin`` (LPS mm), unit ``normal`` to the kept side."""

    name: str
    model: str
    origin: np.ndarray
    normal: np.ndarray

    def to_model(self) -> ResectionModel:
        return ResectionModel(name=self.name, model=self.model,
                              origin=tuple(float(x) for x in self.origin),
                              normal=tuple(float(x) for x in self.normal))

    @classmethod
    def from_model(cls, m: ResectionModel) -> Resection:
        return cls(m.name, m.model, np.array(m.origin, float), np.array(m.normal, float))


@dataclass
class Plan:
    """One version of the surgical plan of a case."""

    name: str
    note: str = ""
    created: str = ""
    modified: str = ""
    locked: LockInfo | None = None
    implants: dict[str, PlacedImplant] = field(default_factory=dict)
    landmarks: dict[str, Landmark] = field(default_factory=dict)
    resections: dict[str, Resection] = field(default_factory=dict)
    measurements: dict[str, Any] = field(default_factory=dict)
    #: hand measurements by name (:class:`~surgiplan.core.planning.measurements.manual.ManualMeasurement`)
    manual: dict[str, Any] = field(default_factory=dict)

    @property
    def is_locked(self) -> bool:
        return self.locked is not None

    def to_model(self) -> PlanModel:
        return PlanModel(
            schema_version=SCHEMA_VERSION,
            name=self.name,
            note=self.note,
            created=self.created,
            modified=self.modified,
            locked=self.locked,
            implants=[i.to_model() for i in self.implants.values()],
            landmarks={k: v.to_model() for k, v in self.landmarks.items()},
            resections=[r.to_model() for r in self.resections.values()],
            measurements=copy.deepcopy(self.measurements),
            manual_measurements=[m.to_model() for m in self.manual.values()],
        )

    @classmethod
    def from_model(cls, m: PlanModel) -> Plan:
        from surgiplan.core.planning.measurements.manual import ManualMeasurement  # (import cycle)

        return cls(
            name=m.name,
            note=m.note,
            created=m.created,
            modified=m.modified,
            locked=m.locked,
            implants={i.id: PlacedImplant.from_model(i) for i in m.implants},
            landmarks={k: Landmark.from_model(v) for k, v in m.landmarks.items()},
            resections={r.name: Resection.from_model(r) for r in m.resections},
            measurements=copy.deepcopy(m.measurements),
            manual={x.name: ManualMeasurement.from_model(x) for x in m.manual_measurements},
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the plan (what plan.json holds)."""
        return self.to_model().model_dump(mode="json")

    def duplicate(self, new_name: str, created: str) -> Plan:
        """A deep copy under ``new_name``, unlocked."""
        p = Plan.from_model(self.to_model())
        p.name = new_name
        p.locked = None
        p.created = created
        p.modified = created
        return p
