"""The spine Plan panel in the real window: a real mouse click on a vertebra places a pedicle screw
snapped to that level's pedicle (core ``snap_screw``), with its breach; level labels in 3D; the
panel offers no hip or knee tools."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.conftest import wait_jobs
from tests.gui.plan_case import qt_point

pytestmark = [pytest.mark.gui]


@pytest.fixture(scope="session")
def spine_case_template(tmp_path_factory) -> Path:
    """A saved spine sample case (L1..L5, sacrum) with the sample's pedicle entries and axes."""
    from surgiplan.core.samples import sample_path
    from surgiplan.demo.sample_case import build_sample_case

    root = tmp_path_factory.mktemp("spine-plan") / "spine-case"
    case, *_ = build_sample_case("spine", root)
    gt = sample_path("spine", size="small").load_ground_truth()
    for lv in ("L3", "L4"):
        case.set_landmark(f"vertebral_body_centre_{lv}", gt["landmarks"][f"vertebral_body_centre_{lv}"]["position"])
        for s in ("left", "right"):
            e = gt["landmarks"][f"pedicle_entry_{lv}_{s}"]["position"]
            case.set_landmark(f"pedicle_entry_{lv}_{s}", e)
            case.set_landmark(f"pedicle_axis_{lv}_{s}", e, gt["axes"][f"pedicle_axis_{lv}_{s}"]["direction"])
    case.new_plan("A")
    case.save()
    return root


def test_a_click_on_a_vertebra_places_a_snapped_screw(window, qtbot, spine_case_template, tmp_path):
    from surgiplan.core.planning import transforms as tf
    from surgiplan.core.samples import sample_path

    root = tmp_path / "spine-case"
    shutil.copytree(spine_case_template, root)
    win = window
    win.open_path(root)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    win.view3d.ensure_plotter()
    win.show_step("Plan")
    plan = win.panels["Plan"]
    win.layout_widget.set_layout("1-up", "3d")
    win.view3d.show_volume(win.state.volume, "off")
    plan.refresh()
    # a spine plan: screws, no cup angles, no knee cuts, no hip landmarks
    assert plan.spine_box.isVisible() and not plan.hip_angles_box.isVisible() and not plan.resection_box.isVisible()
    assert not any("acetabular" in k for k in plan.lm_combo.keys())
    p = win.view3d.plotter
    qtbot.waitUntil(lambda: "spine_levels-labels" in p.actors, timeout=5000)
    gt = sample_path("spine", size="small").load_ground_truth()
    c = np.asarray(gt["landmarks"]["vertebral_body_centre_L3"]["position"])
    p.camera_position = [tuple(c + np.array([-160.0, 380.0, 120.0])), tuple(c), (0, 0, 1)]  # posterior-right
    p.reset_camera_clipping_range()
    p.render()
    qtbot.wait(100)
    plan.spine.pick.setChecked(True)
    e = np.asarray(gt["landmarks"]["pedicle_entry_L3_left"]["position"])
    n = len(win.case.history._undo)
    qtbot.mouseClick(p.interactor, QtCore.Qt.MouseButton.LeftButton, pos=qt_point(p, e))
    qtbot.waitUntil(lambda: "screw_L3_left" in win.case.plan("A").implants, timeout=120_000)
    wait_jobs(qtbot, win)
    imp = win.case.plan("A").implants["screw_L3_left"]
    assert (imp.bone, imp.side) == ("L3", "left") and len(win.case.history._undo) == n + 1
    np.testing.assert_allclose(imp.transform[:3, 3], e, atol=1e-9)  # on the pedicle entry, not the click
    assert tf.angle_between_deg(imp.transform[:3, 2], gt["axes"]["pedicle_axis_L3_left"]["direction"]) < 1e-6
    assert "grade A" in plan.spine.readout.text() and "breach 0.0 mm" in plan.spine.readout.text()
    assert win.key_strip.text_of("Worst breach") is not None
    assert plan.implant_combo.currentText() == "Screw L3 (left)"
    win.case.history.undo()
    assert "screw_L3_left" not in win.case.plan("A").implants
