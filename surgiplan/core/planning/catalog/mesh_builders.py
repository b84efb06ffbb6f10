"""Small mesh builders used by the implant generators (closed triangle surfaces, mm).

``lathe`` revolves an (r, z) profile about the z axis, ``loft`` joins rings of
equal point count, ``extrude_profile`` sweeps a planar polygon; each returns a
closed, triangulated :class:`pyvista.PolyData` (no open edges), so that points
can be classified inside/outside (needed for penetration volumes).
"""

from __future__ import annotations

import numpy as np
import pyvista as pv


def lathe(profile_rz: np.ndarray, resolution: int = 48) -> pv.PolyData:
    """Revolve ``profile_rz`` ((N, 2): radius, z in mm) about the z axis.

    The first and last points must lie on the axis (r = 0), which closes the surface.
    """
    prof = np.asarray(profile_rz, dtype=float)
    assert prof[0, 0] == 0 and prof[-1, 0] == 0, "profile must start and end on the axis"
    phis = np.linspace(0, 2 * np.pi, resolution, endpoint=False)
    pts = [np.array([[0.0, 0.0, prof[0, 1]]])]
    for r, z in prof[1:-1]:
        pts.append(np.column_stack([r * np.cos(phis), r * np.sin(phis), np.full(resolution, z)]))
    pts.append(np.array([[0.0, 0.0, prof[-1, 1]]]))
    points = np.vstack(pts)
    n_rings = len(prof) - 2
    faces = []
    ring = lambda k: 1 + k * resolution  # noqa: E731 - index of first point of ring k
    last = 1 + n_rings * resolution
    for i in range(resolution):
        j = (i + 1) % resolution
        faces.append([3, 0, ring(0) + j, ring(0) + i])
        for k in range(n_rings - 1):
            a, b = ring(k) + i, ring(k) + j
            c, d = ring(k + 1) + j, ring(k + 1) + i
            faces.append([3, a, b, c])
            faces.append([3, a, c, d])
        faces.append([3, ring(n_rings - 1) + i, ring(n_rings - 1) + j, last])
    return pv.PolyData(points, np.hstack(faces)).compute_normals(auto_orient_normals=True)


def loft(rings: list[np.ndarray]) -> pv.PolyData:
    """Join closed rings ((M, 3) each, same M, same winding) and cap both ends with fans."""
    m = len(rings[0])
    points = np.vstack([np.asarray(r, float) for r in rings] + [rings[0].mean(0), rings[-1].mean(0)])
    n = len(rings)
    c0, c1 = n * m, n * m + 1
    faces = []
    for k in range(n - 1):
        for i in range(m):
            j = (i + 1) % m
            a, b, c, d = k * m + i, k * m + j, (k + 1) * m + j, (k + 1) * m + i
            faces += [[3, a, b, c], [3, a, c, d]]
    for i in range(m):
        j = (i + 1) % m
        faces.append([3, c0, j, i])
        faces.append([3, c1, (n - 1) * m + i, (n - 1) * m + j])
    return pv.PolyData(points, np.hstack(faces)).compute_normals(auto_orient_normals=True)


def extrude_profile(polygon_uv: np.ndarray, axis: str, start: float, stop: float) -> pv.PolyData:
    """Sweep a simple planar polygon (N, 2) along ``axis`` ('x' or 'z') from ``start`` to ``stop``.

    For axis 'x' the polygon's (u, v) are (y, z); for axis 'z' they are (x, y).
    """
    uv = np.asarray(polygon_uv, dtype=float)
    n = len(uv)
    if axis == "x":
        pts = np.column_stack([np.full(n, start), uv[:, 0], uv[:, 1]])
        vec = (stop - start, 0.0, 0.0)
    else:
        pts = np.column_stack([uv[:, 0], uv[:, 1], np.full(n, start)])
        vec = (0.0, 0.0, stop - start)
    face = pv.PolyData(pts, np.hstack([[n], np.arange(n)])).triangulate()
    solid = face.extrude(vec, capping=True).triangulate().clean()
    return solid.compute_normals(auto_orient_normals=True)


def rounded_rect(width_neg: float, width_pos: float, depth: float, n: int = 24) -> np.ndarray:
    """(n, 2) outline from u=-width_neg to u=+width_pos, v in [-depth/2, depth/2], superellipse."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    p = 0.5  # superellipse exponent (rounded box)
    u = np.sign(c) * np.abs(c) ** p
    v = np.sign(s) * np.abs(s) ** p * depth / 2
    u = np.where(u >= 0, u * width_pos, u * width_neg)
    return np.column_stack([u, v])


def sdf_contour(sdf, bounds: tuple[float, ...], spacing: float) -> pv.PolyData:
    """Closed iso-surface sdf = 0 of a vectorised signed-distance function on a grid."""
    x0, x1, y0, y1, z0, z1 = bounds
    dims = [int(np.ceil((b - a) / spacing)) + 3 for a, b in ((x0, x1), (y0, y1), (z0, z1))]
    grid = pv.ImageData(dimensions=dims, spacing=(spacing,) * 3,
                        origin=(x0 - spacing, y0 - spacing, z0 - spacing))
    p = grid.points
    grid["sdf"] = sdf(p[:, 0], p[:, 1], p[:, 2])
    return grid.contour([0.0], scalars="sdf", compute_normals=False).triangulate().clean().compute_normals(
        auto_orient_normals=True)


def polygon_sdf(u: np.ndarray, v: np.ndarray, polygon_uv: np.ndarray) -> np.ndarray:
    """Signed distance (mm, negative inside) from points (u, v) to a simple closed polygon (N, 2)."""
    poly = np.asarray(polygon_uv, float)
    p = np.column_stack([np.ravel(u), np.ravel(v)])
    d2 = np.full(len(p), np.inf)
    inside = np.zeros(len(p), bool)
    for a, b in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        e = b - a
        w = p - a
        t = np.clip((w @ e) / max(float(e @ e), 1e-12), 0.0, 1.0)
        d2 = np.minimum(d2, np.sum((w - t[:, None] * e) ** 2, axis=1))
        # even-odd rule: the edge crosses the horizontal ray to the right of p
        cond = (a[1] <= p[:, 1]) != (b[1] <= p[:, 1])
        xcross = a[0] + (p[:, 1] - a[1]) * e[0] / np.where(e[1] == 0, 1e-12, e[1])
        inside ^= cond & (p[:, 0] < xcross)
    d = np.sqrt(d2)
    return np.where(inside, -d, d).reshape(np.shape(u))


def extrusion_sdf(d2: np.ndarray, h: np.ndarray, half: float) -> np.ndarray:
    """Exact signed distance of a 2D shape (signed distance ``d2``) extruded to ``|h| <= half``."""
    wx, wy = d2, np.abs(h) - half
    return np.minimum(np.maximum(wx, wy), 0.0) + np.hypot(np.maximum(wx, 0.0), np.maximum(wy, 0.0))
