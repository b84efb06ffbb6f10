"""Segment panel presets with real clicks (issue 28, bug 4 and bug 7's audit log): a preset
added to the existing segments (one undo step, exact), the plausibility warning after
"All bone" takes a contrast-filled vessel, the default preset following the scan, and the
case's audit log recording presets and thresholds with their details."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from surgiplan.core.imaging import Volume
from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
LEFT = QtCore.Qt.MouseButton.LeftButton


def scan(metadata=None, vessel: bool = False) -> Volume:
    """The window tests' phantom (water body, bone ball), optionally with a contrast-filled
    vessel (350 HU tube, 16 mm radius) in the water, on the patient's left."""
    from tests.gui.test_window import phantom

    vol = phantom()
    if vessel:
        k, j, i = np.mgrid[0:40, 0:64, 0:64]
        vol.array[(i - 44) ** 2 + (j - 36) ** 2 < 64] = 350
    vol.metadata.update(metadata or {})
    return vol


def choose(qtbot, combo: QtWidgets.QComboBox, data) -> None:
    """Pick the item with ``data`` as a user does: click the combo open, move to the item with
    the arrow keys, press Enter."""
    qtbot.mouseClick(combo, LEFT)
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    target = combo.findData(data)
    assert target >= 0
    key = QtCore.Qt.Key.Key_Down if target > view.currentIndex().row() else QtCore.Qt.Key.Key_Up
    while view.currentIndex().row() != target:
        qtbot.keyClick(view, key)
    qtbot.keyClick(view, QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentData() == data


def click(qtbot, win, name: str) -> None:
    b = win.findChild(QtWidgets.QPushButton, name)
    assert b is not None and b.isVisible(), name
    qtbot.mouseClick(b, LEFT)


def layers(seg):
    return [lay.copy() for lay in seg.layers], list(seg.names)


def test_preset_added_to_existing_segments_and_one_undo_restores(window, qtbot):
    win = window
    win.set_volume(scan())
    win.show_step("Segment")
    panel = win.panels["Segment"]
    panel.lo.setValue(-200.0)
    panel.hi.setValue(100.0)
    click(qtbot, win, "threshold_apply")  # threshold_1: the water body
    seg = win.segmentation
    water = seg.mask("threshold_1").copy()
    assert water.any()
    before = layers(seg)
    choose(qtbot, panel.preset_combo, "bone")
    choose(qtbot, panel.preset_mode, "add")
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    assert win.segmentation is seg and seg.names == ["threshold_1", "bone"]
    assert np.array_equal(seg.mask("threshold_1"), water)  # kept: "keep other segments"
    ball = win.volume.array >= 200
    assert seg.mask("bone")[ball].all()
    assert [r for r in range(panel.table.rowCount())] and panel.table.item(1, 1).text() == "bone"
    click(qtbot, win, "apply_preset")  # the same preset again: a unique name, nothing taken
    wait_jobs(qtbot, win)
    assert seg.names == ["threshold_1", "bone", "bone_2"] and not seg.mask("bone_2").any()
    win.undo.undo_action.trigger()
    win.undo.undo_action.trigger()  # one undo step per preset
    after = layers(seg)
    assert after[1] == before[1] and all(np.array_equal(a, b) for a, b in zip(after[0], before[0], strict=True))
    win.undo.redo_action.trigger()
    assert seg.names == ["threshold_1", "bone"] and seg.mask("bone")[ball].all()
    assert np.array_equal(seg.mask("threshold_1"), water)
    # replace stays the default behaviour when chosen: the preset's segments only
    choose(qtbot, panel.preset_mode, "replace")
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    assert win.segmentation.names == ["bone"]
    win.undo.undo_action.trigger()
    assert win.segmentation is seg and seg.names == ["threshold_1", "bone"]


def test_all_bone_over_a_contrast_vessel_is_doubted_in_words(window, qtbot):
    win = window
    win.set_volume(scan({"ContrastBolusAgent": "Iodinated"}, vessel=True))
    win.show_step("Segment")
    panel = win.panels["Segment"]
    choose(qtbot, panel.preset_combo, "bone")
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    doubts = panel.last_doubts
    # the vessel (no cortex rim, joined to the bone) now leaves 'bone' for a 'contrast' segment and the
    # preset says so (contrast_organs.attached_pools); 'bone' used to hold it, doubted as contrast blood
    assert len(doubts) == 1 and doubts[0].kind == "split" and "touching bone" in doubts[0].message
    assert not [d for d in doubts if d.kind == "contrast-blood"]
    box = win.findChild(QtWidgets.QMessageBox, "error_box")
    assert box is not None and box.isVisible() and not box.isModal()  # says it, blocks nothing
    text = box.text()
    assert "'bone'" in text and "'contrast'" in text and "mL" in text and "merge" in text
    box.close()


def test_default_preset_follows_the_scan(window, qtbot):
    win = window
    panel = win.panels["Segment"]
    win.set_volume(scan({"study_description": "CT THORAX WITH CONTRAST", "body_part": "CHEST"}))
    assert panel.preset_combo.currentData() == "bone"  # not hip bones on a chest CT
    win.set_volume(scan({"sample": "spine"}))
    assert panel.preset_combo.currentData() == "spine-bones"
    win.set_volume(scan({"series_description": "KNEE 1.0 B60s"}))
    assert panel.preset_combo.currentData() == "knee-bones"
    win.set_volume(scan())
    assert panel.preset_combo.currentData() == "bone"


def test_audit_log_records_preset_and_threshold_with_details(window, qtbot):
    win = window
    win.set_volume(scan())
    win.show_step("Segment")
    panel = win.panels["Segment"]
    choose(qtbot, panel.preset_combo, "bone")
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    panel.lo.setValue(-200.0)
    panel.hi.setValue(100.0)
    click(qtbot, win, "threshold_apply")
    log = win.case.audit_log()
    pre = [e for e in log if e.get("preset") == "bone"]
    assert len(pre) == 1 and pre[0]["what"] == "preset bone" and pre[0]["segments"] == ["bone"]
    assert pre[0]["voxels"]["bone"] == int(np.count_nonzero(win.segmentation.mask("bone"))) > 0
    thr = [e for e in log if "lower_hu" in e]
    assert len(thr) == 1 and thr[0]["lower_hu"] == -200.0 and thr[0]["upper_hu"] == 100.0
    assert thr[0]["segments"] == ["threshold_1"] and thr[0]["overwrite"] == "none"
    assert thr[0]["voxels"]["threshold_1"] == int(np.count_nonzero(win.segmentation.mask("threshold_1")))
