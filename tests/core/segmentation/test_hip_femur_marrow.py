"""The femur's marrow enclosed by a thin, gapped cortex (:func:`hip_anatomy.femur_marrow`, issue 23).

An osteoporotic femoral neck in 3 mm slices: fat-like marrow inside a cortex that the blur leaves
with one-voxel gaps, running obliquely through the axial slices (which all cut it open somewhere).
Analytic truth: a closed capsule (a tube of 3.4-4.6 voxels radius with round ends, its axis at
45 degrees to the slices) whose wall loses 15 % of its voxels at random. The marrow must be
found (>= 97 % of the interior; an axial hole fill finds under 10 %, a 3D fill nothing) and
nothing outside the cortex added; an opening three voxels wide must stay open.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.hip_anatomy import femur_marrow


def _capsule(seed: int, gap: float = 0.15):
    rng = np.random.default_rng(seed)
    shape = (30, 30, 40)
    p = np.stack(np.indices(shape).astype(float), axis=-1)
    a, b = np.array([8.0, 15.0, 8.0]), np.array([21.0, 15.0, 31.0])
    t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0.0, 1.0)
    d = np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1)
    wall = (d <= 4.6) & (d > 3.4)
    return wall & (rng.random(shape) >= gap), d <= 3.4, d


def test_marrow_inside_a_gapped_oblique_cortex_is_found_and_nothing_outside():
    for seed in range(3):
        wall, inner, d = _capsule(seed)
        m = femur_marrow(wall)
        axial = np.stack([ndimage.binary_fill_holes(s) for s in wall])
        assert (m & inner).sum() >= 0.97 * inner.sum(), (seed, (m & inner).sum(), inner.sum())
        assert not (m & (d > 4.6)).any()
        assert (axial & inner).sum() < 0.10 * inner.sum()  # why the axial fill alone was not enough
        assert not (ndimage.binary_fill_holes(wall) & inner).any()


def test_a_wide_opening_is_not_bridged():
    # a tube along i, open at both ends of the volume, slit along its length 3 voxels wide: a C in
    # every cross-section (a gap wider than a blurred cortex's dropout), two lines in the other planes
    p = np.stack(np.indices((25, 25, 30)).astype(float), axis=-1)
    r = np.hypot(p[..., 0] - 12.0, p[..., 1] - 12.0)
    tube = (r <= 6.0) & (r > 4.5) & ~((np.abs(p[..., 1] - 12.0) <= 1.0) & (p[..., 0] > 12.0))
    lumen = r <= 4.0
    m = femur_marrow(tube)
    assert (m & lumen).sum() <= 0.02 * lumen.sum(), (m & lumen).sum()
    closed = tube | ((np.abs(p[..., 1] - 12.0) <= 1.0) & (r <= 6.0) & (r > 4.5))
    assert (femur_marrow(closed) & lumen).sum() == lumen.sum()  # the same tube closed: its lumen is found
    assert not femur_marrow(np.zeros((5, 5, 5), bool)).any()


def test_a_bridge_is_not_taken_from_another_bone():
    # a block with a one-voxel pit in a face: the closing bridges it; when the pit is the socket's
    # (claimed), it stays the socket's; the block itself is never returned
    femur = np.zeros((20, 20, 20), bool)
    femur[4:16, 4:16, 4:16] = True
    femur[10, 10, 15] = False
    assert femur_marrow(femur)[10, 10, 15]
    notch = ~femur & (np.indices(femur.shape)[2] == 15) & (np.indices(femur.shape)[0] == 10)
    m = femur_marrow(femur, claimed=notch)
    assert not m[10, 10, 15] and not (m & femur).any()
