"""Decimation to a target triangle count (fast-simplification's quadric edge collapse).

fast-simplification (Fast Quadric Mesh Simplification, Sp4cerat) is ~6x faster
than VTK's vtkQuadricDecimation on bone surfaces of a few hundred thousand
triangles and keeps closed surfaces closed.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.surfaces.mesh import triangles


def decimate(mesh, target_triangles: int, *, aggressiveness: float = 7.0, keep_manifold: bool = True):
    """A copy of triangle mesh ``mesh`` with about ``target_triangles`` triangles (no-op if fewer).

    ``keep_manifold``: the few triangles the edge collapses fold onto each other
    (non-manifold edges, typically < 0.02 %) are cut out and the holes closed
    again, so a watertight input stays watertight.
    """
    import fast_simplification
    import pyvista as pv

    target = int(target_triangles)
    if target < 4:
        raise InputError(f"target triangle count must be >= 4, got {target_triangles}")
    faces = triangles(mesh)
    n = len(faces)
    if n <= target:
        return mesh.copy()
    pts, fcs = fast_simplification.simplify(
        np.asarray(mesh.points, np.float64), faces, target_count=target, agg=aggressiveness
    )
    out = pv.PolyData.from_regular_faces(pts, fcs)
    out.field_data.update(dict(mesh.field_data))
    if keep_manifold:
        from surgiplan.core.surfaces.repair import fix_non_manifold

        out = fix_non_manifold(out)
    return out
