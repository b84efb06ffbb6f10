"""Segment panel: "Seeds anywhere inside (CT)" separates a merged femur + pelvis of the hip sample
from seeds clicked with the mouse in the middle of each bone (cancellous bone, not cortex), one
undo step; the anatomy doubts of a preset's result are said."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from tests.gui.conftest import wait_jobs
from tests.gui.test_segment_tools import LEFT, click_seeds, dice, hip, merged_hip, with_segment  # noqa: F401

pytestmark = [pytest.mark.gui]


def test_seeds_anywhere_inside_separate_femur_and_pelvis(window, hip, qtbot):  # noqa: F811
    win = window
    vol, lab, gt = hip
    pelvis, femur, merged = merged_hip(vol, lab)
    seg, panel = with_segment(win, vol, "bone", merged)
    panel.sep_method.setCurrentIndex(panel.sep_method.findData("anywhere"))
    in_pelvis = click_seeds(qtbot, win, panel, vol, pelvis, gt)
    head = np.asarray(gt["femoral_head_centre_right"]["position"])
    for lps in (head, in_pelvis):  # both seeds sit in cancellous bone, well below cortex
        kji = tuple(np.round(vol.world_to_index(np.array([lps]))[0][::-1]).astype(int))
        assert vol.array[kji] < 700
    qtbot.mouseClick(panel.findChild(type(panel.sep_seed_btn), "separate"), LEFT)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert sorted(seg.names) == ["femur_right", "pelvis"]
    assert dice(seg.mask("femur_right"), femur) > 0.95
    assert dice(seg.mask("pelvis"), pelvis) > 0.95
    win.undo.undo()  # one undo step gives the merged bone back
    assert seg.names == ["bone"] and np.array_equal(seg.mask("bone"), merged)


def test_preset_doubts_include_anatomy(window, hip):  # noqa: F811
    from surgiplan.core.segmentation import Segmentation

    vol, lab, _ = hip
    seg = Segmentation.from_volume(vol)
    tiny = np.zeros(vol.array.shape, bool)
    tiny[tuple(s // 2 for s in vol.array.shape)] = True
    seg.add_segment("femur_left", tiny)
    doubts = window.panels["Segment"].check_plausible(seg, ["femur_left"])
    assert [d.kind for d in doubts] == ["volume"]
    box = window.findChild(QtWidgets.QMessageBox, "error_box")
    assert box is not None and box.isVisible() and not box.isModal()  # says it, blocks nothing
    assert "'femur_left'" in box.text() and "seed" in box.text()
    box.close()
