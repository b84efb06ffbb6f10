"""The hip-bones preset on the issue's real hip CT, without a click (issue 23).

TotalSegmentator's example CT (optional data, ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct; skipped
when absent, in CI too): an older patient, 3 mm voxels, osteoporotic bone (cancellous ~100-300
HU), a dynamic hip screw in the left femur, the scan ending at the femoral necks. Before, the
preset found no femoral head there (sphere votes need strong edges) and refused; now the heads are
found by rays (:func:`hip_anatomy.find_heads_by_rays`) and the femur split from the hip bone by
:func:`hip_anatomy.split_femur_soft`.

Measured against the hand reference of 5 axial slices (tests/data/hip_reference_totalseg_ct, k =
13 14 15 17 19; "hip" is the preset's ``pelvis`` on that side of the reference's midline):
femur_left 0.808 0.843 0.874 0.784 0.809, femur_right 0.810 0.813 0.814 0.779 0.804,
hip left 0.841 0.851 0.826 0.616 0.602, hip right 0.623 0.587 0.869 0.838 0.951. Issue 23's
target is 0.85 per bone and slice: NOT met (femurs: the fitted sphere against the hand circles,
whose right centre lies ~2 voxels lateral of the fit; hip bones: the reference counts the joint
space beyond one voxel as hip bone and fills the acetabulum's ring). The bars are the measured
figures less a margin, so a regression fails.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_source import load_scan
from tests.core.segmentation.test_anatomy_presets_real import extra_data
from tests.core.segmentation.test_hip_real_reference import REF, reference_slices


def test_hip_preset_finds_both_heads_and_splits_femurs_on_the_osteoporotic_ct():
    import json

    vol = load_scan(extra_data("totalseg_example_ct", "example_ct.nii.gz"))
    ct = np.asarray(vol.array)
    seg = apply_preset(vol, "hip-bones")
    assert {"femur_left", "femur_right", "pelvis", "metal"} <= set(seg.names)
    vml = seg.voxel_volume_mm3 / 1000.0
    ml = {n: float(seg.mask(n).sum() * vml) for n in seg.names}
    print({n: round(v, 1) for n, v in ml.items()})
    # proximal femurs cut at the neck: head (4/3 pi 22^3 = 45 mL) + neck; was 29 and 1.7 mL in the issue
    assert 60.0 <= ml["femur_left"] <= 180.0 and 60.0 <= ml["femur_right"] <= 180.0
    # the screw is in the patient's left femur: the metal touches femur_left, not femur_right
    near = ndimage.binary_dilation(seg.mask("metal"), iterations=2)
    assert (near & seg.mask("femur_left")).sum() > 10 * (near & seg.mask("femur_right")).sum()
    mid = json.loads(REF.read_text())["midline_i"]
    half = np.zeros(ct.shape[1:], bool)
    half[:, : int(round(mid))] = True  # reference's "left" is the low-i side
    bars = {"femur_left": 0.75, "femur_right": 0.75, "hip_left": 0.55, "hip_right": 0.55}
    for name, bar in bars.items():
        m = seg.mask(name) if name.startswith("femur") else seg.mask("pelvis")
        side = half if name.endswith("left") else ~half
        dice = [2 * (r[name] & m[k] & side).sum() / (r[name].sum() + (m[k] & side).sum())
                for k, r in reference_slices(ct).items()]
        print(name, np.round(dice, 3))
        assert min(dice) >= bar, f"{name}: Dice per slice {np.round(dice, 3)}"
