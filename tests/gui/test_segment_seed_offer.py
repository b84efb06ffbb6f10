"""Segment panel offers seeds when a preset is unsure (issue 23): a refused preset leaves all bone
as one segment and switches the separation to "Seeds anywhere inside (CT)" with the preset's bones
listed; a doubted result says what it doubts and offers the same, and real seed clicks then split
the hip sample's merged femur and pelvis (Dice > 0.95 against the sample's labels)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtWidgets

from surgiplan.core.segmentation.seeded import seed_targets
from tests.gui.conftest import wait_jobs
from tests.gui.test_segment_presets import choose, click, scan
from tests.gui.test_segment_tools import LEFT, click_seeds, dice, hip, merged_hip, with_segment  # noqa: F401

pytestmark = [pytest.mark.gui]


def test_refused_preset_offers_seeds_for_its_bones(window, qtbot):
    """hip-bones on the window phantom (a bone ball, no femoral head): refused, so all bone is
    one segment (one undo step) and the panel asks for seeds in femur_left, femur_right, pelvis."""
    win = window
    win.set_volume(scan())
    win.show_step("Segment")
    panel = win.panels["Segment"]
    assert panel.sep_method.currentData() != "anywhere" and not panel.seed_offer.isVisible()
    choose(qtbot, panel.preset_combo, "hip-bones")
    click(qtbot, win, "apply_preset")
    wait_jobs(qtbot, win)
    seg = win.segmentation
    assert seg.names == ["bone"] and seg.mask("bone").any()
    assert panel.selected_segment() == "bone"
    assert panel.sep_method.currentData() == "anywhere"
    text = panel.seed_offer.text()
    assert panel.seed_offer.isVisible()
    assert "no femoral head" in text  # the core's reason, not a generic one
    for bone in seed_targets("hip-bones"):
        assert bone in text
    items = [panel.target_combo.itemText(n) for n in range(panel.target_combo.count())]
    assert items[:3] == ["femur_left", "femur_right", "pelvis"]
    assert panel.target_combo.currentText() == "femur_left"
    win.undo.undo()  # the fallback is one undo step
    assert win.segmentation is None or not win.segmentation.names


def test_doubted_result_offers_seeds_and_clicked_seeds_split(window, hip, qtbot):  # noqa: F811
    """A result with a 1-voxel femur_right and the femur inside 'pelvis': the panel says the doubt,
    offers seeds; seeds clicked in the femoral head and the pelvis, Separate clicked: Dice > 0.95."""
    win = window
    vol, lab, gt = hip
    pelvis, femur, merged = merged_hip(vol, lab)
    tiny = np.zeros(vol.array.shape, bool)
    tiny[tuple(np.argwhere(femur)[0])] = True
    seg, panel = with_segment(win, vol, "pelvis", merged & ~tiny)
    seg.add_segment("femur_right", tiny)
    win.set_segmentation(seg)
    panel.table.selectRow(seg.names.index("pelvis"))
    doubts = panel.check_plausible(seg, ["pelvis", "femur_right"])
    assert any(d.segment == "femur_right" for d in doubts)
    box = win.findChild(QtWidgets.QMessageBox, "error_box")
    if box is not None:
        box.close()
    assert panel.sep_method.currentData() == "anywhere"
    assert "femur_right" in panel.seed_offer.text() and "Separate" in panel.seed_offer.text()
    click_seeds(qtbot, win, panel, vol, pelvis, gt)
    qtbot.mouseClick(panel.findChild(type(panel.sep_seed_btn), "separate"), LEFT)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert dice(seg.mask("femur_right"), femur) > 0.95
    assert dice(seg.mask("pelvis"), pelvis) > 0.95
