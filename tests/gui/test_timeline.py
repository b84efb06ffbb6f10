"""The Data step's timeline in the real window: a case with its planning scan and the post-op
spine scan lists both; "Register B" registers the post-op scan as `surgiplan case register` does
(the same core call: same transform); "Show A and B" shows the pair fused / as a checkerboard /
as their difference, the picture the core's ``timeline_pair`` makes."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
SCAN = "post-op-2026-03-02"


@pytest.fixture
def post_op_case(tmp_path):
    from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
    from surgiplan.core.twin import add_later_scan

    pp = postop_sample_path("spine")
    case = build_planning_case("spine", tmp_path / "Case", models=False)
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    case.save()
    return case.root, pp


def test_timeline_registers_and_shows_two_timepoints(window, qtbot, post_op_case, tmp_path):
    from PySide6 import QtCore

    from surgiplan.core.case import Case
    from surgiplan.core.twin import register_scan, scan_to_planning
    from surgiplan.core.twin.overlay import timeline_pair

    root, pp = post_op_case
    win = window
    data = win.panels["Data"]
    data.open_case(root)
    wait_jobs(qtbot, win)
    tl = data.timeline
    assert tl.list.topLevelItemCount() == 2
    assert [tl.list.topLevelItem(i).text(3) for i in range(2)] == ["yes", "no"]
    assert tl.a_combo.currentText() == "planning" and tl.b_combo.currentText() == SCAN
    tl.bone_combo.setCurrentIndex(tl.bone_combo.findText("L3"))
    qtbot.mouseClick(tl.picture.parent().findChild(type(data.load_button), "timeline_register"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert tl.list.topLevelItem(1).text(3) == "yes"
    found = scan_to_planning(win.case, SCAN)
    truth = np.array(pp.load_ground_truth()["scan_to_planning"])
    assert np.abs(found - truth).max() < 0.5
    # parity: the CLI's core call on a copy of the case gives the same transform
    other = Case.open(root)
    assert np.allclose(register_scan(other, SCAN, "L3").scan_to_planning, found, atol=1e-6)
    for mode in ("fused", "checkerboard", "difference"):
        tl.mode_combo.setCurrentIndex(tl.mode_combo.findData(mode))
        qtbot.mouseClick(tl.picture.parent().findChild(type(data.load_button), "timeline_show"),
                         QtCore.Qt.MouseButton.LeftButton)
        wait_jobs(qtbot, win)
        assert np.array_equal(tl.last_rgb, timeline_pair(win.case, "planning", SCAN, mode))
        assert not tl.picture.pixmap().isNull()
    rgb = tl.last_rgb  # the difference of registered scans: mostly mid-grey where both show anatomy
    assert rgb.shape[2] == 3 and rgb.std() > 1
    data.ensureWidgetVisible(tl.picture)
    qtbot.wait(100)
    win.grab().save(str(tmp_path / "timeline.png"))
