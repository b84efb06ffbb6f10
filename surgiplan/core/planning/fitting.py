"""Landmark fitting on surface models (LPS mm): spheres, lines, planes, extreme points.

Least-squares fits follow the usual formulations: the algebraic sphere fit
(linear in centre and c = r^2 - |centre|^2) refined geometrically with
``scipy.optimize.least_squares``; the line and plane fits by SVD of the centred
points. The automatic anatomical landmarks (femoral head by sphere fit,
acetabulum, femoral canal axis) work on bone models with the patient's
superior direction along +z (LPS), as surgiplan's volumes are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from surgiplan.core.errors import GeometryError


@dataclass(frozen=True)
class SphereFit:
    centre: np.ndarray  # LPS mm
    radius: float  # mm
    rms: float  # mm, RMS of |distance - radius| over the points used
    n_points: int


def fit_sphere(points: np.ndarray) -> SphereFit:
    """Least-squares sphere through ``points`` (N >= 4, mm): algebraic start, geometric refinement."""
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    if len(p) < 4:
        raise GeometryError(f"a sphere fit needs at least 4 points, got {len(p)}")
    a = np.column_stack([2 * p, np.ones(len(p))])
    b = (p**2).sum(1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    c0 = sol[:3]
    r0 = float(np.sqrt(max(sol[3] + c0 @ c0, 1e-12)))

    def resid(x):
        return np.linalg.norm(p - x[:3], axis=1) - x[3]

    res = least_squares(resid, np.r_[c0, r0], method="lm")
    c, r = res.x[:3], float(abs(res.x[3]))
    rms = float(np.sqrt(np.mean(resid(np.r_[c, r]) ** 2)))
    if not np.all(np.isfinite(c)):
        raise GeometryError("sphere fit did not converge (points nearly coplanar?)")
    return SphereFit(c, r, rms, len(p))


def fit_line(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit line (centroid, unit direction) through ``points`` (N >= 2)."""
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    if len(p) < 2:
        raise GeometryError("a line fit needs at least 2 points")
    c = p.mean(0)
    _, _, vt = np.linalg.svd(p - c)
    return c, vt[0] / np.linalg.norm(vt[0])


def fit_plane(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best-fit plane (centroid, unit normal) through ``points`` (N >= 3)."""
    p = np.asarray(points, dtype=float).reshape(-1, 3)
    if len(p) < 3:
        raise GeometryError("a plane fit needs at least 3 points")
    c = p.mean(0)
    _, _, vt = np.linalg.svd(p - c)
    return c, vt[2] / np.linalg.norm(vt[2])


def trimmed_plane(points: np.ndarray, hint: np.ndarray,
                  tolerances_mm=(6.0, 4.0, 3.0, 2.0, 1.5, 1.2, 1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Plane through the main flat part of ``points``: least-squares fits that keep, in turn,
    only the points within each of ``tolerances_mm`` of the last plane (drops rims, spines
    and processes). Works on voxel staircases, whose facet normals are not the plane's.
    Returns (point, unit normal oriented along ``hint``)."""
    p = np.asarray(points, float)
    if len(p) < 3:
        raise GeometryError("a plane fit needs at least 3 points")
    sel = np.ones(len(p), bool)
    c, n = fit_plane(p)
    for tol in tolerances_mm:
        c, n = fit_plane(p[sel])
        new = np.abs((p - c) @ n) < tol
        if new.sum() < max(10, len(p) // 20):
            break
        sel = new
    c, n = fit_plane(p[sel])
    return c, (n if n @ hint >= 0 else -n)


def robust_sphere(points: np.ndarray, seed_centre: np.ndarray, seed_radius: float,
                  tol_mm: float = 1.5, iterations: int = 8) -> SphereFit:
    """Sphere fit that repeatedly keeps only points within ``tol_mm`` of the current sphere."""
    p = np.asarray(points, float)
    c, r = np.asarray(seed_centre, float), float(seed_radius)
    fit = None
    for _ in range(iterations):
        d = np.abs(np.linalg.norm(p - c, axis=1) - r)
        sel = p[d < max(tol_mm, 3 * (fit.rms if fit else tol_mm))] if fit is None else p[d < tol_mm]
        if len(sel) < 20:
            break
        new = fit_sphere(sel)
        done = fit is not None and np.linalg.norm(new.centre - c) < 1e-4 and abs(new.radius - r) < 1e-4
        fit, c, r = new, new.centre, new.radius
        if done:
            break
    if fit is None:
        raise GeometryError("too few surface points near the expected sphere")
    return fit


def femoral_head_centre(femur_points: np.ndarray, search_mm: float = 40.0) -> SphereFit:
    """Femoral head centre by sphere fit on the proximal femur surface (points LPS mm).

    Seeds with the most superior point (the top of the head), fits a sphere to the
    points within ``search_mm`` of it, then keeps refitting with the points lying
    on the sphere (|d - r| < 1.5 mm), which drops the neck and the trochanter.
    """
    p = np.asarray(femur_points, float)
    top = p[np.argmax(p[:, 2])]
    near = p[np.linalg.norm(p - top, axis=1) < search_mm]
    upper = near[near[:, 2] > top[2] - 0.6 * search_mm]
    first = fit_sphere(upper)
    return robust_sphere(p[np.linalg.norm(p - first.centre, axis=1) < 2 * first.radius],
                         first.centre, first.radius)


def acetabular_centre(pelvis_points: np.ndarray, head_centre: np.ndarray, head_radius: float,
                      gap_mm: float = 8.0) -> SphereFit:
    """Centre of the acetabulum by sphere fit on the pelvis surface around the femoral head.

    Uses the pelvis points within ``head_radius + gap_mm`` of the head centre (the
    socket's lining) and refits on those lying on the sphere.
    """
    p = np.asarray(pelvis_points, float)
    d = np.linalg.norm(p - head_centre, axis=1)
    sel = p[d < head_radius + gap_mm]
    if len(sel) < 20:
        raise GeometryError("no acetabulum found around the femoral head (pelvis model too far)")
    first = fit_sphere(sel)
    return robust_sphere(p[np.linalg.norm(p - first.centre, axis=1) < first.radius + gap_mm],
                         first.centre, first.radius)


def section_centroids(mesh, point: np.ndarray, direction: np.ndarray, offsets_mm) -> np.ndarray:
    """Centroids (LPS mm) of the cross-sections of ``mesh`` with planes ``point + t*direction``.

    The centroid of each section is the area centroid of its outline (polygon in the plane).
    Sections with no intersection are skipped.
    """
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    out = []
    for t in offsets_mm:
        origin = np.asarray(point, float) + t * d
        sl = mesh.slice(normal=d, origin=origin)
        if sl.n_points < 3:
            continue
        # area centroid of the outline via the shoelace formula in plane coordinates
        u = np.cross(d, [1.0, 0, 0] if abs(d[0]) < 0.9 else [0, 1.0, 0])
        u /= np.linalg.norm(u)
        v = np.cross(d, u)
        lines = sl.lines.reshape(-1, 3)[:, 1:] if sl.lines.size and (sl.lines.reshape(-1, 3)[:, 0] == 2).all() else None
        if lines is None:
            out.append(sl.points.mean(0))
            continue
        a = sl.points[lines[:, 0]] - origin
        b = sl.points[lines[:, 1]] - origin
        ax, ay, bx, by = a @ u, a @ v, b @ u, b @ v
        cross = ax * by - bx * ay
        area = cross.sum() / 2
        if abs(area) < 1e-6:
            out.append(sl.points.mean(0))
            continue
        cx = ((ax + bx) * cross).sum() / (6 * area)
        cy = ((ay + by) * cross).sum() / (6 * area)
        out.append(origin + cx * u + cy * v)
    return np.array(out)


def femoral_canal_axis(femur_mesh, head_centre: np.ndarray, start_mm: float = 60.0,
                       stop_mm: float | None = None, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Femoral canal (shaft) axis: line through the centroids of shaft cross-sections.

    Sections are perpendicular to the superior-inferior axis from ``start_mm``
    below the head centre down to ``stop_mm`` (default: 15 mm above the model's
    distal end), refined once perpendicular to the first axis. Returns
    (point, unit direction pointing proximally), LPS mm.
    """
    zmin = femur_mesh.bounds[4]
    top = float(head_centre[2]) - start_mm
    bottom = zmin + 15.0 if stop_mm is None else float(head_centre[2]) - stop_mm
    if top - bottom < 20:
        raise GeometryError("the femur model is too short below the head to find the shaft axis")
    zs = np.linspace(bottom, top, n)
    base = np.array([0, 0, 0.0])
    c = section_centroids(femur_mesh, base, np.array([0, 0, 1.0]), zs)
    p, d = fit_line(c)
    # second pass: sections perpendicular to the first estimate
    ts = (zs - p[2]) / d[2]
    c2 = section_centroids(femur_mesh, p, d, ts)
    if len(c2) >= 3:
        p, d = fit_line(c2)
    if d[2] < 0:
        d = -d
    return p, d


def extreme_point(points: np.ndarray, direction: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The point of ``points`` (optionally masked) farthest along ``direction``."""
    p = np.asarray(points, float)
    if mask is not None:
        p = p[mask]
    if len(p) == 0:
        raise GeometryError("no points in the region searched for the landmark")
    return p[np.argmax(p @ np.asarray(direction, float))]


def point_line_distance(point: np.ndarray, line_point: np.ndarray, line_dir: np.ndarray) -> float:
    """Perpendicular distance (mm) from ``point`` to the line."""
    d = np.asarray(line_dir, float) / np.linalg.norm(line_dir)
    v = np.asarray(point, float) - line_point
    return float(np.linalg.norm(v - (v @ d) * d))


def prominence_tip(points: np.ndarray, direction: np.ndarray, start: np.ndarray, cap_mm: float = 3.0,
                   radius_mm: float = 6.0, iterations: int = 4) -> np.ndarray:
    """Tip (most prominent point along ``direction``) of the bony prominence at ``start`` (LPS mm).

    The extreme vertex of a voxel-based surface wanders over the flat top of a
    prominence (up to a voxel or more). Instead, the cap of surface points within
    ``radius_mm`` of the current tip (across ``direction``) and within ``cap_mm``
    of its height is fitted with a quadratic height field h(u, v); the tip is the
    maximum of that paraboloid, back on the fitted surface. Repeated a few times.
    Falls back to the extreme vertex when the cap is not a dome.
    """
    p = np.asarray(points, float)
    d = np.asarray(direction, float) / np.linalg.norm(direction)
    u = np.cross(d, [1.0, 0, 0] if abs(d[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    tip = np.asarray(start, float)
    for _ in range(iterations):
        rel = p - tip
        pu, pv, h = rel @ u, rel @ v, rel @ d
        near = (pu**2 + pv**2 < radius_mm**2) & (np.abs(h) < 2 * radius_mm)
        if near.sum() < 10:
            break
        top = h[near].max()
        sel = near & (h > top - cap_mm)
        if sel.sum() < 10:
            break
        a = np.column_stack([np.ones(sel.sum()), pu[sel], pv[sel], pu[sel] ** 2, pu[sel] * pv[sel], pv[sel] ** 2])
        c, *_ = np.linalg.lstsq(a, h[sel], rcond=None)
        hess = np.array([[2 * c[3], c[4]], [c[4], 2 * c[5]]])
        if np.any(np.linalg.eigvalsh(hess) >= 0):  # not a dome: keep the extreme vertex
            return tip + top * d if np.allclose(tip, start) else tip
        uv = np.linalg.solve(hess, -c[1:3])
        if np.hypot(*uv) > radius_mm:
            break
        hmax = c[0] + c[1] * uv[0] + c[2] * uv[1] + c[3] * uv[0] ** 2 + c[4] * uv[0] * uv[1] + c[5] * uv[1] ** 2
        new = tip + uv[0] * u + uv[1] * v + hmax * d
        done = np.linalg.norm(new - tip) < 1e-3
        tip = new
        if done:
            break
    return tip
