"""The Volume: a voxel array with its geometry in patient LPS millimetres.

Conventions (see ARCHITECTURE.md, rule 2):

* ``array`` is indexed ``[k, j, i]`` (slice, row, column), C order.
* ``spacing`` is ``(si, sj, sk)`` in mm, the distance between voxel centres
  along i, j and k.
* ``origin`` is the LPS position (mm) of the centre of voxel (i, j, k) = (0, 0, 0).
* ``direction`` is a 3x3 matrix whose *columns* are the unit LPS directions of
  the i, j and k axes (as in ITK / SimpleITK).

``world = origin + direction @ (spacing * ijk)``. :meth:`Volume.index_to_world`
and :meth:`Volume.world_to_index` are the only way between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from surgiplan.core.errors import GeometryError


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3D scalar image in patient LPS millimetres.

    Attributes
    ----------
    array:
        Voxel values indexed ``[k, j, i]``. CT is int16 Hounsfield units where the
        rescale is exact, otherwise float32.
    spacing:
        ``(si, sj, sk)`` in mm.
    origin:
        LPS position in mm of the centre of voxel (0, 0, 0).
    direction:
        3x3; column c is the LPS unit vector of index axis c (i, j, k).
    metadata:
        Free-form description: ``modality``, ``patient_name``, ``series_uid``,
        ``series_description``, ``window_center``/``window_width``, ``units`` ...
    warnings:
        What the loader corrected or noticed (gantry tilt, gaps, ...), for the user.
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        arr = np.asarray(self.array)
        if arr.ndim != 3:
            raise GeometryError(f"a Volume needs a 3D array [k, j, i], got shape {arr.shape}")
        object.__setattr__(self, "array", arr)
        sp = tuple(float(s) for s in self.spacing)
        if len(sp) != 3 or not all(np.isfinite(sp)) or min(sp) <= 0:
            raise GeometryError(f"voxel spacing must be three positive numbers in mm, got {self.spacing}")
        object.__setattr__(self, "spacing", sp)
        org = tuple(float(o) for o in self.origin)
        if len(org) != 3 or not all(np.isfinite(org)):
            raise GeometryError(f"origin must be three finite LPS coordinates in mm, got {self.origin}")
        object.__setattr__(self, "origin", org)
        d = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.all(np.isfinite(d)) or abs(abs(np.linalg.det(d)) - 1.0) > 1e-3:
            raise GeometryError(
                "direction must be a 3x3 matrix of orthonormal axis directions; "
                f"got determinant {np.linalg.det(d):.4f}"
            )
        object.__setattr__(self, "direction", d)
        object.__setattr__(self, "warnings", tuple(self.warnings))

    # ----------------------------------------------------------------- geometry
    @property
    def shape_ijk(self) -> tuple[int, int, int]:
        """Number of voxels along (i, j, k)."""
        k, j, i = self.array.shape
        return (i, j, k)

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous (i, j, k, 1) to LPS mm."""
        a = np.eye(4)
        a[:3, :3] = self.direction * np.asarray(self.spacing)[None, :]
        a[:3, 3] = self.origin
        return a

    def index_to_world(self, ijk: np.ndarray | list | tuple) -> np.ndarray:
        """Continuous (i, j, k) indices (..., 3) -> LPS mm (..., 3)."""
        p = np.asarray(ijk, dtype=float)
        m = self.direction * np.asarray(self.spacing)[None, :]
        return p @ m.T + np.asarray(self.origin)

    def world_to_index(self, xyz: np.ndarray | list | tuple) -> np.ndarray:
        """LPS mm (..., 3) -> continuous (i, j, k) indices (..., 3)."""
        p = np.asarray(xyz, dtype=float) - np.asarray(self.origin)
        m = self.direction * np.asarray(self.spacing)[None, :]
        return p @ np.linalg.inv(m).T

    def world_corners(self) -> np.ndarray:
        """The 8 corner voxel centres in LPS mm, shape (8, 3)."""
        ni, nj, nk = self.shape_ijk
        c = np.array(
            [[i, j, k] for k in (0, nk - 1) for j in (0, nj - 1) for i in (0, ni - 1)], dtype=float
        )
        return self.index_to_world(c)

    def bounds(self) -> np.ndarray:
        """Axis-aligned LPS bounds of the voxel centres: [[xmin, ymin, zmin], [xmax, ymax, zmax]]."""
        c = self.world_corners()
        return np.stack([c.min(axis=0), c.max(axis=0)])

    def same_grid(self, other: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same size and its corners lie within ``tol_mm``."""
        return self.shape_ijk == other.shape_ijk and bool(
            np.all(np.abs(self.world_corners() - other.world_corners()) <= tol_mm)
        )

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A new Volume on the same grid with another array (same shape required)."""
        if array.shape != self.array.shape:
            raise GeometryError(
                f"array shape {array.shape} does not match the volume grid {self.array.shape}"
            )
        return replace(self, array=array, **changes)

    def describe(self) -> str:
        """One line: size, spacing, value range, modality."""
        ni, nj, nk = self.shape_ijk
        sp = ", ".join(f"{s:.4g}" for s in self.spacing)
        mod = self.metadata.get("modality", "?")
        return f"{mod} {ni} x {nj} x {nk} voxels, spacing ({sp}) mm, {self.array.dtype}"


def orientation_labels(direction: np.ndarray) -> tuple[str, str, str]:
    """Anatomical direction letters (LPS) of the +i, +j, +k axes, e.g. ('L', 'P', 'S')."""
    letters = (("L", "R"), ("P", "A"), ("S", "I"))
    out = []
    for c in range(3):
        v = np.asarray(direction)[:, c]
        a = int(np.argmax(np.abs(v)))
        out.append(letters[a][0] if v[a] > 0 else letters[a][1])
    return tuple(out)  # type: ignore[return-value]
