"""Label map -> triangle surface in LPS mm (VTK flying edges), per segment.

The mask is cropped to its bounding box and padded by one empty voxel on every
side, so a structure cut by the edge of the scan gets a closed (watertight)
surface. Flying edges (``vtkFlyingEdges3D``, multi-threaded) extracts the 0.5
iso-surface of the binary mask (on an axis-aligned grid directly in LPS mm via
the image origin and spacing; otherwise in index space, the points then mapped
to LPS with the grid's spacing, origin and direction matrix), and the triangles are
oriented so that normals point outwards (positive enclosed volume), also for
left-handed (det -1) grids, by flipping them when the grid mirrors space.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError, MeshingError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.surfaces.mesh import flip_triangles, signed_volume

_SMP_READY = False


def _init_smp() -> None:
    """Use VTK's std::thread SMP backend on all cores (once)."""
    global _SMP_READY
    if _SMP_READY:
        return
    import os

    from vtkmodules.vtkCommonCore import vtkSMPTools

    try:
        vtkSMPTools.SetBackend("STDThread")
    except Exception:  # backend not compiled in: keep the default
        pass
    vtkSMPTools.Initialize(os.cpu_count() or 1)
    _SMP_READY = True


def _bbox(mask: np.ndarray):
    from surgiplan.core.segmentation.patch import changed_box

    return changed_box(mask)


def mask_to_surface(
    mask: np.ndarray, spacing, origin=(0.0, 0.0, 0.0), direction=None, *, smooth: bool = True,
    smoothing_iterations: int = 20, passband: float = 0.01, progress: Progress | None = None,
):
    """Closed triangle surface (pyvista.PolyData, LPS mm) of boolean ``mask`` [k, j, i].

    ``spacing`` (i, j, k) mm, ``origin`` LPS of voxel 0, ``direction`` columns =
    LPS axes of i, j, k. ``smooth``: volume-preserving windowed-sinc smoothing
    (see :func:`surgiplan.core.surfaces.smooth.smooth_surface`). Raises
    MeshingError for an empty mask.
    """
    import pyvista as pv
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    _init_smp()
    mask = np.asarray(mask)
    box = _bbox(mask if mask.dtype == bool else mask != 0)
    if box is None:
        raise MeshingError("the segment is empty: there is no surface to make",
                           hint="Paint or threshold the segment first.")
    report(progress, 0.05, "preparing label map")
    crop = mask[box]
    sub = np.pad(crop.view(np.uint8) if crop.dtype == bool else (crop != 0).view(np.uint8), 1)
    start = np.array([box[2].start, box[1].start, box[0].start], float) - 1.0
    m = (np.eye(3) if direction is None else np.asarray(direction, float)) * np.asarray(spacing, float)[None, :]
    # axis-aligned grid (direction a signed permutation): flying edges (VTK >= 9.x
    # honours the image direction matrix) emits LPS mm directly, no per-point
    # transform; an oblique grid's points are mapped below
    d = np.eye(3) if direction is None else np.asarray(direction, float)
    aligned = bool(np.all(np.isclose(np.abs(d), 0.0) | np.isclose(np.abs(d), 1.0))
                   and np.all(np.isclose(np.abs(d).sum(axis=0), 1.0))
                   and np.all(np.isclose(np.abs(d).sum(axis=1), 1.0)))
    if aligned:
        img = pv.ImageData(dimensions=sub.shape[::-1], spacing=tuple(float(v) for v in spacing),
                           origin=tuple(np.asarray(origin, float) + m @ start))
        img.direction_matrix = d
    else:
        img = pv.ImageData(dimensions=sub.shape[::-1])
    img.point_data["mask"] = sub.ravel()  # C order of [k, j, i] = VTK's x-fastest order
    fe = vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 0.5)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()
    report(progress, 0.1, "extracting surface (flying edges)")
    fe.Update()
    surf = pv.wrap(fe.GetOutput())
    if surf.n_cells == 0:
        raise MeshingError("flying edges produced no surface")
    if not aligned:  # index space of the padded crop -> grid index -> LPS mm
        surf.points = (surf.points.astype(np.float64) + start) @ m.T + np.asarray(origin, float)
    # orientation: flying edges orients triangles the same way for every binary
    # mask; a left-handed grid (det < 0) mirrors them. Flip when needed (O(n)).
    if _fe_orientation() * np.sign(np.linalg.det(m)) < 0:
        flip_triangles(surf)
    if smooth:
        from surgiplan.core.surfaces.smooth import smooth_surface

        report(progress, 0.5, "smoothing")
        surf = smooth_surface(surf, iterations=smoothing_iterations, passband=passband,
                              progress=sub_progress(progress, 0.5, 0.95))
    report(progress, 1.0, "surface ready")
    return surf


_FE_SIGN: float | None = None


def _fe_orientation() -> float:
    """+1 when flying edges gives outward triangles on a binary mask in index space, else -1."""
    global _FE_SIGN
    if _FE_SIGN is None:
        import pyvista as pv
        from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

        cube = np.zeros((5, 5, 5), np.uint8)
        cube[1:4, 1:4, 1:4] = 1
        img = pv.ImageData(dimensions=cube.shape)
        img.point_data["m"] = cube.ravel()
        fe = vtkFlyingEdges3D()
        fe.SetInputData(img)
        fe.SetValue(0, 0.5)
        fe.Update()
        _FE_SIGN = 1.0 if signed_volume(pv.wrap(fe.GetOutput())) > 0 else -1.0
    return _FE_SIGN


def segment_to_surface(seg, name_or_label, smooth: bool = True, progress: Progress | None = None, **kw):
    """Surface (pyvista.PolyData, LPS mm) of one segment of a Segmentation."""
    s = seg.segment(name_or_label)
    mask = seg.layers[s.layer] == s.label
    if not mask.any():
        raise MeshingError(f"segment '{s.name}' is empty: there is no surface to make",
                           hint="Paint or threshold the segment first.")
    surf = mask_to_surface(mask, seg.spacing, seg.origin, seg.direction, smooth=smooth, progress=progress, **kw)
    surf.field_data["segment"] = np.array([s.name])
    surf.field_data["frame"] = np.array(["LPS"])
    return surf


def check_mask(mask) -> None:
    if np.asarray(mask).ndim != 3:
        raise InputError("a mask must be a 3D array [k, j, i]")
