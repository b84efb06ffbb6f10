"""Patient directions of an axial scan's array axes (LPS): which way is left, posterior, superior.

Anatomy finders work in array index space for speed; they need to know that +i is patient
left or right, +j posterior or anterior and +k superior or inferior. :func:`axis_signs`
reads it from the volume's direction matrix and refuses an oblique or non-axial scan.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume


def axis_signs(volume: Volume, what: str = "this preset") -> tuple[int, int, int]:
    """(+1/-1 for i, j, k): +1 when the index grows toward patient left (x), posterior (y),
    superior (z) respectively. InputError when the scan is not axial within ~25 degrees."""
    d = np.asarray(volume.direction, float)
    if min(abs(d[0, 0]), abs(d[1, 1]), abs(d[2, 2])) < 0.9:
        raise InputError(f"{what} needs an axial scan (slices across the body, rows front to back)",
                         hint="Reformat the scan to axial slices first.")
    return int(np.sign(d[0, 0])), int(np.sign(d[1, 1])), int(np.sign(d[2, 2]))


def spacing_kji(volume: Volume) -> np.ndarray:
    """Voxel spacing in mm along (k, j, i)."""
    return np.asarray(volume.spacing, float)[::-1].copy()
