"""Implant-bone interference fast enough to update while dragging.

Per bone, once: :class:`BoneField` voxelises the closed bone surface
(``vtkPolyDataToImageStencil``), takes the signed Euclidean distance transform
of the inside mask (SimpleITK's multi-threaded ``SignedMaurerDistanceMap``) and replaces the
values in a narrow band around the surface by exact point-to-surface distances
(``vtkImplicitPolyDataDistance``), giving a signed distance grid (mm,
negative inside the bone). It keeps a ``vtkStaticCellLocator`` for exact
queries.

Per implant size, once: :class:`ImplantSamples` holds surface points
(vertices) and interior points (a regular grid inside the closed parts,
``vtkSelectEnclosedPoints``, each standing for ``h^3`` mm^3).

Per move: the samples are transformed (one 4x4 product) and the grid is
interpolated trilinearly (``scipy.ndimage.map_coordinates``):
penetration volume = (number of interior samples inside bone) x h^3;
minimum distance / deepest point are refined exactly (vtkImplicitPolyDataDistance) on the
few best candidates. Breach (pedicle screws): largest distance outside the bone
of the contact part's surface, with its location.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyvista as pv
import vtk
from scipy import ndimage
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy

from surgiplan.core.errors import GeometryError
from surgiplan.core.jobs import Progress, report


class BoneField:
    """Signed distance to a closed bone surface, precomputed on a grid (mm; < 0 inside)."""

    def __init__(self, mesh: pv.PolyData, spacing: float | None = None, margin: float = 12.0,
                 max_voxels: float = 4e6, band_voxels: float = 1.5, progress: Progress | None = None):
        mesh = mesh.triangulate()
        if mesh.n_cells == 0:
            raise GeometryError("bone model is empty")
        self.mesh = mesh
        b = np.array(mesh.bounds).reshape(3, 2)
        lo, hi = b[:, 0] - margin, b[:, 1] + margin
        ext = hi - lo
        if spacing is None:
            spacing = max(0.5, float(np.cbrt(np.prod(ext) / max_voxels)))
        self.spacing = float(spacing)
        self.origin = lo
        dims = np.ceil(ext / spacing).astype(int) + 1
        self.dims = dims
        report(progress, 0.1, "voxelising bone")
        inside = self._voxelise(mesh, lo, dims, spacing)
        report(progress, 0.4, "distance transform")
        import SimpleITK as sitk

        img = sitk.GetImageFromArray(inside.astype(np.uint8))
        img.SetSpacing((spacing,) * 3)
        dm = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False,
                                          useImageSpacing=True)
        # Maurer measures to boundary voxel centres; shift by half a voxel so that the zero
        # level lies between inside and outside voxels (the band below is then made exact)
        sdf = (sitk.GetArrayFromImage(dm) - spacing / 2).astype(np.float32)
        # exact distances in the narrow band around the surface
        report(progress, 0.6, "exact distances near the surface")
        self._implicit = vtk.vtkImplicitPolyDataDistance()
        self._implicit.SetInput(mesh)
        band = np.abs(sdf) < band_voxels * spacing
        kk, jj, ii = np.nonzero(band)
        pts = np.column_stack([ii, jj, kk]) * spacing + lo
        sdf[band] = self.exact(pts).astype(np.float32)
        self.sdf = sdf  # [k, j, i]
        self.locator = vtk.vtkStaticCellLocator()
        self.locator.SetDataSet(mesh)
        self.locator.BuildLocator()
        report(progress, 1.0, "bone distance field ready")

    @staticmethod
    def _voxelise(mesh, lo, dims, spacing) -> np.ndarray:
        img = vtk.vtkImageData()
        img.SetDimensions(*[int(x) for x in dims])
        img.SetSpacing(spacing, spacing, spacing)
        img.SetOrigin(*lo)
        img.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        img.GetPointData().GetScalars().Fill(1)
        sten = vtk.vtkPolyDataToImageStencil()
        sten.SetInputData(mesh)
        sten.SetOutputOrigin(*lo)
        sten.SetOutputSpacing(spacing, spacing, spacing)
        sten.SetOutputWholeExtent(img.GetExtent())
        sten.Update()
        st = vtk.vtkImageStencil()
        st.SetInputData(img)
        st.SetStencilConnection(sten.GetOutputPort())
        st.ReverseStencilOff()
        st.SetBackgroundValue(0)
        st.Update()
        arr = vtk_to_numpy(st.GetOutput().GetPointData().GetScalars())
        return arr.reshape(dims[2], dims[1], dims[0]).astype(bool)

    def exact(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance (mm, < 0 inside) of LPS points via vtkImplicitPolyDataDistance."""
        p = np.ascontiguousarray(np.asarray(points, float).reshape(-1, 3))
        if len(p) < 64:
            f = self._implicit.EvaluateFunction
            return np.array([f(q) for q in p])
        out = vtk.vtkDoubleArray()
        self._implicit.FunctionValue(numpy_to_vtk(p, deep=True), out)
        return vtk_to_numpy(out).copy()

    def closest_point(self, point) -> np.ndarray:
        """Closest point (LPS mm) on the bone surface (static cell locator)."""
        c = [0.0, 0.0, 0.0]
        cell = vtk.reference(0)
        sub = vtk.reference(0)
        d2 = vtk.reference(0.0)
        self.locator.FindClosestPoint(list(map(float, point)), c, cell, sub, d2)
        return np.array(c)

    def interpolate(self, points: np.ndarray) -> np.ndarray:
        """Signed distance (mm) at LPS points, trilinear on the grid; far outside = large positive."""
        idx = (np.asarray(points, float) - self.origin) / self.spacing  # i, j, k
        return ndimage.map_coordinates(self.sdf, [idx[:, 2], idx[:, 1], idx[:, 0]], order=1,
                                       mode="constant", cval=1e3)


@dataclass
class ImplantSamples:
    """Surface and interior sample points of an implant in its own frame (mm)."""

    surface: np.ndarray
    interior: np.ndarray
    cell_volume: float  # mm^3 per interior sample

    @classmethod
    def from_meshes(cls, meshes: list[pv.PolyData], max_interior: int = 25000,
                    spacing: float | None = None) -> ImplantSamples:
        surf = np.vstack([m.points for m in meshes])
        interior = []
        vol_total = sum(abs(m.triangulate().volume) for m in meshes)
        if spacing is None:
            spacing = max(0.25, float(np.cbrt(vol_total / max_interior)))
        for m in meshes:
            b = np.array(m.bounds).reshape(3, 2)
            lo = b[:, 0] + spacing / 2
            dims = np.maximum(np.floor((b[:, 1] - lo) / spacing).astype(int) + 1, 1)
            mask = BoneField._voxelise(m.triangulate(), lo, dims, spacing)
            kk, jj, ii = np.nonzero(mask)
            interior.append(np.column_stack([ii, jj, kk]) * spacing + lo)
        inter = np.vstack(interior) if interior else np.zeros((0, 3))
        if len(meshes) > 1 and len(inter):  # overlapping parts: count each grid cell once
            key = np.round(inter / spacing).astype(np.int64)
            _, uniq = np.unique(key, axis=0, return_index=True)
            inter = inter[np.sort(uniq)]
        # each sample stands for an equal share of the implant's exact volume (removes the
        # voxelisation's bias on thin parts such as a 3 mm cup shell)
        cell = vol_total / len(inter) if len(inter) and len(meshes) == 1 else spacing**3
        return cls(surf, inter, cell)


@dataclass
class Interference:
    penetration_volume_mm3: float
    min_distance_mm: float  # > 0: gap; 0 when penetrating
    max_penetration_mm: float  # deepest implant surface point inside the bone (>= 0)
    deepest_point: np.ndarray | None
    closest_point: np.ndarray | None

    def to_dict(self) -> dict:
        return {"penetration_volume_mm3": self.penetration_volume_mm3,
                "min_distance_mm": self.min_distance_mm,
                "max_penetration_mm": self.max_penetration_mm,
                "deepest_point": None if self.deepest_point is None else self.deepest_point.tolist(),
                "closest_point": None if self.closest_point is None else self.closest_point.tolist()}


def _transform(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    return p @ t[:3, :3].T + t[:3, 3]


def interference(field: BoneField, samples: ImplantSamples, transform: np.ndarray,
                 refine: int = 32) -> Interference:
    """Penetration volume (mm^3) and minimum distance (mm) of a posed implant vs a bone."""
    surf = _transform(transform, samples.surface)
    ds = field.interpolate(surf)
    vol = 0.0
    if len(samples.interior):
        di = field.interpolate(_transform(transform, samples.interior))
        vol = float((di < 0).sum() * samples.cell_volume)
    k = min(refine, len(ds))
    cand = np.argpartition(ds, k - 1)[:k]
    exact = field.exact(surf[cand])
    j = int(np.argmin(exact))
    dmin = float(exact[j])
    p = surf[cand[j]]
    if dmin >= 0 and vol == 0.0:
        return Interference(0.0, dmin, 0.0, None, p)
    return Interference(vol, 0.0, max(0.0, -dmin), p, None)


@dataclass
class Breach:
    breach_mm: float  # largest distance of the screw surface outside the bone (0 = contained)
    location: np.ndarray | None  # LPS mm of that point
    depth_along_screw_mm: float | None  # from the entry point along the screw axis
    direction: str  # medial / lateral / superior / inferior / anterior / posterior / none
    grade: str  # Gertzbein-Robbins A-E

    def to_dict(self) -> dict:
        return {"breach_mm": self.breach_mm,
                "location": None if self.location is None else self.location.tolist(),
                "depth_along_screw_mm": self.depth_along_screw_mm, "direction": self.direction,
                "grade": self.grade}


def gertzbein_robbins(breach_mm: float) -> str:
    """Grade A (0 mm), B (< 2), C (< 4), D (< 6), E (>= 6 mm)."""
    if breach_mm <= 0:
        return "A"
    return "B" if breach_mm < 2 else "C" if breach_mm < 4 else "D" if breach_mm < 6 else "E"


def screw_breach(field: BoneField, samples: ImplantSamples, transform: np.ndarray,
                 skip_entry_mm: float = 3.0, midline_x: float | None = None,
                 refine: int = 8) -> Breach:
    """Cortical breach of a pedicle screw shank (samples of the shank only).

    Points within ``skip_entry_mm`` of the entry (z < skip) are ignored: the
    shank there crosses the cortex by design. Direction is named in LPS relative
    to the screw axis (medial = towards ``midline_x``, default the bone's centre).
    """
    s = samples.surface[samples.surface[:, 2] >= skip_entry_mm]
    if len(s) == 0:
        return Breach(0.0, None, None, "none", "A")
    w = _transform(transform, s)
    d = field.interpolate(w)
    k = min(refine, len(d))
    cand = np.argpartition(-d, k - 1)[:k]
    exact = field.exact(w[cand])
    j = int(np.argmax(exact))
    b = float(exact[j])
    if b <= 0:
        return Breach(0.0, None, None, "none", "A")
    p = w[cand[j]]
    z_local = float(s[cand[j], 2])
    axis_pt = transform[:3, 3] + transform[:3, 2] * z_local
    radial = p - axis_pt
    mx = float(np.mean(field.mesh.bounds[:2])) if midline_x is None else midline_x
    comps = {
        "medial" if (mx - axis_pt[0]) * radial[0] > 0 else "lateral": abs(radial[0]),
        "superior" if radial[2] > 0 else "inferior": abs(radial[2]),
        "posterior" if radial[1] > 0 else "anterior": abs(radial[1]),
    }
    return Breach(b, p, z_local, max(comps, key=comps.get), gertzbein_robbins(b))
