"""Scissors: cut a mask with a polygon drawn in a view, extruded along the view direction.

The polygon's vertices are LPS mm points (as clicked in a slice or 3D view);
the prism they sweep along ``view_direction`` (LPS unit vector, optionally
limited to +/- ``depth_mm`` around the polygon's plane) selects voxels whose
centres fall inside it.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume


def prism_mask(geometry: Volume, polygon_lps, view_direction, depth_mm: float | None = None) -> np.ndarray:
    """Boolean [k, j, i] of voxel centres inside the polygon extruded along ``view_direction``."""
    from skimage.measure import points_in_poly

    poly = np.asarray(polygon_lps, float)
    if poly.ndim != 2 or poly.shape[0] < 3 or poly.shape[1] != 3:
        raise InputError("the scissors polygon needs at least 3 points (LPS mm, shape (n, 3))")
    d = np.asarray(view_direction, float)
    if np.linalg.norm(d) == 0:
        raise InputError("the view direction must not be zero")
    d = d / np.linalg.norm(d)
    # orthonormal in-plane axes u, v
    helper = np.array([1.0, 0, 0]) if abs(d[0]) < 0.9 else np.array([0, 1.0, 0])
    u = np.cross(d, helper)
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    p0 = poly.mean(axis=0)
    poly2 = np.stack([(poly - p0) @ u, (poly - p0) @ v], axis=1)
    if abs(_area(poly2)) < 1e-9:
        raise InputError("the scissors polygon has no area in the view plane")
    k, j, i = geometry.array.shape
    # a view direction along a grid axis (every slice view of the window): the voxel
    # centres of one grid slice project onto every other slice, so test one slice
    along = np.abs(np.asarray(geometry.direction, float).T @ d)
    a = int(np.argmax(along))
    if along[a] > 1 - 1e-6:
        return _prism_along_axis(geometry, poly2, p0, u, v, d, 2 - a, depth_mm)
    out = np.zeros((k, j, i), bool)
    ii, jj = np.meshgrid(np.arange(i), np.arange(j), indexing="xy")
    for kk in range(k):
        ijk = np.stack([ii.ravel(), jj.ravel(), np.full(ii.size, kk)], axis=1).astype(float)
        w = geometry.index_to_world(ijk) - p0
        pts = np.stack([w @ u, w @ v], axis=1)
        inside = points_in_poly(pts, poly2)
        if depth_mm is not None:
            inside &= np.abs(w @ d) <= depth_mm
        out[kk] = inside.reshape(j, i)
    return out


def _prism_along_axis(geometry: Volume, poly2, p0, u, v, d, axis: int, depth_mm) -> np.ndarray:
    """prism_mask when ``d`` is parallel to array axis ``axis`` (0 = k, 1 = j, 2 = i)."""
    from skimage.measure import points_in_poly

    shape = geometry.array.shape
    plane_shape = tuple(n for ax, n in enumerate(shape) if ax != axis)
    grids = np.meshgrid(*[np.arange(n) for n in plane_shape], indexing="ij")
    kji = []
    it = iter(grids)
    for ax in range(3):
        kji.append(np.zeros(grids[0].size) if ax == axis else next(it).ravel().astype(float))
    w = geometry.index_to_world(np.stack(kji[::-1], axis=1)) - p0
    inside = points_in_poly(np.stack([w @ u, w @ v], axis=1), poly2).reshape(plane_shape)
    keep = np.ones(shape[axis], bool)
    if depth_mm is not None:
        ijk = np.zeros((shape[axis], 3))
        ijk[:, 2 - axis] = np.arange(shape[axis])
        keep = np.abs((geometry.index_to_world(ijk) - p0) @ d) <= depth_mm
    return np.expand_dims(inside, axis) & keep.reshape([-1 if ax == axis else 1 for ax in range(3)])


def _area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def scissors(mask: np.ndarray, geometry: Volume, polygon_lps, view_direction, *, operation: str = "erase-inside",
             depth_mm: float | None = None) -> np.ndarray:
    """New mask after ``erase-inside``, ``erase-outside`` or ``fill-inside`` with the prism."""
    prism = prism_mask(geometry, polygon_lps, view_direction, depth_mm)
    mask = np.asarray(mask, bool)
    if operation == "erase-inside":
        return mask & ~prism
    if operation == "erase-outside":
        return mask & prism
    if operation == "fill-inside":
        return mask | prism
    raise InputError(f"unknown scissors operation '{operation}'",
                     hint="Use erase-inside, erase-outside or fill-inside.")
