"""Plan panel: a click on a bone model in the 3D view (real Qt mouse events on the VTK
interactor, VTK cell picker on the real render) places the chosen landmark on the
surface under the mouse - checked against a ray cast on the models - and undo restores."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case, qt_point  # noqa: F401

pytestmark = [pytest.mark.gui]


def test_click_on_the_femur_places_the_landmark_on_its_surface(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    case = win.case
    win.layout_widget.set_layout("1-up", "3d")
    qtbot.wait(50)
    p = win.view3d.plotter
    win.view3d.set_camera("anterior")
    qtbot.wait(50)
    old = case.landmarks["lateral_epicondyle"].position.copy()
    plan.lm_combo.setCurrentText("lateral_epicondyle")
    plan.pick3d.setChecked(True)

    femur = case.get_model("femur")
    pts = np.asarray(femur.points)
    target = pts[pts[:, 2] > pts[:, 2].max() - 25].mean(axis=0)  # inside the proximal shaft
    pos = qt_point(p, target)
    qtbot.mouseClick(p.interactor, QtCore.Qt.MouseButton.LeftButton, pos=pos)
    lm = case.landmarks["lateral_epicondyle"]
    assert not np.allclose(lm.position, old)
    assert lm.source == "manual" and np.allclose(win.state.crosshair_world(), lm.position, atol=1.0)

    # ground truth: the first model surface along the camera ray through the clicked point
    cam = np.asarray(p.camera.position)
    end = cam + 3 * (target - cam)
    hits = []
    for name in case.model_names:
        found, _ = case.get_model(name).ray_trace(cam, end, first_point=True)
        if len(found):
            hits.append((np.linalg.norm(np.asarray(found) - cam), name, np.asarray(found)))
    dist, name, first = min(hits, key=lambda h: h[0])
    assert name == "femur"
    assert np.linalg.norm(lm.position - first) < 1.0  # within a pixel's footprint
    _, closest = femur.find_closest_cell(lm.position, return_closest_point=True)
    assert np.linalg.norm(np.asarray(closest) - lm.position) < 0.01  # on the surface

    # a drag turns the camera and places nothing
    before = lm.position.copy()
    qtbot.mousePress(p.interactor, QtCore.Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseMove(p.interactor, pos + QtCore.QPoint(40, 0))
    qtbot.mouseRelease(p.interactor, QtCore.Qt.MouseButton.LeftButton, pos=pos + QtCore.QPoint(40, 0))
    assert np.array_equal(case.landmarks["lateral_epicondyle"].position, before)

    win.undo.undo()
    assert np.allclose(case.landmarks["lateral_epicondyle"].position, old)
    plan.pick3d.setChecked(False)
    assert win.view3d._click_cb is None
