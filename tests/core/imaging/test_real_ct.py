"""The two real CTs of ../shared/data/ct, against the figures of its README."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.imaging import discover, load_dicom, read_volume
from tests.conftest import require_shared
from tests.core.imaging._volcompare import reorient_like


def test_head_phantom_1mm_geometry_and_hu():
    folder = require_shared("ct", "ct_head_phantom_bone_1mm")
    disc = discover(folder)
    assert len(disc.series) == 1 and disc.series[0].n_slices == 140 and not disc.skipped
    v = load_dicom(folder)
    assert v.shape_ijk == (256, 256, 140)
    assert v.spacing == pytest.approx((0.90234375, 0.90234375, 1.0))
    assert v.origin == pytest.approx((-115.274414, -1.624414, 694.21), abs=1e-5)
    assert np.allclose(v.direction, np.eye(3))
    assert v.array.dtype == np.int16  # rescale intercept -1024 applied exactly
    assert (int(v.array.min()), int(v.array.max())) == (-1024, 2319)
    assert v.metadata["modality"] == "CT" and v.metadata["series_uid"]
    assert not v.warnings


def test_abdomen_jpeg2000_grid_and_contrast_match_the_reference_mask():
    """Lossless JPEG 2000 import on the TotalSegmentator grid: the aorta mask (same grid, per the
    README) lands on contrast-filled lumen: mean HU about 353, median 354 inside it."""
    folder = require_shared("ct", "ct_abdomen_contrast_jpeg2000")
    mask = read_volume(
        require_shared("segmentation_reference", "ct_abdomen_contrast_aorta_mask.nii.gz")
    )
    v = load_dicom(folder)  # 164 JPEG 2000 slices: decoded in worker processes
    assert v.shape_ijk == (120, 126, 164)
    assert v.spacing == pytest.approx((1.5, 1.5, 1.5))
    assert v.origin == pytest.approx((-71.658, -255.658, 540.2), abs=1e-3)
    assert v.array.dtype == np.int16
    assert (int(v.array.min()), int(v.array.max())) == (-1078, 3343)
    aligned = reorient_like(v, mask)
    assert aligned.shape_ijk == mask.shape_ijk
    assert np.max(np.abs(aligned.world_corners() - mask.world_corners())) < 1e-3
    inside = aligned.array[mask.array > 0]
    assert inside.size == 72810
    assert abs(float(inside.mean()) - 353) < 1.5 and abs(float(np.median(inside)) - 354) <= 1
