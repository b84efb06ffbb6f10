"""Least-squares elliptic cylinder through surface points (LPS mm).

Used for the pedicle isthmus: a tube of roughly elliptic section whose axis is the
screw trajectory. The residual of a point is its approximate geometric (Sampson)
distance to the elliptic cylinder: ``f / |grad f|`` with ``f = (x/a)^2 + (y/b)^2 - 1``
in the cylinder's cross-section coordinates; a soft-L1 loss and a final trimming pass
keep the blends at both ends and stray points from steering the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from surgiplan.core.errors import GeometryError


@dataclass
class EllipticCylinder:
    centre: np.ndarray  # a point on the axis (LPS mm), the projection of the points' centroid
    axis: np.ndarray  # unit direction (sign as the starting axis)
    a: float  # half-axis along ``u`` (mm)
    b: float  # half-axis along ``v`` (mm)
    u: np.ndarray  # unit, perpendicular to ``axis``
    v: np.ndarray  # unit, axis x u
    rms: float  # rms Sampson distance of the kept points (mm)
    kept: np.ndarray  # bool mask of the points used in the last pass

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Approximate signed distance (mm, > 0 outside) of points (N x 3, LPS mm) to the surface."""
        r = np.asarray(points, float) - self.centre
        x, y = r @ self.u, r @ self.v
        f = (x / self.a) ** 2 + (y / self.b) ** 2 - 1.0
        return f / (2.0 * np.sqrt((x / self.a**2) ** 2 + (y / self.b**2) ** 2) + 1e-9)


def _basis(d: np.ndarray, hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    u = hint - (hint @ d) * d
    if np.linalg.norm(u) < 1e-6:
        u = np.cross(d, [1.0, 0.0, 0.0] if abs(d[0]) < 0.9 else [0.0, 1.0, 0.0])
    u = u / np.linalg.norm(u)
    return u, np.cross(d, u)


def fit_elliptic_cylinder(points: np.ndarray, centre: np.ndarray, axis: np.ndarray, a: float, b: float,
                          u_hint: np.ndarray, trim_mm: float = 0.6, weights: np.ndarray | None = None,
                          perpendicular_to: np.ndarray | None = None,
                          outward_trim_mm: float | None = None) -> EllipticCylinder:
    """Elliptic cylinder through ``points`` (N x 3, LPS mm) starting from an axis through
    ``centre`` along ``axis`` with half-axes ``a`` (along ``u_hint`` made perpendicular to the
    axis) and ``b``. Parameters: axis tilt (2), axis offset (2), half-axes (2), section roll (1).
    Points whose residual exceeds ``trim_mm`` (and 3 x the median-based robust scale) after each
    pass are dropped (3 passes); with ``outward_trim_mm`` also those more than that (and 2 x the
    robust scale) outside: fillets and blends only add material, and trimming them on one side
    shifts the half-axes, not the axis.
    ``perpendicular_to``: keep the axis perpendicular to this direction (one tilt parameter)."""
    p = np.asarray(points, float)
    if len(p) < 12:
        raise GeometryError(f"an elliptic cylinder fit needs at least 12 surface points, got {len(p)}")
    d0 = np.asarray(axis, float) / np.linalg.norm(axis)
    n = None
    if perpendicular_to is not None:
        n = np.asarray(perpendicular_to, float) / np.linalg.norm(perpendicular_to)
        d0 = d0 - (d0 @ n) * n
        d0 = d0 / np.linalg.norm(d0)
        u_hint = np.cross(n, d0)
    u0, v0 = _basis(d0, np.asarray(u_hint, float))
    c0 = np.asarray(centre, float)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, float)

    def frame(x):
        # small rotation of (u0, v0, d0) by tilt angles x[0] (about v0) and x[1] (about u0), roll x[6]
        d = d0 + x[0] * u0 + (0.0 if n is not None else x[1]) * v0
        d = d / np.linalg.norm(d)
        u, v = _basis(d, u0)
        cr, sr = np.cos(x[6]), np.sin(x[6])
        return d, cr * u + sr * v, -sr * u + cr * v

    def resid(x, q, wq):
        d, u, v = frame(x)
        c = c0 + x[2] * u0 + x[3] * v0
        r = q - c
        xs, ys = r @ u, r @ v
        aa, bb = abs(x[4]), abs(x[5])
        f = (xs / aa) ** 2 + (ys / bb) ** 2 - 1.0
        g = 2.0 * np.sqrt((xs / aa**2) ** 2 + (ys / bb**2) ** 2) + 1e-9
        return wq * f / g

    x = np.array([0.0, 0.0, 0.0, 0.0, float(a), float(b), 0.0])
    keep = np.ones(len(p), bool)
    for _ in range(3):
        sol = least_squares(resid, x, args=(p[keep], w[keep]), loss="soft_l1", f_scale=0.3, x_scale="jac")
        x = sol.x
        rs = resid(x, p, np.ones(len(p)))
        r = np.abs(rs)
        sigma = 1.4826 * float(np.median(r[keep]))  # robust scale: the blends do not inflate it
        new = r < max(trim_mm, 3.0 * sigma)
        if outward_trim_mm is not None:
            new &= rs < max(outward_trim_mm, 2.0 * sigma)
        if new.sum() < 12 or np.array_equal(new, keep):
            break
        keep = new
    d, u, v = frame(x)
    c = c0 + x[2] * u0 + x[3] * v0
    c = c + ((p[keep].mean(0) - c) @ d) * d
    r = resid(x, p[keep], np.ones(keep.sum()))
    return EllipticCylinder(c, d, abs(float(x[4])), abs(float(x[5])), u, v, float(np.sqrt(np.mean(r**2))), keep)
