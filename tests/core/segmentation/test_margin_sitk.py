"""SimpleITK margins agree with morphology.py's (scipy EDT) and with an analytic ball."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation import margin_sitk, morphology


def _blobs(shape=(36, 44, 52), seed=3):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), 3) > 0.52


@pytest.mark.parametrize("func,r", [("margin", 2.0), ("margin", -1.5), ("margin", 6.0), ("margin", -2.2),
                                    ("opening", 2.0), ("closing", 2.0)])
def test_same_as_morphology(func, r):
    m = _blobs()
    sp = (0.7, 0.9, 1.6)
    a = getattr(morphology, func)(m, r, sp)
    b = getattr(margin_sitk, func)(m, r, sp)
    assert a.any() and not a.all()
    assert np.count_nonzero(a != b) <= 1e-4 * m.size  # float32 ties only


def test_ball_grown_by_margin_has_the_analytic_volume():
    sp = (0.5, 0.5, 0.5)
    k, j, i = np.ogrid[:80, :80, :80]
    ball = ((i - 40) ** 2 + (j - 40) ** 2 + (k - 40) ** 2) * 0.25 <= 6.0**2
    grown = margin_sitk.margin(ball, 2.0, sp)
    vol = grown.sum() * 0.125
    assert vol == pytest.approx(4 / 3 * np.pi * 8.0**3, rel=0.05)  # an 8 mm ball, as morphology.margin's
    assert vol == morphology.margin(ball, 2.0, sp).sum() * 0.125
    assert not margin_sitk.margin(ball, -7.0, sp).any()
    assert not margin_sitk.margin(np.zeros((5, 5, 5), bool), 2.0, sp).any()
    full = np.ones((6, 6, 6), bool)
    assert margin_sitk.margin(full, -1.0, (1, 1, 1)).sum() == 4**3  # the grid edge is background
