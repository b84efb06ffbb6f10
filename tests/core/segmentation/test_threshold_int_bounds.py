"""A one-sided threshold of an integer CT is compared in the CT's own type (not float64): the
same mask as numpy's comparison with the float bound, for every bound (issue 23, speed)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.segmentation.threshold import threshold


@pytest.mark.parametrize("dtype", [np.int16, np.uint8, np.int8, np.uint16, np.int32])
def test_one_sided_integer_threshold_equals_numpy(dtype):
    info = np.iinfo(dtype)
    a = np.random.default_rng(0).integers(info.min, int(info.max) + 1, (6, 7, 9)).astype(dtype)
    bounds = [200.0, 199.5, -0.5, 0, 3, np.float32(2.7), np.int64(5), 1e9, -1e9, np.inf, -np.inf, np.nan,
              info.max, info.min, info.max + 0.5, info.min - 0.5]
    for b in bounds:
        assert np.array_equal(threshold(a, b, None), a >= b), b
        assert np.array_equal(threshold(a, None, b), a <= b), b
