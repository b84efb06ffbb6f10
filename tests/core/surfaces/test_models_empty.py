"""build_models refuses an empty segment and nothing else, wherever the voxels sit (slab-wise check)."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation
from surgiplan.core.surfaces.models import _is_empty


@pytest.mark.parametrize("k", [0, 15, 16, 17, 33, 34])
def test_is_empty_finds_a_voxel_in_any_slice(k):
    seg = Segmentation.from_volume(Volume(np.zeros((35, 6, 7), np.int16), (1.0, 1.0, 1.0)))
    m = np.zeros(seg.shape, bool)
    m[k, 5, 6] = True
    seg.add_segment("dot", m)
    seg.add_segment("none")
    assert not _is_empty(seg, "dot")
    assert _is_empty(seg, "none")


def test_build_models_refuses_the_empty_one_before_any_work():
    from surgiplan.core.surfaces.models import build_models

    seg = Segmentation.from_volume(Volume(np.zeros((20, 20, 20), np.int16), (1.0, 1.0, 1.0)))
    m = np.zeros(seg.shape, bool)
    m[5:15, 5:15, 5:15] = True
    seg.add_segment("cube", m)
    seg.add_segment("hole")
    with pytest.raises(InputError, match="'hole' is empty"):
        build_models(seg)
    (model,) = build_models(seg, ["cube"], smooth=False)
    assert model.report.watertight and model.report.volume_mm3 == pytest.approx(1000.0, rel=0.05)
