"""The issue's workflow in the real window, on the hip sample scan:

open the hip sample from the DICOM browser -> segment the bones with the preset ->
build models -> fit landmarks, place a cup and a stem -> move the cup with the
numeric fields (measurements update) -> undo -> a second plan -> Compare.
Screenshots of each step are checked for content (and saved to
``$SURGIPLAN_SCREENSHOTS`` when set, for the documentation).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui, pytest.mark.slow]


def save_shot(win, name: str, tmp_path: Path) -> np.ndarray:
    """Grab the whole window (3D included), save it, return it as an RGB array."""
    folder = Path(os.environ.get("SURGIPLAN_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    QtCore.QCoreApplication.processEvents()
    win.repaint()
    for v in [win.view3d, *getattr(win.panels["Compare"].view, "views", [])]:
        if v.plotter is not None:
            v.plotter.render()
    img = win.screen().grabWindow(win.winId()).toImage()
    img.save(str(folder / f"{name}.png"))
    img = img.convertToFormat(img.Format.Format_RGB888)
    arr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
    return arr.reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].reshape(
        img.height(), img.width(), 3)


def not_blank(rgb: np.ndarray) -> float:
    """Fraction of pixels that differ clearly from the view's median (background) colour."""
    med = np.median(rgb.reshape(-1, 3), axis=0)
    return float(np.mean(np.abs(rgb.astype(int) - med).sum(axis=2) > 60))


def world_to_display(plotter, lps) -> tuple[int, int]:
    """Pixel (x from the left, y from the top) of an LPS point in a pyvista view."""
    import vtk

    c = vtk.vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*map(float, lps))
    x, y = c.GetComputedDoubleDisplayValue(plotter.renderer)
    h = plotter.window_size[1]
    return int(round(x)), int(round(h - 1 - y))


def check_cli_parity(win, tmp_path) -> None:
    """The window fitted the landmarks and placed the implants that ``surgiplan case
    fit-landmarks --json`` and ``plan place --start --json`` give on a copy of the same case."""
    import json
    import shutil

    from tests.core.case.case_faults import cli

    win.case.save()
    twin = tmp_path / "cli-twin"
    shutil.copytree(win.case.root, twin)
    r = cli("case", "fit-landmarks", twin, "--anatomy", "hip", "--plan", "Plan A", "--json")
    assert r.returncode == 0, r.stderr
    for name, lm in json.loads(r.stdout).items():
        np.testing.assert_allclose(lm["position"], win.case.landmarks[name].position, atol=1e-9)
    assert r.returncode == 0 and "P" not in win.case.plans
    assert cli("plan", "new", twin, "P").returncode == 0
    for cid, size, iid in (("hip_cup", "52", "acetabular_cup"), ("hip_stem_standard", "3", "femoral_stem")):
        r = cli("plan", "place", twin, "P", iid, "--implant", cid, "--size", size, "--side", "right",
                "--start", "--json")
        assert r.returncode == 0, r.stderr
        d, shown = json.loads(r.stdout), win.case.plan("Plan A").implants[iid]
        np.testing.assert_allclose(d["transform"], shown.transform, atol=1e-9)
        assert (d["bone"], d["options"], d["side"]) == (shown.bone, shown.options, shown.side)


def test_hip_workflow_from_dicom_to_comparison(window, qtbot, tmp_path):
    win = window
    from surgiplan.core.samples import sample_path

    gt = sample_path("hip").load_ground_truth()
    head_r = np.asarray(gt["landmarks"]["femoral_head_centre_right"]["position"])

    # 1. Data: the hip sample through the DICOM browser --------------------------------
    data = win.panels["Data"]
    data.sample_combo.setCurrentIndex(data.sample_combo.findData("hip"))
    qtbot.mouseClick(data.findChild(type(data.load_button), "open_sample"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert win.state.volume is not None and win.state.volume.metadata.get("modality") == "CT"
    series = data.tree.topLevelItem(0).child(0).child(0)
    assert series.text(1) == "CT" and int(series.text(2)) == win.state.volume.array.shape[0]
    assert "×" in series.text(3) and not series.icon(0).isNull()  # spacing and a thumbnail
    assert win.windowTitle().startswith("surgiplan")
    win.view3d.ensure_plotter()
    qtbot.wait(100)
    shot = save_shot(win, "1-data", tmp_path)
    assert not_blank(shot) > 0.2
    # bone where expected: the right femoral head is bright in the coronal slice through it
    win.state.set_crosshair_world(head_r)
    cor = win.slice_views["coronal"]
    p = cor.xyz_to_widget(win.state.world_to_xyz(head_r))
    assert p.x() < cor.width() / 2  # patient right on the screen's left
    assert win.state.value_at(win.state.crosshair) > 150  # HU: bone
    win.set_window_preset("soft tissue")
    assert cor.grab().toImage().pixelColor(int(p.x()), int(p.y())).lightness() > 200

    # 2. Segment: the hip preset ---------------------------------------------------------
    win.show_step("Segment")
    seg_panel = win.panels["Segment"]
    seg_panel.preset_combo.setCurrentIndex(seg_panel.preset_combo.findData("hip-bones"))
    before = cor.grab().toImage()
    qtbot.mouseClick(seg_panel.findChild(type(data.load_button), "apply_preset"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert set(win.segmentation.names) == {"pelvis", "femur_left", "femur_right"}
    assert seg_panel.table.rowCount() == 3 and "mL" in seg_panel.table.item(0, 2).text()
    after = cor.grab().toImage()
    # the overlay is drawn: the femoral head pixel changed colour (tinted by femur_right)
    assert before.pixelColor(int(p.x()), int(p.y())) != after.pixelColor(int(p.x()), int(p.y()))
    save_shot(win, "2-segment", tmp_path)
    # undo/redo of the preset goes through the case history
    win.undo.undo()
    assert win.segmentation is None
    win.undo.redo()
    assert win.segmentation is not None and len(win.segmentation.names) == 3

    # 3. Models ------------------------------------------------------------------------
    win.show_step("Models")
    models = win.panels["Models"]
    models.target.setValue(60_000)
    qtbot.mouseClick(models.findChild(type(data.load_button), "build_models"),
                     QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert sorted(win.case.model_names) == ["femur_left", "femur_right", "pelvis"]
    assert models.table.rowCount() == 3 and models.table.item(0, 3).text() == "yes"
    shot = save_shot(win, "3-models", tmp_path)
    pl = win.view3d.plotter
    view_img = pl.screenshot(None, return_img=True)
    assert not_blank(view_img) > 0.05
    x, y = world_to_display(pl, head_r + np.array([-25.0, 0, 0]))  # lateral to the head: femur
    bg = np.asarray(view_img[5, 5], int)
    assert np.abs(np.asarray(view_img[y, x], int) - bg).sum() > 60, "no bone at the femur in 3D"
    assert win.isWindowModified() and "[*]" in win.windowTitle()  # unsaved changes shown as *

    # 4. Plan: landmarks, cup and stem -----------------------------------------------------
    win.show_step("Plan")
    plan = win.panels["Plan"]
    plan.fit_landmarks()
    wait_jobs(qtbot, win)
    assert "acetabular_centre_right" in win.case.landmarks
    plan.side_combo.setCurrentText("right")
    plan.select_catalog("hip_cup")
    plan.size_combo.setCurrentText("52")
    plan.place()
    plan.select_catalog("hip_stem_standard")
    plan.size_combo.setCurrentText("3")
    plan.place()
    assert set(win.case.plan("Plan A").implants) == {"acetabular_cup", "femoral_stem"}
    check_cli_parity(win, tmp_path)
    plan.refresh_measurements()
    assert plan.measurement("cup_inclination") == "40.0°"
    assert plan.measurement("cor_shift") == "0.0 mm"
    # implant outlines are drawn in the slices
    assert any(k.startswith("implant:") for k in win.state.outlines)
    save_shot(win, "4-plan", tmp_path)

    # move the cup 4 mm superior with the numeric field: measurements follow
    plan.implant_combo.setCurrentText("acetabular_cup")
    plan._show_pose()
    s_field = plan.pos[2]
    s0 = s_field.value()
    s_field.setValue(s0 + 4.0)
    qtbot.wait(200)
    plan.refresh_measurements()
    assert plan.measurement("cor_shift") == "4.0 mm"
    assert plan.measurement("cor_shift_superior") == "4.0 mm"
    # Ctrl+Z undoes the move and the fields and measurements come back
    assert win.undo.undo_action.shortcut().toString() == "Ctrl+Z"
    win.undo.undo_action.trigger()
    qtbot.wait(200)
    plan.refresh_measurements()
    assert plan.measurement("cor_shift") == "0.0 mm"
    assert abs(plan.pos[2].value() - s0) < 0.05
    # keyboard nudge: Shift+PageUp moves 0.1 mm superior
    cup = win.case.plan("Plan A").implants["acetabular_cup"]
    s0 = float(cup.transform[2, 3])
    plan.setFocus()
    qtbot.keyClick(plan, QtCore.Qt.Key.Key_PageUp, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert abs(cup.transform[2, 3] - (s0 + 0.1)) < 1e-6
    win.undo.undo()

    # 5. a second plan: copy and move its cup 7 mm up (outside the 0-5 mm target) -----------
    qtbot.mouseClick(plan.findChild(type(data.load_button), "copy_plan"), QtCore.Qt.MouseButton.LeftButton)
    assert win.current_plan == "Plan A copy" and len(win.case.plans) == 2
    plan.implant_combo.setCurrentText("acetabular_cup")
    plan._show_pose()
    plan.pos[2].setValue(plan.pos[2].value() + 7.0)
    plan.refresh_measurements()
    assert plan.measurement("cor_shift") == "7.0 mm"

    # 6. Compare -----------------------------------------------------------------------
    win.show_step("Compare")
    cmp = win.panels["Compare"]
    cmp.a.setCurrentText("Plan A")
    cmp.b.setCurrentText("Plan A copy")
    qtbot.mouseClick(cmp.findChild(type(data.load_button), "compare"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == ""
    assert cmp.table.rowCount() > 10
    rows = {cmp.table.item(r, 0).text(): r for r in range(cmp.table.rowCount())}
    r = rows["Centre-of-rotation shift"]
    assert cmp.table.item(r, 1).text() == "0.0 mm" and cmp.table.item(r, 2).text() == "7.0 mm"
    assert cmp.table.item(r, 2).data(QtCore.Qt.ItemDataRole.UserRole) is False  # out of range
    assert cmp.out_of_range_cells() >= 1
    va, vb = cmp.view.views
    qtbot.waitUntil(lambda: va.plotter is not None and vb.plotter is not None, timeout=20000)
    qtbot.wait(200)
    assert va.plotter.renderer.camera is vb.plotter.renderer.camera  # linked cameras
    shot_a, shot_b = va.screenshot(), vb.screenshot()
    assert not_blank(shot_a) > 0.03 and not_blank(shot_b) > 0.03
    h, w = min(shot_a.shape[0], shot_b.shape[0]), min(shot_a.shape[1], shot_b.shape[1])
    assert np.abs(shot_a[:h, :w].astype(int) - shot_b[:h, :w].astype(int)).sum() > 0  # cups differ
    save_shot(win, "5-compare", tmp_path)

    # saving clears the unsaved mark and writes the case folder
    win.save_case()
    wait_jobs(qtbot, win)
    assert not win.isWindowModified()
    root = win.case.root
    assert (root / "case.json").is_file() and (root / "scans" / "planning" / "volume.nrrd").is_file()
    assert (root / "plans" / "Plan A copy" / "plan.json").is_file()
