"""General measurements: distance, angle, area, volume (mm, degrees, mm^2, mm^3)."""

from __future__ import annotations

import numpy as np

from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.measurements.base import MeasurementDef, MeasurementResult

DISTANCE = MeasurementDef("distance", "Distance", "mm", "Euclidean distance between two points (LPS mm).")
ANGLE = MeasurementDef("angle", "Angle", "deg",
                       "Angle at the middle point between the rays to the other two points (0-180 deg).")
AREA = MeasurementDef("area", "Surface area", "mm^2", "Sum of the triangle areas of the surface model.")
VOLUME = MeasurementDef("volume", "Enclosed volume", "mm^3",
                        "Volume enclosed by the closed surface model (divergence theorem, vtkMassProperties).")


def _r(d: MeasurementDef, v: float, **details) -> MeasurementResult:
    return MeasurementResult(d.key, d.name, float(v), d.unit, d.definition, details=details)


def distance(a, b) -> MeasurementResult:
    """Distance between points ``a`` and ``b`` (LPS mm)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return _r(DISTANCE, np.linalg.norm(a - b), a=a, b=b)


def angle(a, vertex, c) -> MeasurementResult:
    """Angle a-vertex-c in degrees."""
    v = np.asarray(vertex, float)
    return _r(ANGLE, tf.angle_between_deg(np.asarray(a, float) - v, np.asarray(c, float) - v))


def area(mesh) -> MeasurementResult:
    """Surface area of a triangle mesh (mm^2)."""
    return _r(AREA, mesh.triangulate().area)


def volume(mesh) -> MeasurementResult:
    """Enclosed volume of a closed triangle mesh (mm^3); flags an open surface."""
    m = mesh.triangulate()
    res = _r(VOLUME, abs(m.volume))
    if m.n_open_edges:
        res.details["warning"] = f"surface has {m.n_open_edges} open edges: the volume is approximate"
    return res
