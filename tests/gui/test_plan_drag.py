"""Plan panel: dragging an implant with the 3D arrow handle (real Qt mouse events on the
VTK interactor) updates measurements, interference and the position fields while the
mouse moves, records one undo step for the whole drag, and undo puts everything back."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.plan_case import (  # noqa: F401 - fixtures
    handles_on,
    hover,
    knee_case_dir,
    knee_case_template,
    knee_plan_in_3d,
    look_obliquely_at,
    open_case,
    qt_point,
    s_arrow_grip,
    show_model_rows,
)

pytestmark = [pytest.mark.gui]


def _mm3(text: str) -> float:
    return float(text.replace("mm³", "").strip())


def test_arrow_drag_updates_measurements_live_and_undoes_in_one_step(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    plan = knee_plan_in_3d(qtbot, win, knee_case_dir)
    case = win.case
    plan.refresh_measurements()
    assert show_model_rows(plan)["interference_volume_femoral"] == "n/a"  # field not computed yet
    handles_on(qtbot, win, plan)  # computes the bone distance fields (a window job)
    plan.refresh_measurements()
    rows0 = show_model_rows(plan)
    assert rows0["interference_volume_femoral"].endswith("mm³")
    assert rows0["femoral_component_varus"] == "0.0°"
    femoral = case.plan("A").implants["femoral"]
    start = femoral.transform.copy()
    undo0 = case.history.undo_description

    p = win.view3d.plotter
    look_obliquely_at(qtbot, p, start[:3, 3])
    w = plan._widget
    assert w is not None
    iren_widget = p.interactor
    pos, up = s_arrow_grip(p, plan, start[:3, 3])
    hover(qtbot, p, pos)  # the widget highlights the arrow under the mouse
    assert w._selected_actor is w._arrows[2], "the S arrow is not under the mouse"
    qtbot.mousePress(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=pos)
    seen_volume, seen_s = [], []
    for step in range(1, 7):
        qtbot.mouseMove(iren_widget, pos + (up * 6 * step).toPoint())  # towards superior
        qtbot.wait(80)  # the live update runs at most every 50 ms
        rows = show_model_rows(plan)
        seen_volume.append(rows["interference_volume_femoral"])
        seen_s.append(plan.pos[2].value())
        assert np.array_equal(femoral.transform, start)  # nothing committed while dragging
    assert case.history.undo_description == undo0
    assert plan.live_updates >= 4
    assert len(set(seen_volume)) >= 3, seen_volume  # interference followed the mouse
    assert seen_s[-1] > seen_s[0] > start[2, 3]  # the S field too
    qtbot.mouseRelease(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=pos + (up * 36).toPoint())
    qtbot.waitUntil(lambda: case.history.undo_description == "drag femoral", timeout=5000)

    moved = femoral.transform
    d = moved[:3, 3] - start[:3, 3]
    assert d[2] > 1.0 and abs(d[0]) < 1e-6 and abs(d[1]) < 1e-6  # along S only
    assert np.allclose(moved[:3, :3], start[:3, :3])
    assert abs(plan.pos[2].value() - moved[2, 3]) < 0.05
    plan.refresh_measurements()
    rows1 = show_model_rows(plan)
    from surgiplan.core.planning.measurements import measure_plan

    core = {m.key: m.value for m in measure_plan(case, "A", plan.catalog(), only=("interference",))}
    core = core["interference_volume_femoral"]  # what `plan measure --json` prints
    assert abs(_mm3(rows1["interference_volume_femoral"]) - core) < 0.06
    assert rows1["interference_volume_femoral"] == seen_volume[-1]  # the last live value was right

    # one Ctrl+Z undoes the whole drag
    win.undo.undo_action.trigger()
    qtbot.wait(100)
    assert np.array_equal(femoral.transform, start)
    assert case.history.undo_description == undo0
    plan.refresh_measurements()
    assert show_model_rows(plan) == rows0
    assert abs(plan.pos[2].value() - start[2, 3]) < 0.05


def _n_cells(actor) -> int:
    return actor.GetMapper().GetInput().GetNumberOfCells()


def test_ring_drag_rotates_about_the_ring_axis_with_light_frames_and_undoes(window, qtbot, knee_case_dir):  # noqa: F811
    """Drag the superior (S) rotation ring a quarter of its arc: the committed pose is the
    start pose turned about +S through the implant origin by the angle swept on the ring;
    during the drag the femur is drawn by its decimated proxy, after the release by its full
    mesh in a re-rendered still frame; one Ctrl+Z restores the pose."""
    from scipy.spatial.transform import Rotation

    win = window
    plan = knee_plan_in_3d(qtbot, win, knee_case_dir)
    case = win.case
    v3 = win.view3d
    femur = v3.plotter.actors["model:femur"]
    full_cells = _n_cells(femur)
    v3.lod.min_triangles = min(v3.lod.min_triangles, full_cells // 2)  # the small sample's femur
    handles_on(qtbot, win, plan)
    femoral = case.plan("A").implants["femoral"]
    start = femoral.transform.copy()
    undo0 = case.history.undo_description
    o = start[:3, 3]
    p = v3.plotter
    look_obliquely_at(qtbot, p, o)
    w = plan._widget
    # the S ring: a quarter circle in the L-P plane from +L (0 deg) to +P (90 deg) around o
    b = w._circles[2].GetMapper().GetInput().GetBounds()  # tube around the arc, local frame
    radius = b[1] - b[5]  # outer x minus the tube radius

    def on_ring(deg: float):
        a = np.radians(deg)
        return qt_point(p, o + radius * np.array([np.cos(a), np.sin(a), 0.0]))

    iren_widget = p.interactor
    hover(qtbot, p, qt_point(p, o + np.array([0.0, 0.0, -3 * radius])))  # off the widget
    press = on_ring(20)
    for dx, dy in ((0, 0), (1, 0), (0, 1), (-1, 0), (0, -1)):  # the tube is a few pixels wide
        press = on_ring(20) + QtCore.QPoint(dx, dy)
        hover(qtbot, p, press)
        if w._selected_actor is w._circles[2]:
            break
    assert w._selected_actor is w._circles[2], "the S ring is not under the mouse"
    qtbot.mousePress(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=press)
    renders: list[bool] = []  # per render: was it an interactive (proxy) frame?
    obs = p.render_window.AddObserver("EndEvent", lambda *_: renders.append(v3.lod.active))
    for deg in range(25, 75, 5):
        qtbot.mouseMove(iren_widget, on_ring(deg))
        qtbot.wait(20)
    assert v3.lod.active and renders and all(renders), "drag frames are not the light ones"
    femur = v3.plotter.actors["model:femur"]
    assert _n_cells(femur) <= min(full_cells // 2, v3.lod.proxy_triangles + 100)  # the proxy is drawn
    assert femur.GetProperty().GetBackfaceCulling()
    assert np.array_equal(femoral.transform, start)  # nothing committed while dragging
    renders.clear()
    qtbot.mouseRelease(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=on_ring(70))
    qtbot.waitUntil(lambda: case.history.undo_description == "drag femoral", timeout=5000)
    p.render_window.RemoveObserver(obs)
    # full quality again: full mesh, no culling, MSAA back, and a still frame was rendered
    assert not v3.lod.active and v3.lod.full_quality()
    assert _n_cells(v3.plotter.actors["model:femur"]) == full_cells
    assert not v3.plotter.actors["model:femur"].GetProperty().GetBackfaceCulling()
    assert p.render_window.GetMultiSamples() > 0
    assert renders and not any(renders), renders

    new = femoral.transform
    rel = Rotation.from_matrix(new[:3, :3] @ start[:3, :3].T).as_rotvec(degrees=True)
    angle = float(np.linalg.norm(rel))
    assert abs(angle - 50.0) < 3.0, angle  # swept from 20 to 70 deg on the ring
    assert np.allclose(rel / angle, [0.0, 0.0, 1.0], atol=1e-6), rel  # about +S (counter-clockwise)
    assert np.allclose(new[:3, 3], o, atol=1e-6)  # turned about the implant origin
    win.undo.undo_action.trigger()
    qtbot.wait(100)
    assert np.array_equal(femoral.transform, start)
    assert case.history.undo_description == undo0


def test_camera_turn_draws_light_frames_then_a_full_still_frame(window, qtbot, knee_case_dir):  # noqa: F811
    """Turning the 3D camera with the mouse (VTK's trackball style asks for interactive
    frames) draws the femur's proxy; the release renders the full meshes again."""
    win = window
    open_case(qtbot, win, knee_case_dir)
    win.layout_widget.set_layout("1-up", "3d")
    win.view3d.show_volume(win.state.volume, "off")
    v3 = win.view3d
    p = v3.plotter
    full_cells = _n_cells(p.actors["model:femur"])
    v3.lod.min_triangles = min(v3.lod.min_triangles, full_cells // 2)
    v3.prepare_lod()
    p.render()
    cam0 = p.camera_position
    seen: list[tuple[bool, int]] = []
    obs = p.render_window.AddObserver(
        "EndEvent", lambda *_: seen.append((v3.lod.active, _n_cells(p.actors["model:femur"]))))
    iren_widget = p.interactor
    c = QtCore.QPoint(iren_widget.width() // 2, iren_widget.height() // 2)
    qtbot.mousePress(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=c)
    for i in range(1, 6):
        qtbot.mouseMove(iren_widget, c + QtCore.QPoint(12 * i, 4 * i))
        qtbot.wait(20)
    during = list(seen)
    qtbot.mouseRelease(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=c + QtCore.QPoint(60, 20))
    qtbot.wait(100)
    p.render_window.RemoveObserver(obs)
    assert p.camera_position != cam0  # the camera turned
    assert during and all(a and n < full_cells for a, n in during), during
    assert seen[-1] == (False, full_cells), seen[-1]  # the last frame: still, full mesh
    assert not v3.lod.active and v3.lod.full_quality()
