"""morphology.fill_holes (SimpleITK background labelling) against scipy's binary_fill_holes."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation import morphology


def test_fill_holes_equals_scipy_on_random_masks():
    rng = np.random.default_rng(7)
    for _ in range(25):
        shape = tuple(int(v) for v in rng.integers(3, 36, 3))
        m = ndimage.gaussian_filter(rng.random(shape), 1.0) > rng.uniform(0.45, 0.55)
        np.testing.assert_array_equal(morphology.fill_holes(m), ndimage.binary_fill_holes(m))


def test_fill_holes_cavity_filled_diagonal_leak_not_a_hole():
    m = np.zeros((7, 7, 7), bool)
    m[1:6, 1:6, 1:6] = True
    m[2:5, 2:5, 2:5] = False  # a closed cavity
    out = morphology.fill_holes(m)
    assert out[1:6, 1:6, 1:6].all() and out.sum() == 125
    m[3, 3, 5] = False  # a face-connected channel to the outside: no longer a hole
    assert morphology.fill_holes(m).sum() == m.sum()
    # touching the grid edge: the outside of the array is background
    e = np.ones((4, 4, 4), bool)
    e[1:3, 1:3, 0] = False
    np.testing.assert_array_equal(morphology.fill_holes(e), ndimage.binary_fill_holes(e))
    assert not morphology.fill_holes(np.zeros((3, 3, 3), bool)).any()
