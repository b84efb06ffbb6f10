"""Reslicing a Volume into the three standard views, in radiological convention.

The voxel array is viewed (never copied) in a *canonical* order ``[z, y, x]`` in
which x, y and z increase towards patient Left, Posterior and Superior (LPS),
whatever the acquisition plane: an axial CT, a sagittal or coronal MR all come
out the same way round. Each index axis goes to the LPS axis its direction is
closest to (as 3D Slicer and ITK's DICOMOrient do), so for oblique scans the
letters name the dominant direction.

Screen conventions (radiological, as every PACS shows them):

* axial: patient Right on the screen's left, Anterior at the top (seen from the feet);
* coronal: patient Right on the left, Superior at the top (seen from the front);
* sagittal: Anterior on the left, Superior at the top (seen from the patient's left).

Image rows go down the screen and columns to the right. ``pixel_mm`` gives the
(column, row) pixel size in mm so that displays keep the true aspect ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIEWS = ("axial", "coronal", "sagittal")

#: The anatomical letter shown at the (left, right, top, bottom) edge of each view.
EDGE_LABELS: dict[str, tuple[str, str, str, str]] = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "S", "I"),
    "sagittal": ("A", "P", "S", "I"),
}

#: Canonical axis (0 = z, 1 = y, 2 = x) held fixed by each view.
VIEW_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


@dataclass(frozen=True)
class CanonicalGrid:
    """How the voxel array maps onto LPS-ordered canonical axes.

    ``axis_of[a]`` is the index axis (0 = i, 1 = j, 2 = k) that runs along LPS
    axis ``a`` (0 = x/L, 1 = y/P, 2 = z/S); ``flip[a]`` says whether it runs
    backwards. ``shape_xyz`` and ``spacing_xyz`` (mm) are per LPS axis.
    """

    axis_of: tuple[int, int, int]
    flip: tuple[bool, bool, bool]
    shape_xyz: tuple[int, int, int]
    spacing_xyz: tuple[float, float, float]
    oblique_deg: float

    @classmethod
    def of(cls, shape_ijk, spacing, direction) -> CanonicalGrid:
        d = np.asarray(direction, dtype=float).reshape(3, 3)
        # Assign each LPS axis the index axis most aligned with it (greedy on |cos|).
        a = np.abs(d)
        axis_of = [-1, -1, -1]
        used: set[int] = set()
        for _ in range(3):
            best = (-1.0, -1, -1)
            for world in range(3):
                if axis_of[world] >= 0:
                    continue
                for c in range(3):
                    if c not in used and a[world, c] > best[0]:
                        best = (a[world, c], world, c)
            _, world, c = best
            axis_of[world] = c
            used.add(c)
        flip = tuple(bool(d[w, axis_of[w]] < 0) for w in range(3))
        cosines = [abs(d[w, axis_of[w]]) for w in range(3)]
        oblique = float(np.degrees(np.arccos(min(1.0, min(cosines)))))
        return cls(
            axis_of=tuple(axis_of),  # type: ignore[arg-type]
            flip=flip,  # type: ignore[arg-type]
            shape_xyz=tuple(int(shape_ijk[axis_of[w]]) for w in range(3)),  # type: ignore[arg-type]
            spacing_xyz=tuple(float(spacing[axis_of[w]]) for w in range(3)),  # type: ignore[arg-type]
            oblique_deg=oblique,
        )

    @classmethod
    def of_volume(cls, volume) -> CanonicalGrid:
        return cls.of(volume.shape_ijk, volume.spacing, volume.direction)

    # ------------------------------------------------------------------ arrays
    def canonical(self, array_kji: np.ndarray) -> np.ndarray:
        """A view of ``array_kji`` ([k, j, i]) indexed [z, y, x] (LPS order). No copy."""
        # array axis of index axis c is 2 - c; canonical axis 0 is z (world 2).
        order = [2 - self.axis_of[w] for w in (2, 1, 0)]
        out = np.transpose(array_kji, order)
        for pos, w in enumerate((2, 1, 0)):
            if self.flip[w]:
                out = np.flip(out, axis=pos)
        return out

    # ------------------------------------------------------------ coordinates
    def xyz_to_ijk(self, xyz) -> np.ndarray:
        """Canonical continuous indices (x, y, z) -> volume indices (i, j, k)."""
        xyz = np.asarray(xyz, dtype=float)
        ijk = np.empty(xyz.shape[:-1] + (3,), dtype=float)
        for w in range(3):
            v = xyz[..., w]
            if self.flip[w]:
                v = (self.shape_xyz[w] - 1) - v
            ijk[..., self.axis_of[w]] = v
        return ijk

    def ijk_to_xyz(self, ijk) -> np.ndarray:
        """Volume indices (i, j, k) -> canonical indices (x, y, z)."""
        ijk = np.asarray(ijk, dtype=float)
        xyz = np.empty(ijk.shape[:-1] + (3,), dtype=float)
        for w in range(3):
            v = ijk[..., self.axis_of[w]]
            xyz[..., w] = (self.shape_xyz[w] - 1) - v if self.flip[w] else v
        return xyz


def slice_count(grid: CanonicalGrid, view: str) -> int:
    """Number of slices of ``view``."""
    return grid.shape_xyz[2 - VIEW_AXIS[view]]


def extract_slice(canon_zyx: np.ndarray, view: str, index: int) -> np.ndarray:
    """The 2D image (rows down, columns right) of slice ``index`` of ``view``.

    ``canon_zyx`` is a canonical [z, y, x] view (see :meth:`CanonicalGrid.canonical`).
    Returns a view where possible (axial) or a small copy.
    """
    if view == "axial":
        return canon_zyx[index]
    if view == "coronal":
        return canon_zyx[::-1, index, :]
    if view == "sagittal":
        return canon_zyx[::-1, :, index]
    raise ValueError(f"unknown view {view!r}; use one of {', '.join(VIEWS)}")


def pixel_mm(grid: CanonicalGrid, view: str) -> tuple[float, float]:
    """(column, row) pixel size in mm of ``view``."""
    sx, sy, sz = grid.spacing_xyz
    return {"axial": (sx, sy), "coronal": (sx, sz), "sagittal": (sy, sz)}[view]


def slice_shape(grid: CanonicalGrid, view: str) -> tuple[int, int]:
    """(rows, columns) of a slice of ``view``."""
    nx, ny, nz = grid.shape_xyz
    return {"axial": (ny, nx), "coronal": (nz, nx), "sagittal": (nz, ny)}[view]


def pixel_to_xyz(grid: CanonicalGrid, view: str, index: int, col: float, row: float) -> np.ndarray:
    """Canonical (x, y, z) indices of pixel (col, row) of slice ``index`` of ``view``."""
    nx, ny, nz = grid.shape_xyz
    if view == "axial":
        return np.array([col, row, index], dtype=float)
    if view == "coronal":
        return np.array([col, index, (nz - 1) - row], dtype=float)
    return np.array([index, col, (nz - 1) - row], dtype=float)


def xyz_to_pixel(grid: CanonicalGrid, view: str, xyz) -> tuple[float, float, float]:
    """(col, row, slice index) of canonical (x, y, z) in ``view``."""
    x, y, z = (float(v) for v in xyz)
    nx, ny, nz = grid.shape_xyz
    if view == "axial":
        return x, y, z
    if view == "coronal":
        return x, (nz - 1) - z, y
    return y, (nz - 1) - z, x


def window_to_uint8(image: np.ndarray, center: float, width: float) -> np.ndarray:
    """Grey values 0..255 of ``image`` under window ``center``/``width`` (image units, e.g. HU)."""
    width = max(float(width), 1e-6)
    lo = float(center) - width / 2.0
    out = (np.asarray(image, dtype=np.float32) - lo) * (255.0 / width)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
