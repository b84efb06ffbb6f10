"""The hip-bones preset on the issue's real hip CT, without a click (issue 23).

TotalSegmentator's example CT (optional data, ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct; skipped
when absent, in CI too): an older patient, 3 mm voxels, osteoporotic bone (cancellous ~100-300
HU), a dynamic hip screw in the left femur, the scan ending at the femoral necks. Before, the
preset found no femoral head there (sphere votes need strong edges) and refused; now the heads are
found by rays (:func:`hip_anatomy.find_heads_by_rays`) and the femur split from the hip bone by
:func:`hip_anatomy.split_femur_soft`.

Measured against the hand reference of 5 axial slices (tests/data/hip_reference_totalseg_ct, k =
13 14 15 17 19; "hip" is the hip bone on that side of the reference's midline):
femur_left 0.819 0.862 0.882 0.817 0.836, femur_right 0.827 0.813 0.814 0.780 0.811,
hip left 0.840 0.851 0.827 0.639 0.623, hip right 0.608 0.571 0.879 0.855 0.962 (before the head
followed its own surface instead of the fitted sphere: femurs 0.78-0.87). Issue 23's target is
0.85 per bone and slice: NOT met (the reference's right circle lies ~2 voxels lateral of the CT's
half-way edges, see its README; its hip bone counts the joint space beyond one voxel and fills
the acetabulum's ring). The bars are the measured figures less a margin, so a regression fails.
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
    assert {"femur_left", "femur_right", "hip_bone_left", "hip_bone_right", "sacrum", "metal"} <= set(seg.names)
    assert "pelvis" not in seg.names
    vml = seg.voxel_volume_mm3 / 1000.0
    ml = {n: float(seg.mask(n).sum() * vml) for n in seg.names}
    print({n: round(v, 1) for n, v in ml.items()})
    # proximal femurs cut at the neck: head (4/3 pi 22^3 = 45 mL) + neck; was 29 and 1.7 mL in the issue
    assert 60.0 <= ml["femur_left"] <= 180.0 and 60.0 <= ml["femur_right"] <= 180.0
    # the screw is in the patient's left femur: the metal touches femur_left, not femur_right
    near = ndimage.binary_dilation(seg.mask("metal"), iterations=2)
    assert (near & seg.mask("femur_left")).sum() > 10 * (near & seg.mask("femur_right")).sum()
    # the femur is the bone, not a ball: its cancellous holes are filled (axial slices below the head;
    # the screw inside the left one is the metal segment)
    for name in ("femur_left", "femur_right"):
        f = seg.mask(name)
        metal = seg.mask("metal")
        holes = sum(int((ndimage.binary_fill_holes(s) & ~s & ~m).sum()) for s, m in zip(f, metal, strict=True))
        assert holes <= 0.01 * f.sum(), f"{name}: {holes} voxels of holes"
    mid = json.loads(REF.read_text())["midline_i"]
    half = np.zeros(ct.shape[1:], bool)
    half[:, : int(round(mid))] = True  # reference's "left" is the low-i side
    pelvis = seg.mask("hip_bone_left") | seg.mask("hip_bone_right") | seg.mask("sacrum")
    bars = {"femur_left": 0.79, "femur_right": 0.75, "hip_left": 0.58, "hip_right": 0.53}
    for name, bar in bars.items():
        m = seg.mask(name) if name.startswith("femur") else pelvis
        side = half if name.endswith("left") else ~half
        dice = [2 * (r[name] & m[k] & side).sum() / (r[name].sum() + (m[k] & side).sum())
                for k, r in reference_slices(ct).items()]
        print(name, np.round(dice, 3))
        assert min(dice) >= bar, f"{name}: Dice per slice {np.round(dice, 3)}"


def test_pelvis_split_into_hip_bones_and_sacrum_on_the_osteoporotic_ct(preset_run):
    """The preset's pelvis as left/right hip bones, the sacrum and the lumbar spine
    (:func:`pelvis_split.split_pelvis` with the lumbar vertebrae of :func:`spine_anatomy.find_vertebrae`):
    hip bones of an adult (~300-450 mL; measured 325 and 333 mL) and alike, the left one on the
    screw's side. Against TotalSegmentator's S1 and L5 (a model's output, so agreement, not truth):
    71 % of its S1 in our sacrum, 0.2 % in a hip bone; 1 % of its L5 in our sacrum (57 % before the
    L5-S1 disc bounded it) and 87 % in our lumbar spine."""
    vol, seg = preset_run
    vml = seg.voxel_volume_mm3 / 1000.0
    ml = {n: float(seg.mask(n).sum() * vml) for n in seg.names}
    for n in ("hip_bone_left", "hip_bone_right"):
        assert 280.0 <= ml[n] <= 450.0, f"{n}: {ml[n]:.0f} mL"
    assert max(ml["hip_bone_left"], ml["hip_bone_right"]) / min(ml["hip_bone_left"], ml["hip_bone_right"]) < 1.1
    assert 70.0 <= ml["sacrum"] <= 250.0
    near = ndimage.binary_dilation(seg.mask("metal"), iterations=3)
    assert (near & seg.mask("hip_bone_left")).sum() >= (near & seg.mask("hip_bone_right")).sum()
    ts = np.asarray(load_scan(extra_data("totalseg_example_ct", "example_ct_totalseg_vertebrae.nii.gz")).array)
    s1, l5 = ts == 26, ts == 27
    hips = seg.mask("hip_bone_left") | seg.mask("hip_bone_right")
    share = {"S1 in sacrum": (s1 & seg.mask("sacrum")).sum() / s1.sum(),
             "S1 in hip bones": (s1 & hips).sum() / s1.sum(),
             "L5 in sacrum": (l5 & seg.mask("sacrum")).sum() / l5.sum(),
             "L5 in lumbar spine": (l5 & seg.mask("lumbar_spine")).sum() / l5.sum()}
    print({k: round(float(v), 3) for k, v in share.items()})
    assert share["S1 in sacrum"] >= 0.65 and share["S1 in hip bones"] <= 0.03
    assert share["L5 in sacrum"] <= 0.05 and share["L5 in lumbar spine"] >= 0.8
    # each hip bone stays on its side of the midline (they meet at the pubic symphysis)
    from surgiplan.core.segmentation.presets import _midline_column
    from surgiplan.core.segmentation.table import body_mask

    mid = _midline_column(vol, body_mask(vol))
    ii = np.arange(seg.shape[2])
    for n, wrong in (("hip_bone_left", ii >= mid), ("hip_bone_right", ii < mid)):
        m = seg.mask(n)
        frac = m[:, :, wrong].sum() / m.sum()
        assert frac <= 0.03, f"{n}: {100 * frac:.1f} % across the midline"


def test_iliac_wing_holes_are_spanned(preset_run):
    """The thin iliac fossae (0-140 HU here) left holes of several cm^2 in each hip bone; seen from
    the front (projected along j), the upper half of each hip bone now has no hole at all (measured;
    before the wings were spanned: 2.5 and 1.2 cm^2 in that view, and larger ones hidden behind the
    curved wing, 6.5 and 5.4 mL added)."""
    vol, seg = preset_run
    sp = np.asarray(vol.spacing, float)[::-1]
    for name in ("hip_bone_left", "hip_bone_right"):
        m = seg.mask(name)
        k = np.nonzero(m.any(axis=(1, 2)))[0]
        wing = m[int(k.min() + 0.45 * (k.max() - k.min())):]  # the upper half of the hip bone: the wing
        proj = wing.any(axis=1)
        holes, n = ndimage.label(ndimage.binary_fill_holes(proj) & ~proj)
        areas = np.bincount(holes.ravel())[1:] * sp[0] * sp[2] if n else np.zeros(1)
        print(name, "largest hole in the front view (mm^2):", float(areas.max()))
        assert areas.max() <= 30.0, f"{name}: a hole of {areas.max():.0f} mm^2 in the wing"
