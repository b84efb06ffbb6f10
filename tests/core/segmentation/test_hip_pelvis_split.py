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
