"""Plan panel readability on the knee sample case: in 3D only the landmark chosen in the
panel carries its name (larger, yellow), the others are small dots; a click on the femur
places the chosen landmark there; the implant catalog shows every full name (wrapped rows,
full name in the tooltip). With SURGIPLAN_SCREENSHOTS set, the window is saved as
4c-landmarks.png there."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case, qt_point  # noqa: F401

pytestmark = [pytest.mark.gui]


def label_texts(actor) -> list[str]:
    """The strings a pyvista point-label actor draws."""
    alg = actor.GetMapper().GetInputAlgorithm()  # vtkPointSetToLabelHierarchy
    data = alg.GetInputDataObject(0, 0)
    arr = data.GetPointData().GetAbstractArray("labels")
    return [arr.GetValue(i) for i in range(arr.GetNumberOfValues())]


def label_anchor_point(actor) -> np.ndarray:
    """The LPS point (mm) a pyvista point-label actor writes its (single) name at."""
    data = actor.GetMapper().GetInputAlgorithm().GetInputDataObject(0, 0)
    return np.asarray(data.GetPoint(0), float)


def test_a_label_stays_beside_its_landmark_before_the_view_is_laid_out(display):
    """A 3D view not laid out yet (a few pixels high, default camera): the name's offset
    is clamped, so it cannot land far from the landmark (it once went off the screen)."""
    import pyvista as pv

    from surgiplan.gui.panels.plan_panel import LABEL_OFFSET_MAX_MM, label_anchor

    lps = np.array([-95.0, 10.0, -440.0])
    pl = pv.Plotter(off_screen=True, window_size=(4, 3))
    try:
        off = label_anchor(pl, lps, 10.0) - lps
        assert 0 < np.linalg.norm(off) <= LABEL_OFFSET_MAX_MM * np.sqrt(2) + 1e-9
        pl.window_size = (800, 600)
        pl.camera_position = [tuple(lps + [0, -400, 0]), tuple(lps), (0, 0, 1)]  # from anterior
        off = label_anchor(pl, lps, 10.0) - lps
        mm_per_px = 2 * 400 * np.tan(np.radians(pl.camera.view_angle) / 2) / 600
        assert np.allclose(np.abs(off[[0, 2]]), 10 * mm_per_px) and abs(off[1]) < 1e-9
    finally:
        pl.close()


def centre(actor) -> np.ndarray:
    b = np.asarray(actor.GetBounds()).reshape(3, 2)
    return b.mean(axis=1)


def test_only_the_chosen_landmark_is_named_and_a_click_places_it(window, qtbot, knee_case_dir):  # noqa: F811
    from surgiplan.scene.scene3d import landmark_glyphs

    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    case = win.case
    win.layout_widget.set_layout("2-up", "coronal")
    win.view3d.set_camera("anterior")
    qtbot.wait(50)
    p = win.view3d.plotter
    lms = case.all_landmarks(win.current_plan)
    assert len(lms) == 6

    plan.lm_combo.setCurrentText("lateral_epicondyle")
    qtbot.waitUntil(lambda: "landmark_labels-labels" in p.actors, timeout=3000)
    assert label_texts(p.actors["landmark_labels-labels"]) == ["Lateral epicondyle"]  # its human name
    assert np.linalg.norm(centre(p.actors["landmark_selected"]) - lms["lateral_epicondyle"].position) < 0.1
    ball = landmark_glyphs(np.zeros((1, 3)), 2.5).n_points
    assert p.actors["landmarks"].GetMapper().GetInput().GetNumberOfPoints() == 5 * ball  # the others
    # the name stands just up and right of its sphere: about 10 px, on screen
    anchor = label_anchor_point(p.actors["landmark_labels-labels"])
    d = np.subtract(qt_point(p, anchor).toTuple(), qt_point(p, lms["lateral_epicondyle"].position).toTuple())
    assert 4 <= d[0] <= 16 and -16 <= d[1] <= -4, d  # right, and up (Qt's y grows downwards)
    plan.lm_combo.setCurrentText("medial_epicondyle")
    assert label_texts(p.actors["landmark_labels-labels"]) == ["Medial epicondyle"]
    assert np.linalg.norm(centre(p.actors["landmark_selected"]) - lms["medial_epicondyle"].position) < 0.1
    plan.lm_combo.setCurrentText("no_such_landmark")
    assert "landmark_labels-labels" not in p.actors and "landmark_selected" not in p.actors
    assert p.actors["landmarks"].GetMapper().GetInput().GetNumberOfPoints() == 6 * ball

    # a click on the femur's lateral epicondyle region moves the landmark onto the surface
    from surgiplan.scene.scene3d import set_camera

    knee = lms["knee_centre_femur"].position
    set_camera(p, "anterior", bounds=np.c_[knee - 70, knee + 70].ravel())
    p.camera.Azimuth(-40)  # anterolateral: the lateral epicondyle faces the camera
    p.render()
    qtbot.wait(50)
    plan.lm_combo.setCurrentText("lateral_epicondyle")
    plan.pick3d.setChecked(True)
    femur = case.get_model("femur")
    cam = np.asarray(p.camera.position)
    found, _ = femur.ray_trace(cam, cam + 3 * (lms["lateral_epicondyle"].position - cam))
    found = np.asarray(found).reshape(-1, 3)
    target = found[np.argmin(np.linalg.norm(found - cam, axis=1))]  # surface in front of the true one
    qtbot.mouseClick(p.interactor, QtCore.Qt.MouseButton.LeftButton, pos=qt_point(p, target))
    lm = case.landmarks["lateral_epicondyle"]
    assert lm.source == "manual" and "on femur" in win.status_label.text()
    _, on = femur.find_closest_cell(lm.position, return_closest_point=True)
    assert np.linalg.norm(np.asarray(on) - lm.position) < 0.01
    assert np.linalg.norm(lm.position - target) < 3.0  # mm: where the surgeon clicked
    assert np.linalg.norm(centre(p.actors["landmark_selected"]) - lm.position) < 0.1
    plan.pick3d.setChecked(False)

    # the catalog (open on the case's anatomy, the other groups folded): every name shown in full
    # (wrapped where the panel is narrow) and in its tooltip
    plan.activated()
    tree = plan.cat_tree
    knee = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
            if tree.topLevelItem(i).isExpanded()]
    assert [g.text(0) for g in knee] == ["Knee"]  # the case's anatomy
    tree.expandAll()  # then every group, to check every name
    qtbot.wait(20)
    it = QtWidgets.QTreeWidgetItemIterator(tree)
    wrapped = shown = 0
    while it.value():
        item = it.value()
        it += 1
        if item.parent() is None:
            continue
        assert name_in_tooltip(item)
        if not item.parent().isExpanded():
            continue
        shown += 1
        name = item.text(0)
        rect = tree.visualItemRect(item)
        need = tree.fontMetrics().boundingRect(QtCore.QRect(0, 0, rect.width() - 8, 10_000),
                                               int(QtCore.Qt.TextFlag.TextWordWrap), name)
        assert need.height() <= rect.height(), name
        wrapped += need.height() > tree.fontMetrics().height() * 1.5
        assert name in item.toolTip(0) and "sizes" in item.toolTip(0)
    assert shown >= 3 and wrapped >= 1  # the longest names do not fit on one line of this panel

    folder = os.environ.get("SURGIPLAN_SCREENSHOTS")
    if folder:
        tree.scrollToItem(tree.topLevelItem(1))
        QtCore.QCoreApplication.processEvents()
        p.render()
        Path(folder).mkdir(parents=True, exist_ok=True)
        win.screen().grabWindow(win.winId()).toImage().save(str(Path(folder) / "4c-landmarks.png"))


def test_landmark_fit_button_follows_the_knee_case(window, qtbot, knee_case_dir):  # noqa: F811
    """On a knee case the fit button names the knee and fits the knee landmarks (core
    fit_knee_landmarks) as one undo step, source "fitted", near the sample's true landmarks."""
    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    case = win.case
    fit = plan.findChild(QtWidgets.QPushButton, "fit_landmarks")
    assert fit.text() == "Fit knee landmarks from the models" and "femur and tibia" in fit.toolTip()
    truth = {k: lm.position.copy() for k, lm in case.landmarks.items()}
    qtbot.mouseClick(fit, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: case.landmarks["knee_centre_femur"].source == "fitted", timeout=60_000)
    lms = case.landmarks
    fitted = {k for k, lm in lms.items() if lm.source == "fitted"}
    assert {"knee_centre_femur", "knee_centre_tibia", "medial_epicondyle", "lateral_epicondyle",
            "medial_condyle_distal", "lateral_condyle_distal", "tibial_plateau"} <= fitted
    assert lms["hip_centre"].source == "ground_truth"  # outside the knee CT: not fitted, kept
    for k in ("knee_centre_femur", "knee_centre_tibia", "medial_epicondyle", "lateral_epicondyle"):
        assert np.linalg.norm(lms[k].position - truth[k]) < 2.5, k  # mm (measured 0.4-1.5 mm)
    assert "knee landmarks fitted on the models" in win.status_label.text()  # on_done said it
    win.undo.undo()  # one step: the ground-truth landmarks come back
    assert case.landmarks["knee_centre_femur"].source == "ground_truth"
    assert np.array_equal(case.landmarks["knee_centre_femur"].position, truth["knee_centre_femur"])


def name_in_tooltip(item) -> bool:
    """A catalog entry's tooltip repeats its full name and lists its sizes."""
    return item.text(0) in item.toolTip(0) and "sizes" in item.toolTip(0)
