"""Surface statistics: area (mm^2), enclosed volume (mm^3), surface-to-surface distance (mm)."""

from __future__ import annotations

import numpy as np

from surgiplan.core.surfaces.mesh import signed_volume, triangle_points


def mesh_area(mesh) -> float:
    """Total triangle area in mm^2."""
    a, b, c = triangle_points(mesh)
    return float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())


def mesh_volume(mesh) -> float:
    """Enclosed volume in mm^3 (absolute value; meaningful for closed surfaces)."""
    return abs(signed_volume(mesh))


def surface_distance(a, b) -> dict[str, float]:
    """Symmetric distance between surfaces ``a`` and ``b`` (mm): mean, p95 (95th percentile), max.

    Distances are from every vertex of one surface to the nearest point on the
    other surface (``vtkImplicitPolyDataDistance``), pooled over both directions
    (the Hausdorff distance is ``max``).
    """
    import pyvista as pv
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkFiltersCore import vtkImplicitPolyDataDistance

    def one_way(src, dst) -> np.ndarray:
        f = vtkImplicitPolyDataDistance()
        f.SetInput(dst)
        pts = np.ascontiguousarray(src.points, dtype=np.float64)
        out = numpy_to_vtk(np.zeros(len(pts)), deep=True)
        f.FunctionValue(numpy_to_vtk(pts, deep=True), out)
        return np.abs(vtk_to_numpy(out))

    a, b = pv.wrap(a), pv.wrap(b)
    d = np.concatenate([one_way(a, b), one_way(b, a)])
    return {"mean": float(d.mean()), "p95": float(np.percentile(d, 95)), "max": float(d.max())}
