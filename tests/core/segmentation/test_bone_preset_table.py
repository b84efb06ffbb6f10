"""The "bone" preset leaves the CT table out (issue 23: "the table by its shape").

On the real TCIA trunk CT (512 x 512 x 134, carbon board and rails behind the patient) the table is
above 200 HU in places and used to come out as ~90 mL of "bone" (a curved plate under the back);
the anatomy presets already excluded it. The table found by its shape must not overlap the bone,
and the bone must stay the patient's: the spine and pelvis are still there.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.segmentation import islands
from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_source import load_scan
from surgiplan.core.segmentation.table import body_mask, table_mask
from tests.conftest import require_shared


@pytest.mark.slow
def test_tcia_bone_preset_leaves_the_table_out():
    vol = load_scan(require_shared("ct", "ct_abdomen_spine_tcia", "dicom"))
    seg = apply_preset(vol, "bone")
    bone = seg.mask("bone")
    body = body_mask(vol)
    table = table_mask(vol, body=body)
    dense_table = table & (np.asarray(vol.array) >= 200)
    assert dense_table.sum() > 10_000  # the board and rails do reach bone's HU (else this test proves nothing)
    assert not (bone & table).any()
    vml = vol.voxel_volume_mm3 / 1000.0
    organs = seg.mask("contrast")  # the enhanced kidneys and heart, pieces of their own (contrast_organs)
    ml, organ_ml = float(bone.sum() * vml), float(organs.sum() * vml)
    # measured 1439 mL bone + 460 mL contrast organs (1992 mL with the table): a trunk's skeleton;
    # 1376 + 521 mL since the aorta touching the spine goes to 'contrast' too
    assert 1300.0 < ml < 1600.0 and 380.0 < organ_ml < 540.0, (ml, organ_ml)
    assert not (bone & organs).any()
    a = np.asarray(vol.array)
    assert np.median(a[organs]) < 300 and (a[organs] >= 700).mean() < 0.01  # no cortex in them
    _, sizes = islands.label_components(organs)
    # two kidneys, the heart and the aorta (cut off the spine where it touches it: 61 mL,
    # contrast_organs.attached_pools); spine, ribs and pelvis stay bone
    assert len(sizes) - 1 == 4
    from surgiplan.core.segmentation.plausibility import check_anatomy

    assert any("'contrast'" in d.message and "kidneys" in d.message for d in check_anatomy(vol, seg))
    assert not (bone & ~body).any()  # nor the rails' edge voxels (the table is found on a coarser grid)
