"""Scissors along a grid axis (the slice views' case) take a 2D shortcut: it must select
exactly the voxels the per-voxel prism test selects, on flipped/permuted grids too."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.measure import points_in_poly

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation.scissors import prism_mask


def brute_force(g: Volume, poly, d, depth):
    k, j, i = g.array.shape
    w = g.index_to_world(np.argwhere(np.ones((k, j, i), bool))[:, ::-1].astype(float))
    d = np.asarray(d, float) / np.linalg.norm(d)
    u = np.cross(d, [1.0, 0, 0] if abs(d[0]) < 0.9 else [0, 1.0, 0])
    u /= np.linalg.norm(u)
    v = np.cross(d, u)
    p0 = poly.mean(0)
    q = np.stack([(poly - p0) @ u, (poly - p0) @ v], 1)
    w = w - p0
    inside = points_in_poly(np.stack([w @ u, w @ v], 1), q)
    if depth is not None:
        inside &= np.abs(w @ d) <= depth
    return inside.reshape(k, j, i)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("depth", [None, 3.0])
def test_axis_aligned_prism_matches_the_per_voxel_test(seed, depth):
    rng = np.random.default_rng(seed)
    direction = np.eye(3)[:, rng.permutation(3)] * rng.choice([-1, 1], 3)
    g = Volume(np.zeros((23, 31, 37), np.int16), (0.7, 1.1, 2.0), (3.0, -5.0, 7.0), direction)
    poly = g.index_to_world(np.array([[5, 5, 10], [30, 8, 10], [20, 25, 10], [8, 20, 10]], float))
    axis_dir = direction[:, 2] * (-1) ** seed  # along k, either sign
    fast = prism_mask(g, poly, axis_dir, depth)
    ref = brute_force(g, poly, axis_dir, depth)
    assert fast.any() and np.array_equal(fast, ref)
    # an oblique direction still takes the general path and agrees too
    oblique = axis_dir + 0.2 * direction[:, 0]
    assert np.array_equal(prism_mask(g, poly, oblique, depth), brute_force(g, poly, oblique, depth))
