"""The vessel preset on the real TCIA trunk CT: the aorta and iliacs, not the sacrum (issue 29).

Reference: sixteen outlines on eleven axial slices traced around centres placed by eye
(tests/data/tcia_aorta_manual/README.md); the iliacs lower down (k 14-20) touch their veins, as
bright in this late phase, which the preset once took with them (180-270 mm^2 per side).
The CT (512 x 512 x 134) is loaded and segmented once.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import polygon

from surgiplan.core.segmentation.presets import apply_preset
from surgiplan.core.segmentation.scan_source import load_scan
from tests.conftest import require_shared

OUTLINES = Path(__file__).resolve().parents[2] / "data" / "tcia_aorta_manual" / "tcia_aorta_outlines.json"


@pytest.fixture(scope="module")
def trunk():
    volume = load_scan(require_shared("ct", "ct_abdomen_spine_tcia", "dicom"))
    return volume, apply_preset(volume, "vessel")


def _reference(volume):
    """(k, name, mask of slice k) for every traced outline, rasterised on the CT's pixel grid."""
    out = []
    for s in json.loads(OUTLINES.read_text())["sections"]:
        xy = np.asarray(s["outline_lps_mm"])
        ijk = volume.world_to_index(np.column_stack([xy, np.full(len(xy), s["slice_z_mm"])]))
        k = int(round(float(ijk[0, 2])))
        m = np.zeros(volume.array.shape[1:], bool)
        rr, cc = polygon(ijk[:, 1], ijk[:, 0], m.shape)
        m[rr, cc] = True
        out.append((k, s["vessel"], m))
    return out


def test_vessel_preset_finds_the_aorta_not_the_sacrum(trunk):
    volume, seg = trunk
    vessel = seg.mask("vessel")
    assert not seg.metadata.get("preset_doubts")
    ml = vessel.sum() * volume.voxel_volume_mm3 / 1000.0
    # aorta from the top slice (thorax) down past the bifurcation, with the iliacs: ~125 mL measured;
    # the sacrum seed gave 506 mL of bone, a vertebral body or heart leak several hundred mL
    assert 90.0 < ml < 200.0, f"{ml:.1f} mL"
    ks = np.flatnonzero(vessel.any(axis=(1, 2)))
    assert ks.min() <= 10 and ks.max() == volume.array.shape[0] - 1
    # contrast blood, not bone marrow with its cortex: median of the segment 150-300 HU
    med = float(np.median(volume.array[vessel]))
    assert 150.0 < med < 300.0, med
    # two iliacs below the bifurcation (k 25) and one aorta above it (k 55)
    for k, n in ((25, 2), (55, 1)):
        lab, _ = ndimage.label(vessel[k])
        sizes = np.bincount(lab.ravel())[1:] * volume.spacing[0] * volume.spacing[1]
        assert (sizes >= 30.0).sum() == n, (k, sizes)  # vessel sections >= 30 mm^2 (shaved rims are smaller)
    # the iliac arteries without their veins from the bifurcation (k 33) down to k 11: a 10-12 mm
    # iliac is 80-110 mm^2; measured 61-122 mm^2 per section (180-270 mm^2 with the veins)
    for k in range(11, 33):
        lab, _ = ndimage.label(vessel[k], structure=np.ones((3, 3), bool))
        sizes = np.bincount(lab.ravel())[1:] * volume.spacing[0] * volume.spacing[1]
        big = np.sort(sizes[sizes >= 30.0])
        assert len(big) == 2 and big.max() <= 140.0, (k, sizes)


def _compare(volume, vessel):
    px = float(volume.spacing[0])
    rows = []
    for k, name, ref in _reference(volume):
        lab, _ = ndimage.label(vessel[k])
        hit = np.unique(lab[ref & (lab > 0)])
        ours = np.isin(lab, hit[hit > 0])  # the preset's section(s) at this vessel
        dice = 2.0 * (ours & ref).sum() / (ours.sum() + ref.sum())
        d_ref = 2.0 * np.sqrt(ref.sum() / np.pi) * px
        d_ours = 2.0 * np.sqrt(ours.sum() / np.pi) * px
        print(f"k {k:3d} {name:32s} Dice {dice:.3f}  diameter {d_ours:5.1f} mm vs {d_ref:5.1f} mm")
        rows.append((k, name, dice, d_ours, d_ref))
    return rows


def test_vessel_preset_against_traced_outlines(trunk):
    volume, seg = trunk
    rows = _compare(volume, seg.mask("vessel"))
    assert len(rows) == 16
    for k, name, dice, d_ours, d_ref in rows:
        if "aorta" in name:
            # measured: Dice 0.970-0.990, diameters within 0.7 mm (1.07 mm pixels); 0.75 and
            # 26.0 vs 20.1 mm at k 110 while a wall circle was put around this normal aorta
            assert 12.0 <= d_ref <= 30.0
            assert dice >= 0.95, f"{name} at k {k}: Dice {dice:.3f}"
            assert abs(d_ours - d_ref) <= 1.0, f"{name} at k {k}: {d_ours:.1f} vs {d_ref:.1f} mm"
        else:
            # measured at k 25: left 0.986 (10.2 vs 10.2 mm); right 0.859 (11.0 vs 12.7 mm: the traced
            # outline has a spur into the touching vein); 0.61 (18.2 mm) with a wall circle around it.
            # k 14-20, each iliac followed as a round tube and cut from its vein along the darker wall:
            # 0.874-0.986 (0.400-0.909 when the mask took the vein: 17.9-18.9 mm sections)
            assert dice >= 0.8, f"{name} at k {k}: Dice {dice:.3f}"
            assert abs(d_ours - d_ref) <= 2.0, f"{name} at k {k}: {d_ours:.1f} vs {d_ref:.1f} mm"
