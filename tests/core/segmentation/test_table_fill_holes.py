"""The body mask's per-slice hole filling (table.fill_holes_in_slices) against scipy's binary_fill_holes with
in-slice connectivity, the operation it replaces for speed: the same voxels on random masks and on a body-like
ring with a hole, an open notch and an island."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.table import _upsample, fill_holes_in_slices

ST = np.zeros((3, 3, 3), bool)
ST[1] = ndimage.generate_binary_structure(2, 1)


def test_same_voxels_as_scipy_on_random_masks():
    rng = np.random.default_rng(7)
    for trial in range(25):
        m = ndimage.binary_opening(rng.random((5, 30 + trial, 27)) > 0.45, ST)
        m |= ndimage.binary_dilation(rng.random(m.shape) > 0.97, ST, iterations=3)
        assert np.array_equal(fill_holes_in_slices(m), ndimage.binary_fill_holes(m, ST)), trial


def test_ring_hole_filled_notch_and_edge_left_open():
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    ring = (r <= 25) & (r >= 10)  # a hole of radius 10 in the middle: filled
    notch = ring & ~((xx > 35) & (abs(yy - 32) < 3))  # the same ring opened to the outside: stays open
    m = np.stack([ring, notch, np.zeros_like(ring)])
    m[2, 0:10, 0:10] = True  # touches the slice's edge, nothing to fill
    out = fill_holes_in_slices(m)
    assert out[0][r < 10].all() and not out[1][r < 9].any() and out[2].sum() == 100
    assert not out[:2, r > 26].any()  # nothing outside the ring
    assert not np.array_equal(out[0], out[1])


def test_upsample_repeats_each_pixel():
    m = np.random.default_rng(1).random((3, 5, 4)) > 0.5
    up = _upsample(m, 2, (3, 9, 8))
    assert up.shape == (3, 9, 8)
    assert np.array_equal(up, np.repeat(np.repeat(m, 2, axis=1), 2, axis=2)[:, :9, :8])
