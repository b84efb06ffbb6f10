"""Real CT (../shared/data): skull of the head phantom, aorta of the contrast CT vs TotalSegmentator."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.segmentation import islands, read_segmentation
from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_source import load_scan
from surgiplan.core.segmentation.threshold import threshold
from surgiplan.core.surfaces import mask_to_surface, mesh_volume, watertight_report
from tests.conftest import require_shared


@pytest.fixture(scope="module")
def head():
    return load_scan(require_shared("ct", "ct_head_phantom_bone_1mm"))


@pytest.fixture(scope="module")
def abdomen():
    return load_scan(require_shared("ct", "ct_abdomen_contrast_jpeg2000"))


def test_head_phantom_geometry(head):
    assert head.array.shape == (140, 256, 256)
    assert head.spacing == pytest.approx((0.90234375, 0.90234375, 1.0))
    assert head.origin == pytest.approx((-115.274414, -1.624414, 694.21), abs=1e-3)


def test_skull_is_one_piece_and_one_watertight_model(head):
    bone = threshold(head, 300, None)
    lab, sizes = islands.label_components(bone)
    # README: skull ~475 600 voxels, head rest ~135 200, specks < 20
    assert sizes[1] == pytest.approx(475_600, rel=0.01) and sizes[2] == pytest.approx(135_200, rel=0.01)
    assert np.all(sizes[3:] < 20)
    skull = islands.keep_largest(bone)
    assert islands.label_components(skull)[1].size == 2  # one component
    # at 400 HU the head rest breaks up, the skull stays one piece
    lab400, s400 = islands.label_components(threshold(head, 400, None))
    assert s400[1] > 400_000 and s400[2] < 0.5 * 135_200
    surf = mask_to_surface(skull, head.spacing, head.origin, head.direction, smooth=True)
    rep = watertight_report(surf)
    assert rep.watertight and rep.manifold, rep.summary()
    voxel_ml = skull.sum() * head.voxel_volume_mm3
    assert mesh_volume(surf) == pytest.approx(voxel_ml, rel=0.01)
    # the model lies where the scan is (LPS mm)
    lo, hi = head.bounds()
    assert np.all(surf.bounds[::2] >= lo - 1.0) and np.all(surf.bounds[1::2] <= hi + 1.0)


def test_aorta_against_totalsegmentator(abdomen):
    ref_path = require_shared("segmentation_reference", "ct_abdomen_contrast_aorta_mask.nii.gz")
    ref = read_segmentation(ref_path, reference=abdomen).layers[0] > 0
    assert ref.sum() == 72_810
    seg = apply_preset(abdomen, "vessel")
    ours = seg.mask("vessel")
    dice = 2 * (ours & ref).sum() / (ours.sum() + ref.sum())
    print(f"aorta Dice vs TotalSegmentator: {dice:.3f}, volume {ours.sum() * 3.375 / 1000:.1f} mL vs 245.7 mL")
    # a model output, not ground truth. Issue target 0.85; measured 0.904 (0.860 before the
    # unopacified false lumen of the dissection was restored inside the round wall: the bar
    # guards that). The branches are a separate segment, as TotalSegmentator keeps them out.
    assert dice >= 0.88
    if "vessel_branches" in seg.names:
        assert seg.mask("vessel_branches").sum() < 0.02 * ours.sum()  # thin arteries, no leak into bone
    assert ours.sum() == pytest.approx(ref.sum(), rel=0.15)
    assert islands.label_components(ours)[1].size == 2  # one connected lumen
    stats = seg.statistics(abdomen)[0]
    assert 250 < stats.mean < 450  # contrast-filled lumen (reference mean ~353 HU)
