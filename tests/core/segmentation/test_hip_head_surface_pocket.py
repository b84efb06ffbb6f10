"""The femoral head's own surface under a dark pocket of its cap (:func:`hip_anatomy.head_surface`, issue 23).

An osteoporotic head holds fat-like pockets (100-170 HU) under its subchondral plate; along a ray
from the centre, cancellous bone, the pocket and the bright plate beyond it form the same
bright-dark-bright pattern as the head's plate, the joint space and the socket, a few mm inside
the joint. On issue 23's real CT (upper right head) the rays mixed the two, the median of
neighbouring rays fell between them, and the plate of the top of the head went to the hip bone.

Analytic truth: a sphere of radius 22 mm (cancellous 260 HU, a 1-1.5 mm plate of 600 HU), a
pocket of 120 HU under the plate within 50 degrees of the top, a 2.5 mm joint space (40 HU), the
socket's cortex (650 HU) and the pelvis's cancellous bone (220 HU) over the upper half; blurred
(0.6 mm) and sampled at 2 x 1 x 1 mm (thicker slices, as in the scan). The plate under the cap
must lie inside the head's surface, and nothing beyond the sphere by more than 1 mm.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation.hip_anatomy import Head, head_surface

R = 22.0


def _head(plate_mm: float, pocket_mm: float, pocket: bool = True):
    sp = np.array([2.0, 1.0, 1.0])
    shape = tuple(int(round(80 / s)) for s in sp)
    c = (np.array(shape) - 1) / 2.0
    d = (np.stack(np.indices(shape).astype(float), -1) - c) * sp
    r = np.linalg.norm(d, axis=-1)
    cos_up = d[..., 0] / np.maximum(r, 1e-6)
    ct = np.full(shape, 40.0)
    ct[r <= R] = 260.0
    ct[(r > R - plate_mm) & (r <= R)] = 600.0
    if pocket:
        ct[(r > R - plate_mm - pocket_mm) & (r <= R - plate_mm) & (cos_up > np.cos(np.radians(50)))] = 120.0
    ct[(r > R + 2.5) & (r <= R + 4.0) & (cos_up > 0)] = 650.0
    ct[(r > R + 4.0) & (r <= R + 12.0) & (cos_up > 0)] = 220.0
    return ndimage.gaussian_filter(ct, 0.6 / sp), sp, c, r, cos_up


@pytest.mark.parametrize("plate_mm, pocket_mm", [(1.5, 2.5), (1.0, 3.0)])
def test_the_plate_over_a_dark_pocket_stays_inside_the_head(plate_mm, pocket_mm):
    for pocket in (True, False):
        img, sp, c, r, cos_up = _head(plate_mm, pocket_mm, pocket)
        inside, socket = head_surface(img, sp, Head(tuple(c), R, R, 1.0), img.shape)
        cap = cos_up > np.cos(np.radians(45))
        plate = cap & (r > R - plate_mm) & (r <= R)
        # before (the first pattern per ray, then the median of 15 rays): 77-79 % of the plate inside
        assert inside[plate].mean() >= 0.99, (pocket, inside[plate].mean())
        assert not socket[plate].any()
        assert not (inside & cap & (r > R + 1.0)).any()  # the joint space and the socket stay out
        assert inside[r <= R - plate_mm - pocket_mm].all()  # the pocket and the core are the head's
