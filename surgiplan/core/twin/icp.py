"""Trimmed, robust point-to-plane ICP of a model surface to measured points.

Written here (not taken from VTK's ``vtkIterativeClosestPointTransform``) because that
one is point-to-point, untrimmed and cannot fix the spin of an axially symmetric
implant; a metal surface of a post-op CT holds streaks, a second implant and a
partly scanned part that must not pull the fit.

The model is sampled densely (points with normals, in its own frame); each data
point is matched to its nearest sample and the residual is measured along that
sample's normal. Per iteration: pairs farther than ``max_distance`` are dropped,
then the worst ``1 - keep`` fraction, and the rest are Tukey-weighted (scale from
the median absolute residual); the small motion is solved by damped least squares
(the damping keeps an unobservable spin at zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from surgiplan.core.errors import GeometryError


@dataclass
class IcpResult:
    """``model_to_data``: 4x4 (model frame -> data frame, mm); residual figures in mm."""

    model_to_data: np.ndarray
    rms_mm: float
    inliers: int
    points: int
    iterations: int
    converged: bool


def sample_surface(mesh, spacing_mm: float = 0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 3) and unit outward normals (n, 3) spread over a triangle mesh, ~one per spacing^2."""
    import pyvista as pv

    m = mesh if isinstance(mesh, pv.PolyData) else pv.wrap(mesh)
    m = m.triangulate().compute_normals(cell_normals=True, point_normals=False, auto_orient_normals=False)
    faces = m.faces.reshape(-1, 4)[:, 1:]
    tri = np.asarray(m.points, float)[faces]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    n_tri = np.asarray(m.cell_data["Normals"], float)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(area / spacing_mm**2) + 1
    idx = np.repeat(np.arange(len(tri)), counts)
    u, v = rng.random(len(idx)), rng.random(len(idx))
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[idx]
    pts = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    return pts, n_tri[idx]


def _small_motion(x: np.ndarray) -> np.ndarray:
    """4x4 rigid transform of a rotation vector x[:3] (rad) and translation x[3:] (mm)."""
    from scipy.spatial.transform import Rotation

    t = np.eye(4)
    t[:3, :3] = Rotation.from_rotvec(x[:3]).as_matrix()
    t[:3, 3] = x[3:]
    return t


def icp(model_points: np.ndarray, model_normals: np.ndarray, data: np.ndarray, initial: np.ndarray, *,
        max_distance: float = 6.0, final_distance: float = 2.0, keep: float = 0.85,
        iterations: int = 80, tol: float = 0.01, fix_spin: bool = False) -> IcpResult:
    """Fit the model (points + normals in its own frame) to ``data`` (n, 3), starting at ``initial``.

    Parameters
    ----------
    model_points, model_normals : numpy.ndarray
        Dense model samples and their unit normals, model frame (mm).
    data : numpy.ndarray
        Measured surface points (mm, data frame).
    initial : numpy.ndarray
        4x4 model -> data start.
    max_distance, final_distance : float
        Pairs farther than this (mm) are dropped: ``max_distance`` at the start, shrinking
        to ``final_distance``.
    keep : float
        Fraction of the remaining pairs kept (the closest ones).
    iterations : int
        Iteration limit.
    tol : float
        Convergence (mm): an update moving no model point within 50 mm of the origin by more.
    fix_spin : bool
        The model is a body of revolution about its +z axis: the spin about it is not
        solved (it stays as in ``initial``).
    """
    if len(data) < 20:
        raise GeometryError(f"only {len(data)} metal surface points to fit the implant to",
                            hint="The implant is not in the scan, or the metal threshold is too high.")
    tree = cKDTree(model_points)
    t_inv = np.linalg.inv(np.asarray(initial, float))  # data -> model
    converged, done = False, 0
    dmax = max_distance
    r, w = np.zeros(0), np.zeros(0)
    for it in range(1, iterations + 1):
        done = it
        p = data @ t_inv[:3, :3].T + t_inv[:3, 3]
        dist, j = tree.query(p, distance_upper_bound=dmax)
        ok = np.isfinite(dist)
        if ok.sum() < 20:
            raise GeometryError(f"the implant model found only {int(ok.sum())} metal points within {dmax:.1f} mm",
                                hint="The implant is far from its planned place or not in the scan.")
        p, q, n = p[ok], model_points[j[ok]], model_normals[j[ok]]
        r = np.einsum("ij,ij->i", p - q, n)
        cut = np.quantile(np.abs(r), keep)
        sel = np.abs(r) <= cut
        p, n, r = p[sel], n[sel], r[sel]
        s = max(1.4826 * np.median(np.abs(r)), 0.05)
        u = r / (4.685 * s)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        a = np.hstack([np.cross(p, n), n])
        if fix_spin:
            a[:, 2] = 0.0
        aw = a * w[:, None]
        h = aw.T @ a
        h += np.eye(6) * (1e-6 * np.trace(h) / 6 + 1e-9)
        x = np.linalg.solve(h, -aw.T @ r)
        if dmax <= final_distance + 1e-9:
            x *= 0.5  # under-relaxed once the pairing is final: trimming can flip weakly held points
        t_inv = _small_motion(x) @ t_inv
        if 50.0 * np.linalg.norm(x[:3]) + np.linalg.norm(x[3:]) < tol:
            converged = True
            if dmax <= final_distance + 1e-9:
                break
        dmax = max(final_distance, 0.7 * dmax)
    rms = float(np.sqrt(np.sum(w * r**2) / max(np.sum(w), 1e-12)))
    return IcpResult(np.linalg.inv(t_inv), rms, int(np.count_nonzero(w > 0)), len(data), done, converged)
