"""Tiled margins (margin_sitk ``tiled=True``, :func:`margin_sitk.distance_near`) give the very same
masks as the whole-grid SimpleITK map (issue 23, speed of the bone preset's contrast test).

SimpleITK's Maurer distances are the same float32 numbers on a crop as on the whole grid when
``i * spacing`` is exact in float32 (dyadic CT spacings); other spacings fall back to the whole grid.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation import margin_sitk as ms

DYADIC = [(0.5, 0.5, 0.5), (1.07421875, 1.07421875, 3.0), (0.90234375, 0.90234375, 1.0), (1.5, 1.5, 1.5)]


def _blobs(rng, shape, sparse=False):
    m = ndimage.gaussian_filter(rng.random(shape), rng.uniform(2, 4)) > rng.uniform(0.5, 0.55)
    if sparse:  # two distant clumps in a large box: most tiles are empty
        keep = np.zeros(shape, bool)
        for c in (0.2, 0.8):
            sl = tuple(slice(int(c * n) - n // 6, int(c * n) + n // 6) for n in shape)
            keep[sl] = True
        m &= keep
    return m


def test_crops_exact():
    assert ms.crops_exact((0.5, 0.5, 0.5), (600, 512, 512))
    assert ms.crops_exact((0.9765625, 0.9765625, 1.25), (300, 512, 512))
    assert not ms.crops_exact((0.7, 0.7, 0.8), (100, 100, 100))


@pytest.mark.parametrize("spacing", DYADIC)
def test_distance_near_is_the_whole_grid_map_within_the_limit(spacing):
    rng = np.random.default_rng(4)
    m = _blobs(rng, (50, 70, 90)) & (rng.random((50, 70, 90)) < 0.02)  # scattered features
    limit = 4.0
    tiles = ms._tile_sizes(ms._rim_vox(limit, spacing))
    need = np.ones(ms._per_tile(m, tiles).shape, bool)
    need[0] = False  # the first slab of tiles is not computed
    full = ms.distance_outside(m, spacing)
    near = ms.distance_near(m, spacing, limit, need, tiles, fill=-1.0)
    within = full <= limit
    on = near != -1.0  # the tiles computed
    assert (~on).any() and on.any() and within.any() and (~within & on).any()
    assert np.array_equal(near[within & on], full[within & on])  # bitwise
    assert (near[~within & on] > limit).all()


@pytest.mark.parametrize("spacing", DYADIC)
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("force", [False, True])
def test_tiled_margins_equal_the_whole_grid(spacing, sparse, force, monkeypatch):
    if force:  # tiles even where they would not save work
        monkeypatch.setattr(ms, "TILE_WORTH", 2.0)
    rng = np.random.default_rng(hash((spacing, sparse)) % 2**32)
    m = _blobs(rng, tuple(int(n) for n in rng.integers(40, 110, 3)), sparse)
    for r in (-3.0, -1.5, 2.0, 3.0):
        assert np.array_equal(ms.margin(m, r, spacing, tiled=True), ms.margin(m, r, spacing)), r
    assert np.array_equal(ms.closing(m, 3.0, spacing, tiled=True), ms.closing(m, 3.0, spacing))


def test_tiles_are_used_where_they_save_work(monkeypatch):
    """A thin bone in a large box (a femur's shaft and a distant head): the shrink is tiled, and
    the same; a non-dyadic spacing takes the whole grid."""
    calls = []
    near = ms._near
    monkeypatch.setattr(ms, "_near", lambda *a, **k: calls.append(1) or near(*a, **k))
    k, j, i = np.ogrid[:200, :160, :160]
    m = ((j - 30) ** 2 + (i - 30) ** 2 < 10**2) & (k < 170)  # a shaft along k
    m |= (k - 170) ** 2 + (j - 130) ** 2 + (i - 130) ** 2 < 22**2  # a head far from it: 0.32 of the box in tiles
    for sp, tiled in (((0.5, 0.5, 0.5), True), ((0.7, 0.7, 0.7), False)):
        calls.clear()
        core = ms.margin(m, -3.0, sp, tiled=True)
        assert np.array_equal(core, ms.margin(m, -3.0, sp)) and core.any()
        assert bool(calls) is tiled
