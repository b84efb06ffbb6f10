"""Plan panel, knee resections on the knee sample: the numeric fields and the 3D plane
widget set the core resection, the resected-thickness readout follows (live while the
plane is dragged), the core's tibial slope measurement agrees, and undo restores."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case  # noqa: F401

pytestmark = [pytest.mark.gui]


def check_cli_parity(win, rs, tib, twin) -> None:
    """``surgiplan plan cut ... --json`` on a copy of the window's case gives the window's plane
    and its resected-thickness readout."""
    import json
    import shutil

    from tests.core.case.case_faults import cli

    win.case.save()
    shutil.copytree(win.case.root, twin)
    f = rs.fields
    r = cli("plan", "cut", twin, "Plan A", "proximal_tibia", "--depth", f["depth"].value(), "--varus",
            f["varus"].value(), "--slope", f["slope"].value(), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    np.testing.assert_allclose(d["origin"], tib.origin, atol=1e-6)
    np.testing.assert_allclose(d["normal"], tib.normal, atol=1e-9)
    assert d["thickness_mm"] == pytest.approx(rs.thickness, abs=1e-6)
    assert (d["depth_mm"], d["varus_valgus_deg"], d["slope_deg"]) == pytest.approx(
        (f["depth"].value(), f["varus"].value(), f["slope"].value()), abs=0.05)


def test_knee_cuts_from_fields_and_plane_widget(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    case = win.case
    rs = plan.resections
    f = rs.fields
    assert plan.resection_box.isVisible()  # a knee case offers its cuts

    # distal femoral cut at the default 9 mm, perpendicular to the mechanical axis
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("distal_femur"))
    qtbot.mouseClick(plan.findChild(type(plan.gt_button), "add_cut"), QtCore.Qt.MouseButton.LeftButton)
    res9 = case.plan("Plan A").resections["distal_femur"]
    assert (f["depth"].value(), f["varus"].value(), f["slope"].value()) == (9.0, 0.0, 0.0)
    # the depth is measured from the most distal condyle point: that condyle loses exactly 9 mm
    assert abs(max(rs.thickness.values()) - 9.0) < 0.05
    assert "9.0 mm" in rs.readout.text()
    p = win.view3d.plotter
    assert "cut:distal_femur" in p.actors and "removed:distal_femur" in p.actors

    f["depth"].setValue(11.0)  # numeric field: one undo step
    res11 = case.plan("Plan A").resections["distal_femur"]
    assert abs((res11.origin - res9.origin) @ res9.normal - 2.0) < 1e-6  # the plane moved 2 mm up
    assert np.allclose(res11.normal, res9.normal)
    assert abs(max(rs.thickness.values()) - 11.0) < 0.05
    win.undo.undo()
    assert f["depth"].value() == 9.0 and abs(max(rs.thickness.values()) - 9.0) < 0.05

    # proximal tibial cut: 3 deg default slope, read back by the core's knee measurement
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("proximal_tibia"))
    rs.add_cut()
    plan.refresh_measurements()
    assert plan.measurement("tibial_slope") == "3.0°"
    f["slope"].setValue(6.0)
    f["varus"].setValue(2.0)
    plan.refresh_measurements()
    assert plan.measurement("tibial_slope") == "6.0°"
    tib = case.plan("Plan A").resections["proximal_tibia"]
    t0 = max(rs.thickness.values())
    assert abs(f["depth"].value() - 9.0) < 0.05 and f["varus"].value() == 2.0
    check_cli_parity(win, rs, tib, knee_case_dir.parent / "cli-twin")

    # the 3D plane widget: drag 2 mm proximally (against the normal, which points to the kept shaft)
    rs.handle.setChecked(True)
    w = rs._plane_widget
    assert w is not None and np.allclose(w.GetNormal(), tib.normal, atol=1e-6)
    n_undo = len(case.history)
    w.SetOrigin(*(tib.origin - 2.0 * tib.normal))
    w.InvokeEvent("InteractionEvent")
    qtbot.wait(120)  # live update, at most every 50 ms
    assert rs.live_updates >= 1
    assert abs(max(rs.thickness.values()) - (t0 - 2.0)) < 0.1  # readout followed the drag
    # the live readout is the core's vertex-only thickness for the plane on screen (no mesh cut)
    from surgiplan.core.planning.resection import resection_thickness

    frame, _, tibia = rs._geometry("proximal_tibia")
    knee = (frame.knee_femur + frame.knee_tibia) / 2
    core = resection_thickness(tibia.points, w.GetOrigin(), w.GetNormal(), split_origin=knee,
                               split_normal=[1.0 if frame.side == "left" else -1.0, 0.0, 0.0],
                               half_names=("lateral", "medial"), exclude_central_mm=10.0).by_half_mm
    assert rs.thickness == pytest.approx(core, abs=1e-9) and core["lateral"] > 0 and core["medial"] > 0
    assert f"lateral {core['lateral']:.1f} mm, medial {core['medial']:.1f} mm" in rs.readout.text()
    assert rs._removed is None and "removed:proximal_tibia" not in p.actors  # cut only on release
    assert abs(f["depth"].value() - 7.0) < 0.1 and abs(f["slope"].value() - 6.0) < 0.05
    assert np.array_equal(case.plan("Plan A").resections["proximal_tibia"].origin, tib.origin)
    assert len(case.history) == n_undo  # nothing committed while dragging
    w.InvokeEvent("EndInteractionEvent")
    qtbot.waitUntil(lambda: len(case.history) == n_undo + 1, timeout=5000)
    moved = case.plan("Plan A").resections["proximal_tibia"]
    # released: the mesh is cut again (red removed part, removed volume) with the same thickness
    assert "removed:proximal_tibia" in p.actors and " mL" in rs.readout.text()
    assert rs.thickness == pytest.approx(core, abs=1e-9)
    assert abs((tib.origin - moved.origin) @ tib.normal - 2.0) < 1e-6
    win.undo.undo()  # one step for the drag
    back = case.plan("Plan A").resections["proximal_tibia"]
    assert np.allclose(back.origin, tib.origin) and abs(f["depth"].value() - 9.0) < 0.05


def test_remove_cut_and_ctrl_z_brings_it_back(window, qtbot, knee_case_dir):  # noqa: F811
    """Remove cut: disabled without a cut or on a locked plan; removes the plane from the plan
    and the 3D view; Ctrl+Z restores the identical plane, fields and readout."""
    from PySide6 import QtWidgets

    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    case = win.case
    rs = plan.resections
    remove = plan.findChild(QtWidgets.QPushButton, "remove_cut")
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("proximal_tibia"))
    assert not remove.isEnabled()  # no cut yet
    rs.add_cut()
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("distal_femur"))
    assert not remove.isEnabled()  # the femoral cut is not there
    rs.add_cut()
    rs.fields["depth"].setValue(10.5)
    assert remove.isEnabled()
    before = case.plan("Plan A").resections["distal_femur"]
    thick = dict(rs.thickness)
    # both cuts are lines in the slice views: in the coronal slice through the knee, the
    # distal femoral line's points (drawn pixels mapped back to LPS) lie on its plane
    knee = case.all_landmarks("Plan A")["knee_centre_femur"].position
    win.state.set_crosshair_world(knee)
    assert _slice_line_offsets_mm(win, "cut:distal_femur", before) < 0.6
    assert "cut:proximal_tibia" in win.state.outlines

    qtbot.mouseClick(remove, QtCore.Qt.MouseButton.LeftButton)
    assert list(case.plan("Plan A").resections) == ["proximal_tibia"]
    p = win.view3d.plotter
    assert "cut:distal_femur" not in p.actors and "removed:distal_femur" not in p.actors
    assert "cut:proximal_tibia" in p.actors
    assert not remove.isEnabled() and rs.readout.text() == "No cut yet."
    assert "cut:distal_femur" not in win.state.outlines and "cut:proximal_tibia" in win.state.outlines

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    back = case.plan("Plan A").resections["distal_femur"]
    assert list(case.plan("Plan A").resections) == ["proximal_tibia", "distal_femur"]
    assert np.array_equal(back.origin, before.origin) and np.array_equal(back.normal, before.normal)
    assert "cut:distal_femur" in p.actors and remove.isEnabled()
    assert _slice_line_offsets_mm(win, "cut:distal_femur", back) < 0.6
    assert f"{rs.fields['depth'].value():.1f}" == "10.5" and rs.thickness == pytest.approx(thick)

    case.lock_plan("Plan A")
    win.plansChanged.emit()
    assert not remove.isEnabled()
    rs.remove_cut()  # even if called, a locked plan keeps its cut and says why
    assert "distal_femur" in case.plan("Plan A").resections
    boxes = [b for b in win.findChildren(QtWidgets.QMessageBox, "error_box") if b.isVisible()]
    assert boxes and "locked" in boxes[-1].text()
    for b in boxes:
        b.close()


def _slice_line_offsets_mm(win, name: str, rs) -> float:
    """Largest distance (mm) from the plane ``rs`` of the points of outline ``name`` as the
    coronal slice view draws them (widget pixels mapped back to LPS); fails when not drawn."""
    from surgiplan.scene import slices as S

    view = win.slice_views["coronal"]
    st = win.state
    names = list(st.outlines)
    polys = view._outlines()[names.index(name)][0]
    assert polys and sum(len(q) for q in polys) >= 2, f"{name} is not drawn in the coronal slice"
    idx = view.slice_index()
    pts = [st.xyz_to_world(S.pixel_to_xyz(st.grid, "coronal", idx, c - 0.5, r - 0.5))
           for q in polys for c, r in q]
    n = np.asarray(rs.normal, float) / np.linalg.norm(rs.normal)
    return float(max(abs((np.asarray(x) - rs.origin) @ n) for x in pts))


def save_screenshot(qtbot, win, plan, name: str) -> None:
    """With SURGIPLAN_SCREENSHOTS set: the Plan panel scrolled to its resections, the 3D view
    anterolateral on the knee, the window saved as ``name``.png there."""
    import os
    from pathlib import Path

    from surgiplan.scene.scene3d import set_camera

    folder = os.environ.get("SURGIPLAN_SCREENSHOTS")
    if not folder:
        return
    win.layout_widget.set_layout("2-up", "coronal")
    qtbot.wait(100)  # the 3D view settles into its new size before the camera is set
    p = win.view3d.plotter
    knee = win.case.all_landmarks(win.current_plan)["knee_centre_femur"].position
    set_camera(p, "anterior", bounds=np.c_[knee - 115, knee + 115].ravel())
    p.camera.Azimuth(-35)
    p.camera.Elevation(20)
    win.state.set_crosshair_world(knee)
    plan.ensureWidgetVisible(plan.resections.readout, 0, 260)
    plan.horizontalScrollBar().setValue(0)
    p.render()
    qtbot.wait(300)  # pyvistaqt renders on its own timer
    Path(folder).mkdir(parents=True, exist_ok=True)
    win.screen().grabWindow(win.winId()).toImage().save(str(Path(folder) / f"{name}.png"))


def test_screenshot_of_the_knee_cuts(window, qtbot, knee_case_dir):  # noqa: F811
    """Both cuts with the tibial plane's handle, for docs/images/gui/4b-resection.png
    (runs only with SURGIPLAN_SCREENSHOTS set)."""
    import os

    if not os.environ.get("SURGIPLAN_SCREENSHOTS"):
        pytest.skip("screenshots only on request (SURGIPLAN_SCREENSHOTS)")
    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    rs = plan.resections
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("distal_femur"))
    rs.add_cut()
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("proximal_tibia"))
    rs.add_cut()
    rs.fields["slope"].setValue(5.0)
    plan.lm_combo.setCurrentText("")  # no landmark named: the cuts are the subject
    rs.handle.setChecked(True)
    assert set(win.case.plan("Plan A").resections) == {"distal_femur", "proximal_tibia"}
    assert "Resected thickness" in rs.readout.text()
    save_screenshot(qtbot, win, plan, "4b-resection")
