"""Bad input for :func:`pelvis_split.split_pelvis` (issue 23): it refuses, with advice, instead of
returning a lopsided split. The split itself is measured on the real CT in
test_hip_preset_real.py (optional data)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.segmentation.hip_anatomy import Head
from surgiplan.core.segmentation.pelvis_split import split_pelvis

SP = np.array([3.0, 3.0, 3.0])


def _heads():
    return [Head((10.0, 20.0, 10.0), 21.0, 21.0, 0.2), Head((10.0, 20.0, 50.0), 21.0, 21.0, 0.2)]


def test_refuses_one_head_or_two_on_one_side():
    ct = np.zeros((30, 40, 60), np.int16)
    pelvis = np.zeros(ct.shape, bool)
    with pytest.raises(InputError, match="both femoral heads") as e:
        split_pelvis(ct, pelvis, SP, _heads()[:1], 30.0)
    assert "hip-bones" in e.value.hint
    with pytest.raises(InputError, match="both femoral heads"):
        split_pelvis(ct, pelvis, SP, [_heads()[0], _heads()[0]], 30.0)


def test_refuses_a_lopsided_split_with_seed_advice():
    """No joint space anywhere (flat CT), the pelvis a thick socket on the low-i side and a thin
    one on the high-i side: the hip bones come out far apart in volume and the split is refused."""
    ct = np.full((30, 40, 60), 300, np.int16)
    kk, jj, ii = np.indices(ct.shape)
    pelvis = np.zeros(ct.shape, bool)
    for (ck, cj, ci), rim in (((10, 20, 10), 16.0), ((10, 20, 50), 4.0)):
        d = np.sqrt(((kk - ck) * 3.0) ** 2 + ((jj - cj) * 3.0) ** 2 + ((ii - ci) * 3.0) ** 2)
        pelvis |= (d >= 24.0) & (d <= 24.0 + rim) & (kk >= ck)
    with pytest.raises(InputError, match="more than 1.5x") as e:
        split_pelvis(ct, pelvis, SP, _heads(), 30.0)
    assert "seed" in e.value.hint


def test_refuses_masks_on_another_grid():
    ct = np.zeros((30, 40, 60), np.int16)
    pelvis = np.zeros(ct.shape, bool)
    with pytest.raises(InputError, match="lumbar spine mask is") as e:
        split_pelvis(ct, pelvis, SP, _heads(), 30.0, lumbar=np.zeros((30, 40, 59), bool))
    assert "same scan grid" in e.value.hint
    with pytest.raises(InputError, match="the CT is"):
        split_pelvis(ct[:-1], pelvis, SP, _heads(), 30.0)


def test_lumbar_spine_bounds_the_sacrum():
    """Two blocks of bone on the midline above the heads, a dark disc between them that is no
    deeper a valley than the sacrum's own dips (flat CT): without ``lumbar`` the sacrum's marker
    (20-100 mm above the heads) takes both blocks; with the upper block given as lumbar spine the
    sacrum stops at the disc."""
    ct = np.full((60, 40, 60), 300, np.int16)
    kk, jj, ii = np.indices(ct.shape)
    pelvis = np.zeros(ct.shape, bool)
    for (ck, cj, ci) in ((10, 20, 10), (10, 20, 50)):  # two sockets, alike
        d = np.sqrt(((kk - ck) * 3.0) ** 2 + ((jj - cj) * 3.0) ** 2 + ((ii - ci) * 3.0) ** 2)
        pelvis |= (d >= 24.0) & (d <= 34.0) & (kk >= ck)
    sacrum_block = (kk >= 17) & (kk <= 30) & (np.abs(ii - 30) <= 4) & (jj >= 5) & (jj <= 15)
    l5_block = (kk >= 32) & (kk <= 42) & (np.abs(ii - 30) <= 4) & (jj >= 5) & (jj <= 15)
    pelvis |= sacrum_block | l5_block | ((kk == 31) & (np.abs(ii - 30) <= 4) & (jj >= 5) & (jj <= 15))
    ct[(kk == 31)] = 100  # the disc: a dark slab
    heads = [Head((10.0, 20.0, 10.0), 21.0, 21.0, 0.2), Head((10.0, 20.0, 50.0), 21.0, 21.0, 0.2)]
    plain = split_pelvis(ct, pelvis, SP, heads, 30.0)
    assert (plain["sacrum"] & l5_block).sum() > 0.5 * l5_block.sum()  # the failure the lumbar mask fixes
    parts = split_pelvis(ct, pelvis, SP, heads, 30.0, lumbar=l5_block)
    assert not (parts["sacrum"] & l5_block).any()
    assert (parts["spine"] & l5_block).sum() == l5_block.sum()
    assert (parts["sacrum"] & sacrum_block).sum() >= 0.9 * sacrum_block.sum()
