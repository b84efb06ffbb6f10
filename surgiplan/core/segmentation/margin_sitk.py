"""Margin, opening and closing in millimetres on SimpleITK's distance map (multi-threaded).

Same definitions as :mod:`surgiplan.core.segmentation.morphology` (Euclidean
distance between voxel centres, half the smallest spacing added so a margin is
measured from the voxel boundary, work cropped to the mask's bounding box), but
the distances come from ``sitk.SignedMaurerDistanceMap`` (Maurer et al. 2003,
linear time, threaded, float32) instead of ``scipy.ndimage.distance_transform_edt``
(single-threaded, with an int32 feature transform of three times the volume). On
the 120 x 126 x 164 contrast CT it is ~4x faster per call; the vessel preset uses
it for its many margins. Results agree with morphology.py's except for voxels
whose distance ties the radius within float32 rounding (measured: none to a few
per million voxels).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from surgiplan.core.segmentation.morphology import _crop_pad, _pad_vox


def distance_outside(mask: np.ndarray, spacing) -> np.ndarray:
    """Distance (mm, float32) from every voxel to the nearest voxel centre of ``mask`` (0 inside).

    ``mask`` is [k, j, i]; ``spacing`` (i, j, k) mm. ``mask`` must not be empty.
    """
    img = sitk.GetImageFromArray(np.ascontiguousarray(mask, dtype=np.uint8))
    img.SetSpacing(tuple(float(s) for s in spacing))
    d = sitk.GetArrayFromImage(sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False,
                                                            useImageSpacing=True))
    np.maximum(d, 0.0, out=d)
    return d


def margin(mask: np.ndarray, distance_mm: float, spacing) -> np.ndarray:
    """Grow (> 0) or shrink (< 0) ``mask`` by ``distance_mm`` (Euclidean, mm; see module docstring)."""
    mask = np.asarray(mask, bool)
    half = 0.5 * min(float(s) for s in spacing)
    if distance_mm == 0:
        return mask.copy()
    out = np.zeros_like(mask)
    if distance_mm > 0:
        box = _crop_pad(mask, _pad_vox(distance_mm, spacing))
        if box is None:
            return out
        out[box] = distance_outside(mask[box], spacing) <= distance_mm + half + 1e-6
        return out
    box = _crop_pad(mask, (1, 1, 1))
    if box is None:
        return out
    sub = np.pad(mask[box], 1)  # outside the grid counts as background
    if sub.all():
        return out
    inside = distance_outside(~sub, spacing)[1:-1, 1:-1, 1:-1]  # distance to the nearest background voxel
    out[box] = inside > -distance_mm + half + 1e-6
    return out


def opening(mask: np.ndarray, radius_mm: float, spacing) -> np.ndarray:
    """Remove parts thinner than ~2 x ``radius_mm`` (shrink then grow)."""
    return margin(margin(mask, -radius_mm, spacing), radius_mm, spacing) & np.asarray(mask, bool)


def closing(mask: np.ndarray, radius_mm: float, spacing) -> np.ndarray:
    """Fill gaps and dents narrower than ~2 x ``radius_mm`` (grow then shrink)."""
    mask = np.asarray(mask, bool)
    pad = _pad_vox(radius_mm, spacing)
    padded = np.pad(mask, [(p, p) for p in pad])  # room to grow at the grid edge
    out = margin(margin(padded, radius_mm, spacing), -radius_mm, spacing)
    return out[pad[0]:-pad[0], pad[1]:-pad[1], pad[2]:-pad[2]] | mask
