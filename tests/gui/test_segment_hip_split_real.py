"""The Segment panel's "Hip bones" preset on a real CT with the sacrum in view (issue 23): the pelvis
comes as left and right hip bones and the sacrum, in one undo step, with no doubt about the split.

TotalSegmentator's example CT (optional data, ``SURGIPLAN_EXTRA_DATA``/totalseg_example_ct; skipped
when absent, in CI too): 3 mm, osteoporotic, a dynamic hip screw in the left femur."""

from __future__ import annotations

import pytest
from PySide6 import QtWidgets

from tests.gui.conftest import wait_jobs
from tests.gui.test_segment_presets import choose, click

pytestmark = [pytest.mark.gui]


def test_hip_preset_offers_hip_bones_and_sacrum(window, qtbot):
    from surgiplan.core.segmentation.scan_source import load_scan
    from tests.core.segmentation.test_anatomy_presets_real import extra_data

    vol = load_scan(extra_data("totalseg_example_ct", "example_ct.nii.gz"))
    win = window
    win.set_volume(vol)
    win.show_step("Segment")
    panel = win.panels["Segment"]
    choose(qtbot, panel.preset_combo, "hip-bones")
    assert "sacrum" in panel.preset_combo.currentText()  # the list says what the preset gives
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win, timeout_ms=600_000)
    assert win.last_error == ""
    seg = win.segmentation
    for name in ("hip_bone_left", "hip_bone_right", "sacrum", "femur_left", "femur_right"):
        assert name in seg.names and seg.mask(name).any(), seg.names
    assert "pelvis" not in seg.names
    # the segment table lists the three pieces of the pelvis
    rows = [panel.table.item(r, 1).text() if panel.table.item(r, 1) else "" for r in range(panel.table.rowCount())]
    assert all(any(n in r for r in rows) for n in ("hip_bone_left", "hip_bone_right", "sacrum")), rows
    # the split raised no doubt, and the osteoporotic femurs and sacrum (cortex below 500 HU) are
    # not mistaken for contrast-filled blood (their rims are brighter than their insides)
    assert not [d for d in panel.last_doubts if d.kind in ("split", "contrast-blood")], panel.last_doubts
    assert "pelvis kept in one piece" not in panel.seed_offer.text()
    box = win.findChild(QtWidgets.QMessageBox, "error_box")
    if box is not None:
        box.close()
    win.undo.undo()  # one undo step
    assert win.segmentation is None or "sacrum" not in win.segmentation.names
