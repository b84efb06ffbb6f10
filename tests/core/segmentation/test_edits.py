"""Segment edits (core/segmentation/edits.py): overwrite policies and exact undo/redo.

The window's "New segment from threshold" on the contrast CT took the vessel's voxels and
Ctrl+Z gave them back to nobody (issue 28); these tests pin the core behaviour.
"""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation
from surgiplan.core.segmentation.edits import (
    SegmentationEdit,
    add_segment,
    apply_parts,
    threshold_to_segment,
)
from surgiplan.core.undo import History


@pytest.fixture()
def scan_and_seg():
    rng = np.random.default_rng(28)
    arr = rng.integers(-100, 100, (20, 24, 24)).astype(np.int16)
    arr[5:15, 6:18, 6:18] = 400  # contrast-filled "vessel" box, also inside the 200..3000 window
    arr[8:12, 9:15, 9:15] = 1200  # "bone" inside it
    vol = Volume(arr, (1.0, 1.0, 1.5), (0.0, 0.0, 0.0))
    seg = Segmentation.from_volume(vol)
    seg.add_segment("vessel", arr >= 300)
    return vol, seg


def _state(seg):
    return [lay.copy() for lay in seg.layers], [s.name for s in seg.segments]


@pytest.mark.parametrize("policy, vessel_keeps", [("none", True), ("all", False), (["other"], True),
                                                  (["vessel"], False)])
def test_threshold_policy_and_exact_undo(scan_and_seg, policy, vessel_keeps):
    vol, seg = scan_and_seg
    vessel0 = seg.mask("vessel").copy()
    layers0, names0 = _state(seg)
    h = History()
    edit = threshold_to_segment(seg, vol, 200, 3000, overwrite=policy)
    h.push(edit)
    new = edit.after[-1].name
    assert new == "threshold_1" and new in seg.names
    assert np.array_equal(seg.mask("vessel"), vessel0) == vessel_keeps
    if vessel_keeps:  # the new segment got only unlabelled voxels
        assert not (seg.mask(new) & vessel0).any()
    else:
        assert seg.mask(new)[vessel0].all() and not seg.mask("vessel").any()
    layers1, names1 = _state(seg)
    h.undo()  # every voxel back, also those the new segment took
    assert [s.name for s in seg.segments] == names0
    assert all(np.array_equal(a, b) for a, b in zip(seg.layers, layers0, strict=True))
    h.redo()
    assert [s.name for s in seg.segments] == names1
    assert all(np.array_equal(a, b) for a, b in zip(seg.layers, layers1, strict=True))


def test_an_edit_that_adds_a_layer_undoes_and_redoes_it(scan_and_seg):
    _vol, seg = scan_and_seg
    overlap = seg.mask("vessel").copy()
    edit = SegmentationEdit.record(seg, lambda: seg.add_segment("lumen", overlap, overlap="layer"),
                                   "lumen as a layer")
    assert len(seg.layers) == 2 and edit.added
    edit.revert()
    assert len(seg.layers) == 1 and seg.names == ["vessel"]
    edit.apply()
    assert len(seg.layers) == 2 and np.array_equal(seg.mask("lumen"), overlap)
    assert np.array_equal(seg.mask("vessel"), overlap)


def test_separation_merge_is_one_exact_step(scan_and_seg):
    _vol, seg = scan_and_seg
    m = seg.mask("vessel")
    left = m.copy()
    left[:, :, 12:] = False
    layers0, names0 = _state(seg)
    edit = apply_parts(seg, "vessel", {"vessel_left": left})
    assert np.array_equal(seg.mask("vessel_left"), left)
    assert np.array_equal(seg.mask("vessel"), m & ~left)
    edit.revert()
    assert [s.name for s in seg.segments] == names0
    assert np.array_equal(seg.layers[0], layers0[0])


def test_a_failing_change_leaves_the_segmentation_as_it_was(scan_and_seg):
    _vol, seg = scan_and_seg
    layers0, names0 = _state(seg)
    with pytest.raises(InputError):
        add_segment(seg, "vessel", seg.mask("vessel"))  # the name exists
    with pytest.raises(InputError, match="overwrite policy"):
        add_segment(seg, "x", seg.mask("vessel"), overwrite="some")
    assert [s.name for s in seg.segments] == names0 and np.array_equal(seg.layers[0], layers0[0])


# ------------------------------------------- issue 28 bug 4: presets added, doubted, suggested
def test_merge_segmentation_keeps_existing_renames_clashes_and_undoes_exactly(scan_and_seg):
    from surgiplan.core.segmentation.edits import merge_segmentation

    vol, seg = scan_and_seg
    layers0, names0 = _state(seg)
    other = Segmentation.from_volume(vol)
    other.add_segment("vessel", vol.array >= 1000)  # clashes with the existing "vessel"
    other.add_segment("femur_left", (vol.array < 0))
    h = History()
    edit = merge_segmentation(seg, other, overwrite="none")
    h.push(edit)
    assert seg.names == ["vessel", "vessel_2", "femur_left"] and edit.renamed == {"vessel": "vessel_2"}
    assert np.array_equal(seg.mask("vessel"), layers0[0] == 1)  # kept every voxel
    assert not seg.mask("vessel_2").any()  # its voxels all belong to "vessel" (policy none)
    assert np.array_equal(seg.mask("femur_left"), vol.array < 0)
    h.undo()
    assert seg.names == names0 and all(np.array_equal(a, b) for a, b in zip(seg.layers, layers0, strict=True))
    h.redo()
    assert seg.names == ["vessel", "vessel_2", "femur_left"]
    h.undo()
    edit = merge_segmentation(seg, other, overwrite="all")
    assert np.array_equal(seg.mask("vessel_2"), vol.array >= 1000)
    assert not (seg.mask("vessel") & seg.mask("vessel_2")).any()
    edit.revert()
    assert all(np.array_equal(a, b) for a, b in zip(seg.layers, layers0, strict=True))
    with pytest.raises(InputError):
        merge_segmentation(seg, Segmentation.from_volume(Volume(np.zeros((2, 2, 2), np.int16), (1.0, 1.0, 1.0))))


def _body_with_bone(vessel: bool, contrast_meta: bool = False):
    """A water body (40 HU, noise) with a femur-like bone (1200 HU cortex 3 mm, textured 150-450 HU
    cancellous inside) and optionally a contrast-filled vessel (350 HU tube, 12 mm radius)."""
    rng = np.random.default_rng(4)
    shape = (60, 80, 80)
    k, j, i = np.mgrid[0:shape[0], 0:shape[1], 0:shape[2]]
    arr = (40 + rng.normal(0, 15, shape)).astype(np.float32)
    arr[((i - 40) / 38) ** 2 + ((j - 40) / 38) ** 2 >= 1] = -1000
    r = np.hypot(i - 25, j - 40)
    arr[r < 14] = 1200 + rng.normal(0, 60, shape)[r < 14]
    inner = r < 11
    arr[inner] = 300 + rng.normal(0, 80, shape)[inner]  # trabecular texture, same HU as contrast
    if vessel:
        t = np.hypot(i - 58, j - 40) < 12
        arr[t] = 350 + rng.normal(0, 15, shape)[t]
    md = {"ContrastBolusAgent": "Iodinated"} if contrast_meta else {}
    return Volume(arr.astype(np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), metadata=md)


@pytest.mark.parametrize("contrast_meta", [False, True])
def test_plausibility_flags_a_contrast_vessel_labelled_bone_not_real_bone(contrast_meta):
    from surgiplan.core.segmentation.morphology import fill_holes
    from surgiplan.core.segmentation.plausibility import check_bone_segments
    from surgiplan.core.segmentation.threshold import threshold

    for vessel in (False, True):
        vol = _body_with_bone(vessel, contrast_meta)
        seg = Segmentation.from_volume(vol)
        seg.add_segment("bone", fill_holes(threshold(vol, 200, None)))  # "All bone": >= 200 HU, filled
        seg.add_segment("vessel_lumen", np.zeros(seg.shape, bool))  # not bone: never checked
        doubts = check_bone_segments(vol, seg)
        if not vessel:
            assert doubts == []  # the cancellous bone is inside its cortex
            continue
        assert [(d.segment, d.kind) for d in doubts] == [("bone", "contrast-blood")]
        tube_ml = np.pi * 12 ** 2 * 60 / 1000
        assert 0.8 * tube_ml < doubts[0].volume_ml < 1.1 * tube_ml
        msg = doubts[0].message
        assert "'bone'" in msg and f"{doubts[0].volume_ml:.1f} mL" in msg and "threshold" in msg
        assert ("contrast scan" in msg) == contrast_meta


def test_plausibility_doubts_a_bone_volume_beyond_the_body():
    from surgiplan.core.segmentation.plausibility import check_bone_segments

    vol = _body_with_bone(False)
    seg = Segmentation.from_volume(vol)
    seg.add_segment("femur_left_2", vol.array > -500)  # the whole body as "bone" (an MR in "HU")
    kinds = [d.kind for d in check_bone_segments(vol, seg)]
    assert "too-large" in kinds


def test_suggest_preset_follows_the_scan_and_defaults_to_all_bone():
    from surgiplan.core.segmentation.presets import suggest_preset

    assert suggest_preset({"body_part": "CHEST", "study_description": "CT THORAX"}) == "bone"
    assert suggest_preset({}) == suggest_preset(None) == "bone"
    assert suggest_preset({"sample": "hip"}) == "hip-bones"
    assert suggest_preset({"sample": "vascular"}) == "vessel"
    assert suggest_preset({"BodyPartExamined": "LSPINE"}) == "spine-bones"
    assert suggest_preset({"study_description": "CTA ABDOMINAL AORTA"}) == "vessel"
    assert suggest_preset({"series_description": "PELVIS 1.0 B60"}) == "hip-bones"
    assert suggest_preset({"body_part": "KNEE"}) == "knee-bones"
