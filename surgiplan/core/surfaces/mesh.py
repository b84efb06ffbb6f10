"""Mesh basics every surface module builds on (no imports from the rest of ``surfaces``).

Triangle arrays of a pyvista PolyData, corner points, the signed enclosed volume and
outward orientation. Positions are LPS mm; volumes mm^3.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError


def triangles(mesh) -> np.ndarray:
    """(n, 3) int array of a pure-triangle PolyData's faces; InputError otherwise.

    Examples
    --------
    >>> import pyvista as pv
    >>> triangles(pv.Sphere(theta_resolution=8, phi_resolution=8)).shape[1]
    3
    """
    if mesh.n_cells == 0:
        return np.zeros((0, 3), np.int64)
    if not mesh.is_all_triangles:
        mesh = mesh.triangulate()
    f = np.asarray(mesh.faces).reshape(-1, 4)
    if np.any(f[:, 0] != 3):
        raise InputError("the mesh has non-triangle faces")
    return f[:, 1:]


def triangle_points(mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three corner arrays (n, 3) of the mesh's triangles, float64 LPS mm."""
    f = triangles(mesh)
    p = np.asarray(mesh.points, np.float64)
    return p[f[:, 0]], p[f[:, 1]], p[f[:, 2]]


def signed_volume(mesh) -> float:
    """Signed enclosed volume in mm^3 by the divergence theorem (> 0 for outward normals)."""
    a, b, c = triangle_points(mesh)
    centre = np.asarray(mesh.points, np.float64).mean(axis=0) if mesh.n_points else 0.0
    a, b, c = a - centre, b - centre, c - centre
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def flip_triangles(surf) -> None:
    """Reverse the orientation of every triangle of ``surf`` (in place)."""
    faces = surf.faces.reshape(-1, 4).copy()
    faces[:, 1:] = faces[:, [3, 2, 1]]
    surf.faces = faces.ravel()


def orient_outwards(surf):
    """Flip all triangles when the enclosed signed volume is negative (normals inward)."""
    if signed_volume(surf) < 0:
        flip_triangles(surf)
    return surf
