"""Bone presets by anatomy on real clinical CT and on randomised CT phantoms (issue 23).

* the shared TCIA trunk CT (3 mm, contrast, table): five lumbar vertebrae of tens of mL,
  separate from the sacrum, named up from it, the table out, Dice per vertebra on a hand
  reference of the mid-sagittal slice;
* TotalSegmentator's example CT (optional, ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct: an
  older patient, 3 mm, a hip prosthesis, the scan ending at the femoral heads): see
  test_hip_preset_real.py (the preset now finds the heads there);
* CT phantoms with analytic truth (:mod:`surgiplan.core.samples.ct_phantom`): femur and hip
  bone Dice >= 0.95, femoral head centre within 1 mm and radius within 0.5 mm.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from surgiplan.core.segmentation import hip_anatomy, islands
from surgiplan.core.segmentation.bone_fill import smoothed
from surgiplan.core.segmentation.presets import _midline_column, apply_preset
from surgiplan.core.segmentation.scan_axes import spacing_kji
from surgiplan.core.segmentation.scan_source import load_scan
from surgiplan.core.segmentation.table import body_mask, table_mask
from tests.conftest import require_shared


def extra_data(*parts: str) -> Path:
    """Optional downloaded test data (``SURGIPLAN_EXTRA_DATA``, default /work/extra_data): always
    skipped when absent, in CI too (it is not part of the shared data)."""
    root = Path(os.environ.get("SURGIPLAN_EXTRA_DATA", "/work/extra_data"))
    path = root.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"optional test data not found at {path} (set SURGIPLAN_EXTRA_DATA; see its README)")
    return path


@pytest.fixture(scope="module")
def tcia():
    return load_scan(require_shared("ct", "ct_abdomen_spine_tcia", "dicom"))


@pytest.mark.slow
def test_tcia_spine_five_lumbar_vertebrae_named_up_from_the_sacrum(tcia):
    seg = apply_preset(tcia, "spine-bones")
    ml = {n: float(seg.mask(n).sum() * tcia.voxel_volume_mm3 / 1000.0) for n in seg.names}
    print("volumes mL:", {n: round(v, 1) for n, v in ml.items()})
    assert {"sacrum", "L1", "L2", "L3", "L4", "L5"} <= set(ml)
    # measured: L5..L1 66/69/65/53/64 mL (issue 23: the old preset gave 6-10 mL and a 295 mL "sacrum")
    for n in ("L1", "L2", "L3", "L4", "L5"):
        assert 40.0 <= ml[n] <= 110.0, f"{n} {ml[n]:.1f} mL"
        assert islands.label_components(seg.mask(n))[1].size == 2, f"{n} is not one piece"
    assert 60.0 <= ml["sacrum"] <= 300.0
    # no false "contrast-filled blood" doubt: the bodies' cortex is below 500 HU at 3 mm, but their
    # outer voxels are 21-100 HU brighter than their inside (a pool's are not)
    from surgiplan.core.segmentation.plausibility import check_bone_segments

    blood = [d.segment for d in check_bone_segments(tcia, seg) if d.kind == "contrast-blood"]
    assert blood == [], blood
    # ordered feet to head: L5 just above the sacrum, L1 the highest lumbar
    zc = {n: float(np.nonzero(seg.mask(n))[0].mean()) for n in ("sacrum", "L5", "L4", "L3", "L2", "L1")}
    order = sorted(zc, key=zc.get)
    assert order == ["sacrum", "L5", "L4", "L3", "L2", "L1"]
    # separate pieces (no voxel in two segments), and nothing on the table
    stack = np.stack([seg.mask(n) for n in seg.names])
    assert stack.sum(axis=0).max() == 1
    table = table_mask(tcia, body=body_mask(tcia))
    assert table.sum() > 100_000  # the carbon board and its rails are there
    assert not (stack.any(axis=0) & table).any()
    # against a hand reference of the mid-sagittal slice (tcia_spine_midsagittal_reference.npz:
    # bone = CT smoothed 0.7 mm in plane >= 200 HU with the slice's holes filled, its pieces
    # assigned to levels by eye on a numbered rendering; the piece that merged L1 with the bodies
    # above cut at the narrowest row of the L1-T12 disc). Measured 0.949 0.957 0.961 0.905 0.902.
    ref = np.load(Path(__file__).with_name("tcia_spine_midsagittal_reference.npz"))
    i, j0, j1 = int(ref["i"]), int(ref["j0"]), int(ref["j1"])
    for code, name in enumerate(ref["names"], start=1):
        r = ref["labels"] == code
        o = seg.mask(str(name))[:, j0:j1, i]
        dice = 2 * (r & o).sum() / (r.sum() + o.sum())
        assert dice >= 0.85, f"{name}: Dice {dice:.3f} on the reference slice"


@pytest.mark.slow
@pytest.mark.parametrize("seed,overrides", [
    (11, {"pixel_mm": 1.0, "slice_mm": 2.5}),  # thin trabecular bone (144 HU), 2 mm joint space
    (4, {"pixel_mm": 1.0, "slice_mm": 3.0}),  # 3 mm slices, field of view ends in the neck, no shaft
])
def test_hip_preset_on_ct_phantoms(seed, overrides):
    from surgiplan.core.samples.ct_phantom import make_ct_phantom

    vol, truth = make_ct_phantom(seed, **overrides)
    seg = apply_preset(vol, "hip-bones")
    for name, gt in truth["masks"].items():
        ours = seg.mask(name)
        dice = 2 * (ours & gt).sum() / (ours.sum() + gt.sum())
        assert dice >= 0.95, f"seed {seed} {name}: Dice {dice:.3f}"
    img = smoothed(vol, 0.6)
    sp = spacing_kji(vol)
    heads = hip_anatomy.find_heads(img, sp, midline_i=_midline_column(vol, body_mask(vol)))
    (femur, centre), = truth["femoral_head_centre_lps"].items()
    found = [vol.index_to_world(np.array([h.centre[::-1]]))[0] for h in heads]
    err = min(np.linalg.norm(f - np.array(centre)) for f in found)
    h = heads[int(np.argmin([np.linalg.norm(f - np.array(centre)) for f in found]))]
    assert err <= 1.0, f"head centre off by {err:.2f} mm"
    assert abs(h.radius_mm - truth["femoral_head_radius_mm"][femur]) <= 0.5
