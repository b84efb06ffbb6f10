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
import pytest
from scipy import ndimage

from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_source import load_scan
from tests.core.segmentation.test_anatomy_presets_real import extra_data
from tests.core.segmentation.test_hip_real_reference import REF, reference_slices


@pytest.fixture(scope="module")
def preset_run():
    vol = load_scan(extra_data("totalseg_example_ct", "example_ct.nii.gz"))
    return vol, apply_preset(vol, "hip-bones")


def test_hip_preset_finds_both_heads_and_splits_femurs_on_the_osteoporotic_ct(preset_run):
    import json

    vol, seg = preset_run
    ct = np.asarray(vol.array)
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


def test_pelvis_split_into_hip_bones_and_sacrum_on_the_osteoporotic_ct(preset_run):
    """Left/right hip bones and the sacrum (:func:`pelvis_split.split_pelvis`): hip bone volumes
    of an adult (~300-450 mL; measured 319 and 326 mL) and alike, the low-i one on the patient's
    left; against TotalSegmentator's S1 (a model's output, not truth): 71 % of it in our sacrum,
    2 % in a hip bone. Known miss (bars below say so): 57 % of its L5 also goes to our sacrum."""
    from surgiplan.core.segmentation import hip_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.pelvis_split import split_pelvis
    from surgiplan.core.segmentation.presets import _midline_column
    from surgiplan.core.segmentation.scan_axes import axis_signs, spacing_kji
    from surgiplan.core.segmentation.table import body_mask

    vol, seg = preset_run
    sp = spacing_kji(vol)
    si, sj, sk = axis_signs(vol)
    mid = _midline_column(vol, body_mask(vol))
    heads = hip_anatomy.find_heads_by_rays(smoothed(vol, 0.6), sp, mid)
    parts = split_pelvis(np.asarray(vol.array), seg.mask("pelvis"), sp, heads, mid, up_sign=sk, ant_sign=-sj)
    vml = seg.voxel_volume_mm3 / 1000.0
    ml = {n: float(m.sum() * vml) for n, m in parts.items()}
    print({n: round(v, 1) for n, v in ml.items()})
    assert si == -1  # low i is the patient's left here: the screw side (see the test above)
    for n in ("hip_bone_low_i", "hip_bone_high_i"):
        assert 280.0 <= ml[n] <= 450.0, f"{n}: {ml[n]:.0f} mL"
    assert max(ml["hip_bone_low_i"], ml["hip_bone_high_i"]) / min(ml["hip_bone_low_i"], ml["hip_bone_high_i"]) < 1.1
    assert 100.0 <= ml["sacrum"] <= 250.0
    ts = np.asarray(load_scan(extra_data("totalseg_example_ct", "example_ct_totalseg_vertebrae.nii.gz")).array)
    s1, l5 = ts == 26, ts == 27
    hips = parts["hip_bone_low_i"] | parts["hip_bone_high_i"]
    share = {"S1 in sacrum": (s1 & parts["sacrum"]).sum() / s1.sum(), "S1 in hip bones": (s1 & hips).sum() / s1.sum(),
             "L5 in sacrum": (l5 & parts["sacrum"]).sum() / l5.sum()}
    print({k: round(float(v), 3) for k, v in share.items()})
    assert share["S1 in sacrum"] >= 0.65 and share["S1 in hip bones"] <= 0.05
    assert share["L5 in sacrum"] <= 0.65  # measured 0.57: the L5-S1 boundary is not found yet
    # each hip bone stays on its side of the midline (they meet at the pubic symphysis, where one
    # crosses by a few voxels: measured 0 % and 1.2 %)
    ii = np.arange(seg.mask("pelvis").shape[2])
    for n, wrong in (("hip_bone_low_i", ii >= mid), ("hip_bone_high_i", ii < mid)):
        frac = parts[n][:, :, wrong].sum() / parts[n].sum()
        assert frac <= 0.03, f"{n}: {100 * frac:.1f} % across the midline"
