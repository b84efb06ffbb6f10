"""The fast body and table masks (issue 23, speed) against the scipy operations they replace.

``table.body_mask`` opens with shifted views instead of ``ndimage.binary_opening`` and reads each
region's slice from the labels' raster order instead of ``ndimage.find_objects``; ``table_mask``
dilates the body by shifted views. They must give the same voxels: checked here against the scipy
reference (the code as it was before) on random masks and on a CT-like volume with two legs, a
small third region, air holes and a table plate, on both the 2 mm (every pixel) and the 1 mm
(every 2nd pixel) grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation import table

CROSS = np.zeros((3, 3, 3), bool)
CROSS[1] = ndimage.generate_binary_structure(2, 1)
SQUARE = np.zeros((3, 3, 3), bool)
SQUARE[1] = True


def _reference_body(volume: Volume, air_hu: float = -400.0) -> np.ndarray:
    """body_mask as written before the speed-up (scipy opening, label, find_objects)."""
    f = table._step(volume)
    a = np.asarray(volume.array)[:, ::f, ::f]
    s = ndimage.binary_opening(a > air_hu, CROSS, iterations=2)
    lab, n = ndimage.label(s, CROSS)
    if n == 0:
        return np.zeros(volume.array.shape, bool)
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    objs = ndimage.find_objects(lab)
    best: dict[int, int] = {}
    for c, sl in enumerate(objs, start=1):
        if sl is not None:
            best[sl[0].start] = max(best.get(sl[0].start, 0), int(sizes[c]))
    keep = np.zeros(n + 1, bool)
    for c, sl in enumerate(objs, start=1):
        if sl is not None and sizes[c] >= 0.15 * best[sl[0].start]:
            keep[c] = True
    filled = ndimage.binary_fill_holes(keep[lab], CROSS)
    return table._upsample(filled, f, volume.array.shape)


def _ct(spacing_mm: float, seed: int) -> Volume:
    rng = np.random.default_rng(seed)
    nk, n = 24, 96
    a = rng.normal(-1000, 30, (nk, n, n)).astype(np.float32)
    j, i = np.mgrid[:n, :n]
    for k in range(nk):
        legs = (np.hypot(j - 40, i - 28) < 14 + k % 3) | (np.hypot(j - 40, i - 66) < 13)
        a[k][legs] = rng.normal(40, 20, legs.sum())
        a[k][np.hypot(j - 40, i - 28) < 3] = -700  # gas inside a leg: a hole to fill
        if k % 4:
            a[k][(abs(j - 15) < 3) & (abs(i - 47) < 3)] = 60  # a small third region (< 15 %)
        a[k, 75:78, 10:86] = 150  # the table's plate, behind the patient, along all slices
        a[k, 60:62, 40:42] = 30  # a speck the opening removes
    a[5] = -1000  # an empty slice
    return Volume(np.round(a).astype(np.int16), spacing=(spacing_mm, spacing_mm, 2.0))


def test_open_and_dilate_match_scipy_on_random_masks():
    rng = np.random.default_rng(3)
    for trial in range(12):
        m = rng.random((4, 20 + trial, 17 + 2 * trial)) > (0.2 + 0.05 * trial)
        for it in (1, 2):
            ref = ndimage.binary_opening(m, CROSS, iterations=it)
            assert np.array_equal(table._open_cross(m, it), ref), (trial, it)
        assert np.array_equal(table._dilate_square(m, 2), ndimage.binary_dilation(m, SQUARE, iterations=2)), trial


@pytest.mark.parametrize("spacing_mm", [2.0, 1.0])
def test_body_and_table_same_voxels_as_the_scipy_reference(spacing_mm):
    for seed in (0, 1):
        vol = _ct(spacing_mm, seed)
        ref = _reference_body(vol)
        body = table.body_mask(vol)
        assert ref.any() and not ref.all()
        assert np.array_equal(body, ref), seed
        coarse = table.body_mask(vol, coarse=True)
        assert np.array_equal(table.to_full(coarse, vol), ref)
        t_full, t_coarse = table.table_mask(vol, body=body), table.table_mask(vol, body=coarse)
        assert t_full.any() and np.array_equal(t_full, t_coarse) and np.array_equal(t_full, table.table_mask(vol))
        assert t_full[6:, 76:78, 20:76].all() and not (t_full & body).any()  # the plate (after the empty slice)


def test_integer_threshold_same_as_float():
    a = np.arange(-600, 600, dtype=np.int16).reshape(4, 10, 30)
    for level in (-400.0, -400.5, -399.5, 0.0, -40000.0, 40000.0, np.inf, -np.inf):
        assert np.array_equal(table._greater(a, level), a > level), level


def test_may_hold_table_is_exact():
    """A CT cropped inside the body (no air in most slices) skips the body and table masks; the answer
    is the same as computing them: whenever ``may_hold_table`` says no, the full search finds nothing."""
    rng = np.random.default_rng(5)
    j, i = np.mgrid[:40, :40]
    seen = {True: 0, False: 0}
    tables = 0
    for trial in range(24):
        nk = 10
        a = rng.normal(40, 30, (nk, 40, 40)).astype(np.int16)  # soft tissue everywhere: no air
        n_air = int(rng.integers(0, nk + 1))
        for k in rng.choice(nk, n_air, replace=False):
            a[k][np.hypot(j - 20, i - 20) > 16] = -1000  # air around the body in this slice
            a[k, 37:39, 5:35] = 200  # and a plate behind it
        for k in rng.choice(nk, 3, replace=False):
            a[k, 18:21, 18:21] = -900  # gas inside the body: air, but never outside it
        vol = Volume(a, spacing=(2.0, 2.0, 2.0))
        ref = table.table_mask(vol, body=table.body_mask(vol))  # the whole search, no shortcut
        may = table.may_hold_table(vol)
        seen[may] += 1
        tables += bool(ref.any())
        if not may:
            assert not ref.any(), trial
            assert not table.table_mask(vol).any()
        else:
            assert np.array_equal(table.table_mask(vol), ref), trial
    assert seen[True] and seen[False] and tables  # both answers, and tables that are found


@pytest.mark.parametrize("f_spacing", [2.0, 1.0])
def test_a_slice_with_no_air_is_all_body_or_margin(f_spacing):
    """The premise of ``may_hold_table``: a slice (>= 5 x 5 on the body's grid) with no air voxel is
    covered by the body and its 2-pixel margin, whatever its shape."""
    for nj in range(10, 19):
        for ni in range(10, 19, 3):
            vol = Volume(np.full((4, nj, ni), 30, np.int16), spacing=(f_spacing, f_spacing, 2.0))
            body = table.body_mask(vol, coarse=True)
            assert table._dilate_square(body, 2).all(), (nj, ni)
