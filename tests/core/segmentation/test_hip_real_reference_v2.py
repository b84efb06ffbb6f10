"""A second reader's hip reference on the issue's real hip CT, and the hip preset scored against both readers
(issue 23).

TotalSegmentator's example CT (optional data, ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct; skipped when absent,
in CI too): an older patient, 3 mm voxels, osteoporotic bone, a dynamic hip screw in the left femur. The v2
reference (tests/data/hip_reference_totalseg_ct_v2, see its README) outlines the femur (head, neck, trochanter:
whatever femur is in the slice) and the hip bone on every axial slice through the hip joints (right k = 7-20,
left k = 12-21), as polygons in voxel coordinates. v1 (tests/data/hip_reference_totalseg_ct) is one circle per
femoral head on 5 slices.

What the two readers say (measured, printed by the tests below):
- left head: v1 and v2 agree (femur Dice 0.83-0.92 per slice, centres within 0.5 voxel);
- right head: v2's centre lies at i 85.2-86.6 on k = 13-18, v1's at 88.3: v1 is 2-3 voxels lateral (femur Dice
  0.69-0.81). The CT along row j = 44 of slice 14 shows why: head bone (>= 150 HU) ends at i = 91, i = 92 is
  95 HU, and v1's circle reaches i = 95 (70 HU, soft tissue). v2 resolves the open question of v1's README in
  favour of a centre near i = 86 (TotalSegmentator's own masks of this CT, a third reader, are lateral of v2 on
  both sides: left 1.2-1.8 voxels, right 2.4-2.7; so i = 86-87, one voxel of residual uncertainty).
The preset's score (owned by the preset's authors) is printed, not asserted.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation.scan_source import load_scan
from tests.core.segmentation.test_anatomy_presets_real import extra_data
from tests.core.segmentation.test_hip_real_reference import reference_slices

V2 = Path(__file__).parents[2] / "data" / "hip_reference_totalseg_ct_v2" / "hip_outlines_v2.json"
BONES = ("femur_left", "femur_right", "hip_left", "hip_right")


def rasterise(polygons: list[list[list[float]]], shape: tuple[int, int]) -> np.ndarray:
    """Voxels of a (rows j, columns i) slice whose centres lie inside an odd number of ``polygons`` (even-odd).

    Parameters
    ----------
    polygons : list of polygons, each a list of ``[i, j]`` vertices in voxel index units (voxel centres at
        integers), closed implicitly.
    shape : (n_rows, n_columns) of the slice.

    Returns
    -------
    numpy.ndarray of bool, ``shape``.
    """
    jj, ii = np.mgrid[: shape[0], : shape[1]]
    inside = np.zeros(shape, bool)
    for poly in polygons:
        p = np.asarray(poly, float)
        x1, y1 = p[:, 0], p[:, 1]
        x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
        odd = np.zeros(shape, bool)
        for a, b, c, d in zip(x1, y1, x2, y2, strict=True):
            if b == d:
                continue
            crosses = (b > jj) != (d > jj)
            x_at = a + (jj - b) * (c - a) / (d - b)
            odd ^= crosses & (ii < x_at)
        inside ^= odd
    return inside


def v2_slices(ct: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    """{slice k: {bone: 2D mask}} from the v2 outlines (femur minus metal, per the JSON's rule)."""
    ref = json.loads(V2.read_text())
    out: dict[int, dict[str, np.ndarray]] = {}
    for name, per in ref["outlines"].items():
        for key, polys in per.items():
            k = int(key)
            m = rasterise(polys, ct.shape[1:])
            out.setdefault(k, {})[name] = m & (ct[k] < ref["metal_hu"])
    return out


def v2_hip_filled(ct: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    """{slice k: {"hip_left"/"hip_right": 2D mask}}: v2's hip bone with the holes its own outline
    encloses in coronal and sagittal slices (and in 3D) filled, v2's femur kept out. v2 filled its
    hip bone's holes in axial slices only, where the posterior column's fatty marrow (0-100 HU) is
    open to the joint; across the other planes v2's own cortex closes around it."""
    from surgiplan.core.segmentation.bone_fill import fill_planes

    ref = v2_slices(ct)
    out: dict[int, dict[str, np.ndarray]] = {}
    for side in ("left", "right"):
        ks = sorted(k for k in ref if f"hip_{side}" in ref[k])
        hip = np.zeros(ct.shape, bool)
        fem = np.zeros(ct.shape, bool)
        for k in ks:
            hip[k], fem[k] = ref[k][f"hip_{side}"], ref[k][f"femur_{side}"]
        filled = fill_planes(ndimage.binary_fill_holes(hip), axes=(1, 2)) & ~fem
        for k in ks:
            out.setdefault(k, {})[f"hip_{side}"] = filled[k]
    return out


def test_rasterise_even_odd_against_hand_counted_shapes():
    # a 3 x 2 rectangle of voxel centres (i 1..3, j 1..2), edges on half-voxel lines
    sq = [[0.5, 0.5], [3.5, 0.5], [3.5, 2.5], [0.5, 2.5]]
    m = rasterise([sq], (5, 6))
    assert m.sum() == 6 and m[1:3, 1:4].all()
    # a hole: the inner 1 x 1 square removed by the even-odd rule
    outer = [[0.5, 0.5], [4.5, 0.5], [4.5, 4.5], [0.5, 4.5]]
    hole = [[1.5, 1.5], [2.5, 1.5], [2.5, 2.5], [1.5, 2.5]]
    m = rasterise([outer, hole], (6, 6))
    assert m.sum() == 15 and not m[2, 2]
    # a large right triangle: voxel count within the perimeter band of its area (60 x 40 / 2 = 1200)
    tri = [[0.3, 0.3], [60.3, 0.3], [0.3, 40.3]]
    n = rasterise([tri], (50, 70)).sum()
    assert abs(n - 1200) <= 0.5 * (60 + 40 + 72.1)


@pytest.fixture(scope="module")
def scan():
    vol = load_scan(extra_data("totalseg_example_ct", "example_ct.nii.gz"))
    return vol, np.asarray(vol.array)


def _centroid(m: np.ndarray) -> np.ndarray:
    j, i = np.nonzero(m)
    return np.array([j.mean(), i.mean()])


def test_v2_reference_is_consistent_and_anatomical(scan):
    vol, ct = scan
    ref = json.loads(V2.read_text())
    assert ref["slices_traced"]["femur_right"] == list(range(7, 21))
    assert ref["slices_traced"]["femur_left"] == list(range(12, 22))
    slices = v2_slices(ct)
    area_mm2 = vol.spacing[0] * vol.spacing[1]
    for k, masks in slices.items():
        names = list(masks)
        for a in range(len(names)):
            assert masks[names[a]].sum() >= 15, f"k={k} {names[a]}: {masks[names[a]].sum()} voxels"
            for b in range(a + 1, len(names)):
                assert not (masks[names[a]] & masks[names[b]]).any(), f"k={k}: {names[a]} overlaps {names[b]}"
        for side in ("left", "right"):
            if f"femur_{side}" in masks:
                # a proximal femur section is at most a neck + trochanter (~ 35 cm^2 at 3 mm)
                assert masks[f"femur_{side}"].sum() * area_mm2 <= 3500.0
                lo, hi = (0, 60) if side == "left" else (60, ct.shape[2])
                cols = np.nonzero(masks[f"femur_{side}"].any(0))[0]
                assert lo <= cols.min() and cols.max() < hi, f"k={k} femur_{side} crosses the midline"
    # femoral heads: the widest head-only sections (k 13-16) have an equivalent radius of 19-25 mm (issue: 18-30)
    for side in ("left", "right"):
        r_mm = [np.sqrt(slices[k][f"femur_{side}"].sum() * area_mm2 / np.pi) for k in (13, 14, 15, 16)]
        print(f"femur_{side} equivalent head radius k 13-16 (mm):", np.round(r_mm, 1))
        assert all(19.0 <= r <= 25.0 for r in r_mm), r_mm
    # left and right heads mirror each other about the body's midline column (the body fills the field: 60.0)
    cl = np.mean([_centroid(slices[k]["femur_left"]) for k in range(13, 19)], axis=0)
    cr = np.mean([_centroid(slices[k]["femur_right"]) for k in range(13, 19)], axis=0)
    print("head centres (j, i) left", np.round(cl, 2), "right", np.round(cr, 2))
    assert abs((cl[1] + cr[1]) / 2 - 60.0) <= 1.5 and abs(cl[0] - cr[0]) <= 1.5
    # the right head's lateral edge by the CT profile (row j = 44, slice 14): bone to i = 91, soft tissue at 95
    row = ct[14, 44]
    edge = np.nonzero(slices[14]["femur_right"][44])[0].max()
    assert row[edge] >= 150 and row[edge + 1] < 150 and edge == 91
    assert row[95] < 100  # v1's circle (centre 88.3, radius 7.0) reaches here


def test_v1_and_v2_heads_agree_on_the_left_and_disagree_on_the_right(scan):
    _vol, ct = scan
    v1 = reference_slices(ct)
    v1_circles = json.loads((V2.parents[1] / "hip_reference_totalseg_ct" / "femoral_head_circles.json").read_text())
    v2 = v2_slices(ct)
    for side in ("left", "right"):
        name = f"femur_{side}"
        dice = {
            k: 2 * (v1[k][name] & v2[k][name]).sum() / (v1[k][name].sum() + v2[k][name].sum())
            for k in (13, 14, 15, 17, 19)
        }
        shift = {k: _centroid(v2[k][name])[1] - v1_circles[name][str(k)][1] for k in (13, 14, 15, 17)}
        print(
            name,
            "v1/v2 Dice",
            {k: round(d, 3) for k, d in dice.items()},
            "v2 - v1 centre i",
            {k: round(s, 2) for k, s in shift.items()},
        )
        if side == "left":
            assert min(dice.values()) >= 0.80 and max(abs(s) for s in shift.values()) <= 1.0
        else:  # v2 puts the right head 1.5-3.5 voxels medial (lower i) of v1's circles
            assert all(-3.5 <= s <= -1.5 for s in shift.values()), shift


@pytest.mark.slow
def test_hip_preset_dice_against_both_readers(scan):
    """The hip-bones preset's Dice per bone against v1 and v2 (printed per slice), and a floor on the
    Dice over v2's slices: measured 0.858 / 0.848 femur left / right, 0.865 / 0.793 hip bone left /
    right (issue 23's target is 0.85: met by the left femur and the left hip bone). The floor is 0.03
    below. The hip bones were 0.811 / 0.773 before the acetabular fossa's fat was kept out of them
    (:func:`hip_anatomy.drop_joint_fat`); the right femur 0.827 before its neck's fatty marrow,
    enclosed by a gapped cortex, was filled (:func:`hip_anatomy.femur_marrow`), 0.847 before the
    head's surface took the joint pattern nearest its sphere (:func:`hip_anatomy._surface_hits`).

    Below v2's slices (k 0-11) the left femur holds a dynamic hip screw: its streaks raised soft
    tissue into the femur (3287 voxels, TotalSegmentator's without its metal 1164, Dice 0.443);
    with the streaks kept out of the bone (:func:`metal.streak_only`) 3047 voxels, Dice 0.461.
    Floors: at most 3150 voxels, Dice >= 0.45. TotalSegmentator's femur there is itself too small
    (the mirrored right femur holds 2669 voxels without the metal's place): a loose check.

    The right hip bone's shortfall is mostly v2's: the posterior column's fatty marrow (472 voxels,
    median 55 HU, k = 8-18), enclosed by v2's own hip-bone outline in coronal and sagittal slices but
    not in the axial ones where its hole fill was done, is left out of v2 (the "dark triangles"
    behind the head). TotalSegmentator's hip bone (a third reader) holds all 472 of those voxels;
    with them (:func:`v2_hip_filled`) the preset scores 0.866 right, 0.869 left, and that floor
    is asserted too (0.03 below)."""
    from surgiplan.core.segmentation.presets import apply_preset

    vol, ct = scan
    seg = apply_preset(vol, "hip-bones")
    print("preset segments:", {n: int(seg.mask(n).sum()) for n in seg.names})
    half = np.zeros(ct.shape[1:], bool)
    half[:, :60] = True

    def preset_mask(name: str, k: int) -> np.ndarray:
        alias = name.replace("hip_", "hip_bone_")  # the preset's names; the low-i hip bone is hip_bone_left
        for n in (name, alias):
            if n in seg.names:
                return seg.mask(n)[k]
        side = half if name.endswith("left") else ~half
        return seg.mask("pelvis")[k] & side

    for label, ref in (("v1", reference_slices(ct)), ("v2", v2_slices(ct))):
        for name in BONES:
            ks = sorted(k for k in ref if name in ref[k])
            d = [
                2 * (ref[k][name] & preset_mask(name, k)).sum() / (ref[k][name].sum() + preset_mask(name, k).sum())
                for k in ks
            ]
            tot_i = sum((ref[k][name] & preset_mask(name, k)).sum() for k in ks)
            tot = sum(ref[k][name].sum() + preset_mask(name, k).sum() for k in ks)
            print(
                f"{label} {name}: Dice over slices {2 * tot_i / tot:.3f}; per slice k {ks[0]}..{ks[-1]}:",
                np.round(d, 2),
            )
            assert all(ref[k][name].any() for k in ks) and tot > 0
            if label == "v2":
                floor = {"femur_left": 0.828, "femur_right": 0.818, "hip_left": 0.835, "hip_right": 0.762}[name]
                assert 2 * tot_i / tot >= floor, (name, 2 * tot_i / tot)
    filled = v2_hip_filled(ct)
    for name, floor in (("hip_left", 0.841), ("hip_right", 0.837)):
        ks = sorted(k for k in filled if name in filled[k])
        tot_i = sum((filled[k][name] & preset_mask(name, k)).sum() for k in ks)
        tot = sum(filled[k][name].sum() + preset_mask(name, k).sum() for k in ks)
        print(f"v2 with its hip marrow filled, {name}: Dice over slices {2 * tot_i / tot:.3f}")
        assert 2 * tot_i / tot >= floor, (name, 2 * tot_i / tot)
    fem, metal = seg.mask("femur_left")[:12], seg.mask("metal")[:12]
    ts = np.asarray(load_scan(extra_data("totalseg_v1_bones_5de6e4dc") / "femur_left.nii.gz").array)[:12] > 0
    ts &= ~metal  # the model counts the screw as femur; the preset's metal is its own segment
    d = 2 * (fem & ts).sum() / (fem.sum() + ts.sum())
    print(f"femur_left by the hip screw, k 0-11: {fem.sum()} voxels, TotalSegmentator {ts.sum()}, Dice {d:.3f}")
    assert fem.sum() <= 3150 and d >= 0.45, (fem.sum(), d)


def test_v2_against_totalsegmentator_model_output(scan):
    """A third, independent reader: TotalSegmentator's 2022 masks of this very CT (model output, Apache-2.0;
    ``totalseg_v1_bones_5de6e4dc``, see that folder's README). Where the model is reliable (the neck and the
    lower head, right k 7-11) v2 agrees with it; the model's femur stops below the top of the heads (empty
    from k = 16 right, 18 left, where v2 and v1 see the head ring inside the socket) and its head centroids on
    k 12-15 lie lateral of v2 on BOTH sides (measured: left 1.2-1.8 voxels, right 2.4-2.7), a bias of the model
    (its femur loses the head's upper-medial part). Net of the left side's bias, the model would put the right
    head ~1 voxel lateral of v2's centre, i.e. between v2 (i ~86) and v1 (88.3): a residual uncertainty of
    about one voxel that no reader here resolves at 3 mm."""
    _vol, ct = scan
    folder = extra_data("totalseg_v1_bones_5de6e4dc")
    v2 = v2_slices(ct)
    ts = {n: np.asarray(load_scan(folder / f"{n}.nii.gz").array) > 0 for n in ("femur_left", "femur_right")}
    d = [
        2
        * (v2[k]["femur_right"] & ts["femur_right"][k]).sum()
        / (v2[k]["femur_right"].sum() + ts["femur_right"][k].sum())
        for k in range(7, 12)
    ]
    print("v2 vs TotalSegmentator femur_right k 7-11:", np.round(d, 2))
    assert min(d) >= 0.7, d
    assert not ts["femur_right"][16:21].any() and all(v2[k]["femur_right"].sum() >= 20 for k in range(16, 21))
    assert not ts["femur_left"][18:22].any() and all(v2[k]["femur_left"].sum() >= 15 for k in range(18, 22))
    for name, sign in (("femur_left", -1), ("femur_right", 1)):
        shift = [(_centroid(ts[name][k])[1] - _centroid(v2[k][name])[1]) * sign for k in (12, 13, 14, 15)]
        print(name, "TotalSegmentator centroid lateral of v2 (voxels):", np.round(shift, 2))
        assert all(1.0 <= s <= 3.0 for s in shift), shift


def test_v2_hip_fill_is_marrow_that_totalsegmentator_counts_as_hip_bone(scan):
    """What :func:`v2_hip_filled` adds to v2's right hip bone is the posterior column's marrow:
    hundreds of voxels (measured 472), below v2's 150 HU bone level (median 55 HU), and all inside
    TotalSegmentator's right hip bone (the third reader); the fill brings v2 closer to that reader
    (Dice 0.644 -> 0.745 on k = 7-20)."""
    _vol, ct = scan
    ts = np.asarray(load_scan(extra_data("totalseg_v1_bones_5de6e4dc") / "hip_right.nii.gz")
                    .array) > 0
    v2, filled = v2_slices(ct), v2_hip_filled(ct)
    ks = sorted(k for k in v2 if "hip_right" in v2[k])
    add = np.stack([filled[k]["hip_right"] & ~v2[k]["hip_right"] for k in ks])
    hu = ct[ks][add]
    inside_ts = (add & ts[ks]).sum()
    d = [2 * (m & ts[ks]).sum() / (m.sum() + ts[ks].sum())
         for m in (np.stack([v2[k]["hip_right"] for k in ks]), np.stack([filled[k]["hip_right"] for k in ks]))]
    print(f"right hip fill: {add.sum()} voxels, median {np.median(hu):.0f} HU, {inside_ts} in TotalSegmentator's; "
          f"v2 vs TotalSegmentator Dice {d[0]:.3f} -> {d[1]:.3f}")
    assert 300 <= add.sum() <= 700 and np.median(hu) < 150
    assert inside_ts >= 0.95 * add.sum() and d[1] >= d[0] + 0.05
