"""Paint and erase with a spherical brush (radius in mm, centre in LPS mm).

Only the brush's bounding box is visited, and the edit is a LabelPatch of that
box, so a stroke costs memory proportional to the brush, not the scan.

A mouse stroke is a chain of :func:`paint_line` calls, each between two
successive mouse positions: the brush swept along the segment (a capsule of the
brush radius), so a quick stroke, whose mouse events lie far apart, leaves a
continuous line and not separate dots.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.segmentation.patch import LabelPatch
from surgiplan.core.segmentation.segmentation import Segmentation


def capsule_box(seg: Segmentation, start_lps, end_lps, radius_mm: float):
    """(box slices k, j, i, boolean mask in the box) of the voxels whose centres lie within
    ``radius_mm`` of the segment ``start_lps``-``end_lps`` (LPS mm); None when outside the grid."""
    if not (np.isfinite(radius_mm) and radius_mm > 0):
        raise InputError(f"brush radius must be > 0 mm, got {radius_mm}")
    a, b = np.asarray(start_lps, float).reshape(3), np.asarray(end_lps, float).reshape(3)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("brush position must be three finite numbers (LPS mm)")
    geo = seg.geometry_volume()
    # index-space half extents of the sphere along each axis
    m = geo.direction * np.asarray(seg.spacing)[None, :]
    minv = np.linalg.inv(m)
    half = radius_mm * np.linalg.norm(minv, axis=1)
    ia, ib = geo.world_to_index(a), geo.world_to_index(b)
    lo = np.maximum(np.floor(np.minimum(ia, ib) - half).astype(int), 0)
    hi = np.minimum(np.ceil(np.maximum(ia, ib) + half).astype(int) + 1, np.array(seg.shape[::-1]))
    if np.any(hi <= lo):
        return None
    i, j, k = (np.arange(lo[ax], hi[ax]) for ax in range(3))
    kk, jj, ii = np.meshgrid(k, j, i, indexing="ij")
    ijk = np.stack([ii, jj, kk], axis=-1).astype(float)
    d = geo.index_to_world(ijk) - a
    ab = b - a
    ll = float(ab @ ab)
    if ll > 0:
        t = np.clip(np.einsum("...i,i->...", d, ab) / ll, 0.0, 1.0)
        d = d - t[..., None] * ab
    inside = np.einsum("...i,...i->...", d, d) <= radius_mm**2
    box = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    return box, inside


def sphere_box(seg: Segmentation, centre_lps, radius_mm: float):
    """(box slices k, j, i, boolean sphere mask in the box) or None when outside the grid."""
    return capsule_box(seg, centre_lps, centre_lps, radius_mm)


def paint(seg: Segmentation, name: str, centre_lps, radius_mm: float, *, erase: bool = False) -> LabelPatch:
    """Paint (or erase) segment ``name`` in a sphere; applies and returns the LabelPatch.

    Painting overwrites other segments of the same layer; erasing only removes
    ``name``'s voxels.
    """
    return paint_line(seg, name, centre_lps, centre_lps, radius_mm, erase=erase)


def paint_line(seg: Segmentation, name: str, start_lps, end_lps, radius_mm: float, *,
               erase: bool = False) -> LabelPatch:
    """Paint (or erase) segment ``name`` along the segment between two brush centres (LPS mm).

    The brush sphere of ``radius_mm`` swept from ``start_lps`` to ``end_lps``: what a
    mouse stroke paints between two successive mouse events. Applies and returns the
    LabelPatch of the swept box (empty when it misses the grid).
    """
    s = seg.segment(name)
    lay = seg.layers[s.layer]
    hit = capsule_box(seg, start_lps, end_lps, radius_mm)
    desc = f"{'erase' if erase else 'paint'} {name} ({radius_mm:g} mm brush)"
    if hit is None:
        return LabelPatch(seg, s.layer, None, np.zeros((0, 0, 0), lay.dtype), np.zeros((0, 0, 0), lay.dtype), desc)
    box, inside = hit
    old = lay[box].copy()
    new = old.copy()
    if erase:
        new[inside & (old == s.label)] = 0
    else:
        new[inside] = s.label
    patch = LabelPatch(seg, s.layer, box, old, new, desc)
    patch.apply()
    return patch
