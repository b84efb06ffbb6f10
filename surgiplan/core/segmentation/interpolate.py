"""Fill between slices: shape-based interpolation of a mask drawn on some slices.

Between two consecutive drawn slices along an axis, each missing slice is the
zero level of the linearly interpolated signed distance maps of its two
neighbours (Raya & Udupa 1990, the method behind 3D Slicer's earlier "fill
between slices"; Slicer now uses ITK's morphological contour interpolator,
which SimpleITK does not wrap).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _signed_distance(sl: np.ndarray, sampling) -> np.ndarray:
    inside = ndimage.distance_transform_edt(sl, sampling=sampling)
    outside = ndimage.distance_transform_edt(~sl, sampling=sampling)
    return np.where(sl, inside, -outside)  # > 0 inside (distance to nearest outside centre)


def fill_between_slices(mask: np.ndarray, axis: int = 0, spacing=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Interpolate ``mask`` across empty slices between drawn ones along array ``axis`` (0 = k)."""
    mask = np.asarray(mask, bool)
    m = np.moveaxis(mask, axis, 0)
    sp_kji = tuple(float(s) for s in tuple(spacing)[::-1])
    sampling = [s for a, s in enumerate(sp_kji) if a != axis]
    drawn = np.flatnonzero(m.reshape(m.shape[0], -1).any(axis=1))
    out = m.copy()
    for a, b in zip(drawn[:-1], drawn[1:], strict=True):
        if b - a < 2:
            continue
        da, db = _signed_distance(m[a], sampling), _signed_distance(m[b], sampling)
        for s in range(a + 1, b):
            t = (s - a) / (b - a)
            out[s] = (1 - t) * da + t * db > 0
    return np.moveaxis(out, 0, axis)
