"""Knee plans in the real window: the depth typed in the Resections group moves the femoral
component with its cut (one undo step), and a knee plan offers no hip tools, with human names."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case, place_knee_plan  # noqa: F401

pytestmark = [pytest.mark.gui]


def test_typed_distal_depth_moves_the_femoral_component(window, qtbot, knee_case_dir):  # noqa: F811
    from surgiplan.core.planning.knee_cuts import knee_frame

    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    assert plan.resection_box.isVisible()
    assert not plan.hip_angles_box.isVisible() and not plan.hip_sizes_box.isVisible()
    assert not plan.spine_box.isVisible()
    assert plan.lm_combo.itemText(plan.lm_combo.findData("knee_centre_femur")) == "Knee centre (femur)"
    place_knee_plan(win)
    plan.refresh()
    case = win.case
    rs = plan.resections
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("distal_femur"))
    rs.refresh()
    before = case.implant("A", "femoral").transform.copy()
    depth = rs.fields["depth"]
    assert depth.value() == pytest.approx(9.0, abs=0.05)
    n = len(case.history._undo)
    qtbot.mouseClick(depth.lineEdit(), QtCore.Qt.MouseButton.LeftButton)
    qtbot.keyClick(depth.lineEdit(), QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(depth.lineEdit(), "11")
    qtbot.keyClick(depth.lineEdit(), QtCore.Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(case.history._undo) == n + 1, timeout=10_000)
    after = case.implant("A", "femoral").transform
    axis = knee_frame(case.all_landmarks("A"), "right").femoral_axis
    # 2 mm more bone off: the component 2 mm proximal along the femoral mechanical axis, same orientation
    np.testing.assert_allclose(after[:3, 3] - before[:3, 3], 2.0 * axis, atol=1e-6)
    np.testing.assert_allclose(after[:3, :3], before[:3, :3], atol=1e-9)
    assert [plan.implant_combo.itemText(i) for i in range(plan.implant_combo.count())] == [
        "Femoral", "Tray", "Insert"]
    case.history.undo()
    np.testing.assert_allclose(case.implant("A", "femoral").transform, before, atol=1e-12)
