"""Outlines of surface models where a slice plane cuts them (LPS mm), for slice views."""

from __future__ import annotations

import numpy as np


def plane_outline(mesh, origin, normal) -> list[np.ndarray]:
    """Polylines (each (n, 3), LPS mm) where plane (``origin``, ``normal``) cuts ``mesh``.

    Empty when the plane misses the mesh. Uses VTK's cutter through pyvista and
    joins segments into polylines (vtkStripper).
    """
    if mesh is None or mesh.n_points == 0:
        return []
    o = np.asarray(origin, dtype=float)
    n = np.asarray(normal, dtype=float)
    b = np.asarray(mesh.bounds, dtype=float).reshape(3, 2)
    corners = np.array([[x, y, z] for x in b[0] for y in b[1] for z in b[2]])
    side = (corners - o) @ n
    if side.min() > 0 or side.max() < 0:
        return []
    cut = mesh.slice(normal=n, origin=o)
    if cut.n_points == 0:
        return []
    cut = cut.strip()
    pts = np.asarray(cut.points)
    lines = np.asarray(cut.lines)
    out = []
    i = 0
    while i < len(lines):
        cnt = int(lines[i])
        out.append(pts[lines[i + 1: i + 1 + cnt]])
        i += cnt + 1
    return out
