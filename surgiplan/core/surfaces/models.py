"""The one segment -> surface -> decimate -> check loop (models of a segmentation).

Used by ``surgiplan model`` (:mod:`export`), the window's Models step, the sample cases
and the demos, so the four build the same surfaces with the same checks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.surfaces.decimate import decimate
from surgiplan.core.surfaces.extract import segment_to_surface
from surgiplan.core.surfaces.repair import DebrisRemoval, WatertightReport, remove_debris, watertight_report

#: Loose shells smaller than this (mm^3), or than ``DEBRIS_FRACTION`` of the largest shell,
#: are debris (specks of noise marching cubes turns into tiny closed surfaces).
DEBRIS_MM3 = 10.0
DEBRIS_FRACTION = 0.01


@dataclass(frozen=True)
class BuiltModel:
    """A surface model built from a segment: the mesh (pyvista PolyData, LPS mm), its check and
    the debris shells removed from it (``debris`` None when removal was off)."""

    name: str
    mesh: Any
    report: WatertightReport
    debris: DebrisRemoval | None = None

    @property
    def shells_removed(self) -> int:
        return 0 if self.debris is None else self.debris.shells_removed

    def summary(self) -> str:
        """The watertightness line, and how many debris shells were removed."""
        text = self.report.summary()
        if self.shells_removed:
            text += (f"; {self.shells_removed} debris shell(s) removed "
                     f"({self.debris.removed_volume_mm3:.1f} mm^3)")
        return text


def build_model(seg, name: str, *, smooth: bool = True, decimate_to: int | None = None,
                debris_mm3: float | None = DEBRIS_MM3, debris_fraction: float = DEBRIS_FRACTION,
                progress: Progress | None = None) -> BuiltModel:
    """Surface model of segment ``name``: extract, optionally smooth, remove debris, decimate, check.

    Parameters
    ----------
    seg : Segmentation
        The segmentation (label map on the scan's grid).
    name : str
        Segment name.
    smooth : bool
        Volume-preserving smoothing of the extracted surface.
    decimate_to : int, optional
        Largest number of triangles; a surface with more is decimated (manifold kept).
    debris_mm3, debris_fraction : float
        Loose shells enclosing less than ``debris_mm3`` mm^3 or less than ``debris_fraction``
        of the largest shell are removed (:func:`repair.remove_debris`; the largest shell and
        its internal cavities stay). ``debris_mm3`` None keeps every shell.
    progress : Progress, optional
        Progress and cancel.

    Returns
    -------
    BuiltModel
        Mesh in LPS mm, its watertightness report and what debris was removed.

    Examples
    --------
    >>> m = build_model(seg, "femur_left", decimate_to=60_000)  # doctest: +SKIP
    >>> m.report.watertight  # doctest: +SKIP
    True
    """
    seg.segment(name)  # an unknown name fails before any work
    if _is_empty(seg, name):
        raise InputError(f"segment '{name}' is empty: no model can be made from it",
                         hint="Remove it or build the other segments.")
    report(progress, 0.0, f"{name}: surface")
    mesh = segment_to_surface(seg, name, smooth=smooth, progress=sub_progress(progress, 0.0, 0.7))
    debris = None
    if debris_mm3 is not None:
        mesh, debris = remove_debris(mesh, min_volume_mm3=debris_mm3, min_fraction=debris_fraction)
    if decimate_to and mesh.n_cells > decimate_to:
        report(progress, 0.7, f"{name}: decimating to {decimate_to} triangles")
        mesh = decimate(mesh, decimate_to)
        if debris is not None:
            # a fold the decimation made and the repair cut out can leave a speck (a few triangles) behind
            mesh, specks = remove_debris(mesh, min_volume_mm3=debris_mm3, min_fraction=0.0)
            debris = replace(debris, shells_removed=debris.shells_removed + specks.shells_removed,
                             removed_volume_mm3=debris.removed_volume_mm3 + specks.removed_volume_mm3)
    report(progress, 1.0, f"{name}: checked")
    return BuiltModel(name, mesh, watertight_report(mesh), debris)


def _is_empty(seg, name: str, slab: int = 16) -> bool:
    """True when segment ``name`` has no voxel: slab by slab, stopping at the first voxel found
    (no full-size mask; a bone's first slab is usually found in a few slices)."""
    s = seg.segment(name)
    layer = seg.layers[s.layer]
    for k0 in range(0, layer.shape[0], slab):
        if np.any(layer[k0:k0 + slab] == s.label):
            return False
    return True


def build_models(seg, names: list[str] | None = None, *, smooth: bool = True,
                 decimate_to: int | None = None, debris_mm3: float | None = DEBRIS_MM3,
                 debris_fraction: float = DEBRIS_FRACTION,
                 progress: Progress | None = None) -> list[BuiltModel]:
    """:func:`build_model` for each of ``names`` (all segments by default); names checked first."""
    names = list(names or seg.names)
    if not names:
        raise InputError("the segmentation has no segments to build models from")
    for n in names:
        seg.segment(n)
        if _is_empty(seg, n):
            raise InputError(f"segment '{n}' is empty: no model can be made from it",
                             hint="Remove it or build the other segments.")
    return [build_model(seg, n, smooth=smooth, decimate_to=decimate_to, debris_mm3=debris_mm3,
                        debris_fraction=debris_fraction,
                        progress=sub_progress(progress, i / len(names), (i + 1) / len(names)))
            for i, n in enumerate(names)]
