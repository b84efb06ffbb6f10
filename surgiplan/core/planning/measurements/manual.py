"""Measurements taken by hand: ruler (length), angle (three points) and diameter.

A surgeon clicks points in a slice view or on a surface in the 3D view (LPS mm)
and reads a value, as a vascular surgeon measures an aortic neck's diameter and
length. :func:`measure` is the pure computation (the window and ``surgiplan plan
measure`` call it alike); :class:`ManualMeasurement` is what the plan keeps in
``plan.json`` (``manual_measurements``), added and removed as one undo step through
:meth:`Case.add_manual_measurement` / :meth:`Case.remove_manual_measurement`.

* ``ruler``: two points, the straight distance between them (mm).
* ``angle``: three points A, V, B, the angle at the vertex V between V->A and V->B
  (degrees, 0..180).
* ``diameter``: two points across the lumen (their distance, mm), or three or more
  points on its wall: the diameter (mm) of the least-squares circle through them in
  their best-fit plane (three points: the exact circumscribed circle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from surgiplan.core.case.schema import ManualMeasurementModel
from surgiplan.core.errors import GeometryError, InputError

#: Kinds of hand measurement: (unit, fewest points, most points).
KINDS: dict[str, tuple[str, int, int]] = {"ruler": ("mm", 2, 2), "angle": ("deg", 3, 3), "diameter": ("mm", 2, 64)}

#: What each kind's value is (comparison rows, report).
DEFINITIONS = {
    "ruler": "Hand measurement: straight distance between two clicked points, mm.",
    "angle": "Hand measurement: angle at the middle point between the lines to the other two points, deg.",
    "diameter": "Hand measurement: distance between two clicked points across the lumen, or the diameter of "
                "the least-squares circle through 3 or more points on its wall (in their best-fit plane), mm.",
}


@dataclass(frozen=True)
class ManualMeasurement:
    """One hand measurement: ``kind``, clicked ``points`` (N x 3, LPS mm), ``value`` in ``unit``.

    ``method`` says how the value was computed ("two points", "circle fit (4 points, rms 0.2 mm)"),
    ``view`` where it was taken ("axial", "3D", "cli", ...).
    """

    name: str
    kind: str
    points: np.ndarray
    value: float
    unit: str
    method: str = ""
    view: str = ""

    @property
    def definition(self) -> str:
        return DEFINITIONS[self.kind]

    def text(self) -> str:
        """"Neck diameter: 24.3 mm" (the unit as people read it)."""
        from surgiplan.core.units import format_value

        return f"{self.name}: {format_value(self.value, self.unit)}"

    def to_model(self) -> ManualMeasurementModel:
        return ManualMeasurementModel(name=self.name, kind=self.kind,
                                      points=[tuple(float(x) for x in p) for p in self.points],
                                      value=float(self.value), unit=self.unit, method=self.method, view=self.view)

    @classmethod
    def from_model(cls, m: ManualMeasurementModel) -> ManualMeasurement:
        return cls(m.name, m.kind, np.array(m.points, dtype=float), float(m.value), m.unit, m.method, m.view)

    def to_dict(self) -> dict:
        """JSON-ready: what ``surgiplan plan measure --json`` prints and the window's table shows."""
        return self.to_model().model_dump(mode="json")


def _points(kind: str, points) -> np.ndarray:
    if kind not in KINDS:
        raise InputError(f"unknown measurement kind {kind!r}", hint=f"Use one of: {', '.join(KINDS)}.")
    try:
        p = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{kind}: points must be numbers (LPS mm), got {points!r}") from None
    _, lo, hi = KINDS[kind]
    if p.ndim != 2 or p.shape[1] != 3:
        raise InputError(f"{kind}: points must be a list of X,Y,Z triples (LPS mm), got shape {p.shape}")
    if not lo <= len(p) <= hi:
        need = f"{lo}" if lo == hi else f"{lo} to {hi}"
        raise InputError(f"{kind}: needs {need} points, got {len(p)}")
    if not np.all(np.isfinite(p)):
        raise InputError(f"{kind}: points must be finite numbers (LPS mm)")
    return p


def ruler_length(points) -> float:
    """Distance (mm) between the two points (LPS mm)."""
    p = _points("ruler", points)
    return float(np.linalg.norm(p[1] - p[0]))


def angle_at_vertex(points) -> float:
    """Angle (deg, 0..180) at the middle point of three (LPS mm)."""
    p = _points("angle", points)
    a, b = p[0] - p[1], p[2] - p[1]
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-9 or nb < 1e-9:
        raise GeometryError("angle: the vertex (second point) coincides with another point; click three "
                            "distinct points")
    # atan2 of |a x b| and a.b: accurate near 0 and 180 deg, unlike acos
    return float(np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b)), float(a @ b))))


@dataclass(frozen=True)
class CircleFit:
    centre: np.ndarray  # LPS mm
    normal: np.ndarray  # unit normal of the circle's plane
    radius: float  # mm
    rms: float  # mm, RMS distance of the points (projected in the plane) from the circle


def fit_circle(points) -> CircleFit:
    """Least-squares circle through 3+ points (LPS mm) in their best-fit plane.

    The plane is the SVD plane of the centred points; in it, the algebraic (Kasa)
    circle fit starts a geometric least-squares refinement (``scipy.optimize.least_squares``),
    as :func:`surgiplan.core.planning.fitting.fit_sphere` does for spheres.
    """
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    if len(p) < 3:
        raise GeometryError(f"a circle fit needs at least 3 points, got {len(p)}")
    c = p.mean(0)
    _, s, vt = np.linalg.svd(p - c)
    if s[1] < 1e-6 * max(s[0], 1e-12):
        raise GeometryError("diameter: the points lie on a line; click points around the lumen's wall")
    u, v, n = vt[0], vt[1], vt[2]
    xy = np.column_stack([(p - c) @ u, (p - c) @ v])
    a = np.column_stack([2 * xy, np.ones(len(xy))])
    sol, *_ = np.linalg.lstsq(a, (xy**2).sum(1), rcond=None)
    c0 = sol[:2]
    r0 = float(np.sqrt(max(sol[2] + c0 @ c0, 1e-12)))

    def resid(x):
        return np.linalg.norm(xy - x[:2], axis=1) - x[2]

    if len(xy) > 3:
        x = least_squares(resid, np.r_[c0, r0], method="lm").x
    else:  # three points: the algebraic circle is exact
        x = np.r_[c0, r0]
    if not np.all(np.isfinite(x)):
        raise GeometryError("diameter: the circle fit did not converge")
    rms = float(np.sqrt(np.mean(resid(x) ** 2)))
    return CircleFit(c + x[0] * u + x[1] * v, n, float(abs(x[2])), rms)


def diameter(points) -> tuple[float, str]:
    """Diameter (mm) from two points across, or of the circle fitted to 3+ points; and the method."""
    p = _points("diameter", points)
    if len(p) == 2:
        return float(np.linalg.norm(p[1] - p[0])), "two points"
    fit = fit_circle(p)
    return 2.0 * fit.radius, f"circle fit ({len(p)} points, rms {fit.rms:.2f} mm)"


def measure(kind: str, points, name: str, *, view: str = "") -> ManualMeasurement:
    """Compute a hand measurement of ``kind`` from ``points`` (N x 3, LPS mm); pure, no case needed.

    Raises
    ------
    InputError
        Unknown kind, wrong number of points, non-finite coordinates, empty name.
    GeometryError
        Degenerate points (angle vertex on another point, diameter points on a line).
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise InputError(f"{kind}: a measurement needs a name of 1-64 characters, got {name!r}")
    p = _points(kind, points)
    if kind == "ruler":
        value, method = ruler_length(p), "two points"
    elif kind == "angle":
        value, method = angle_at_vertex(p), "three points, vertex second"
    else:
        value, method = diameter(p)
    return ManualMeasurement(name.strip(), kind, p.copy(), value, KINDS[kind][0], method, view)


def next_name(kind: str, taken) -> str:
    """The first free default name for ``kind``: "Ruler 1", "Angle 2", "Diameter 1", ..."""
    taken = set(taken)
    n = 1
    while f"{kind.capitalize()} {n}" in taken:
        n += 1
    return f"{kind.capitalize()} {n}"
