"""Volume-preserving surface smoothing (VTK windowed-sinc).

``vtkWindowedSincPolyDataFilter`` is a low-pass filter on vertex positions
(Taubin, 1995): it removes the voxel staircase without the shrinkage of
Laplacian smoothing. Defaults follow 3D Slicer's closed-surface conversion:
passband 10^(-4 x smoothing factor) with factor 0.5 = 0.01, 20 iterations,
coordinates normalised, boundary and feature edges not smoothed specially.
"""

from __future__ import annotations

from surgiplan.core.jobs import Progress, report


def smooth_surface(surf, iterations: int = 20, passband: float = 0.01, progress: Progress | None = None):
    """Windowed-sinc smoothed copy of ``surf`` (pyvista.PolyData); positions stay in mm."""
    import pyvista as pv
    from vtkmodules.vtkFiltersCore import vtkWindowedSincPolyDataFilter

    if not 0 < passband <= 2:
        from surgiplan.core.errors import InputError

        raise InputError(f"passband must be in (0, 2], got {passband}")
    f = vtkWindowedSincPolyDataFilter()
    f.SetInputData(surf)
    f.SetNumberOfIterations(int(iterations))
    f.SetPassBand(float(passband))
    f.BoundarySmoothingOff()
    f.FeatureEdgeSmoothingOff()
    f.NonManifoldSmoothingOn()
    f.NormalizeCoordinatesOn()
    report(progress, 0.1, "smoothing surface")
    f.Update()
    out = pv.wrap(f.GetOutput())
    out.field_data.update(dict(surf.field_data))
    report(progress, 1.0, "smoothed")
    return out
