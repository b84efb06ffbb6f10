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
