"""Paint and erase with a spherical brush (radius in mm, centre in LPS mm).

Only the brush's bounding box is visited, and the edit is a LabelPatch of that
box, so a stroke costs memory proportional to the brush, not the scan.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.segmentation.patch import LabelPatch
from surgiplan.core.segmentation.segmentation import Segmentation


def sphere_box(seg: Segmentation, centre_lps, radius_mm: float):
    """(box slices k, j, i, boolean sphere mask in the box) or None when outside the grid."""
    if radius_mm <= 0:
        raise InputError(f"brush radius must be > 0 mm, got {radius_mm}")
    geo = seg.geometry_volume()
    c = np.asarray(centre_lps, float)
    # index-space half extents of the sphere along each axis
    m = geo.direction * np.asarray(seg.spacing)[None, :]
    minv = np.linalg.inv(m)
    half = radius_mm * np.linalg.norm(minv, axis=1)
    cijk = geo.world_to_index(c)
    lo = np.maximum(np.floor(cijk - half).astype(int), 0)
    hi = np.minimum(np.ceil(cijk + half).astype(int) + 1, np.array(seg.shape[::-1]))
    if np.any(hi <= lo):
        return None
    i, j, k = (np.arange(lo[a], hi[a]) for a in range(3))
    kk, jj, ii = np.meshgrid(k, j, i, indexing="ij")
    ijk = np.stack([ii, jj, kk], axis=-1).astype(float)
    d = geo.index_to_world(ijk) - c
    inside = np.einsum("...i,...i->...", d, d) <= radius_mm**2
    box = (slice(lo[2], hi[2]), slice(lo[1], hi[1]), slice(lo[0], hi[0]))
    return box, inside


def paint(seg: Segmentation, name: str, centre_lps, radius_mm: float, *, erase: bool = False) -> LabelPatch:
    """Paint (or erase) segment ``name`` in a sphere; applies and returns the LabelPatch.

    Painting overwrites other segments of the same layer; erasing only removes
    ``name``'s voxels.
    """
    s = seg.segment(name)
    lay = seg.layers[s.layer]
    hit = sphere_box(seg, centre_lps, radius_mm)
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
