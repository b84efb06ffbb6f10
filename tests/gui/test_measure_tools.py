"""Measuring by hand with real mouse clicks: ruler, angle, diameter (two points and circle fit),
the table with Delete and undo, parity with ``surgiplan plan measure --json``, and the oblique
reformat along two clicked points replacing the axial view (a tilted tube seen across is a circle)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
LEFT = QtCore.Qt.MouseButton.LeftButton
SHIFT = QtCore.Qt.KeyboardModifier.ShiftModifier
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "gui" / "tools"
R_A = 12.0  # vertical tube (an aortic neck), centre x = -30 mm
R_B = 8.0  # tube tilted 30 deg in the coronal plane, through (30, 0, 40)
TILT = np.array([np.sin(np.radians(30)), 0.0, np.cos(np.radians(30))])


def _shots() -> bool:
    return os.environ.get("SURGIPLAN_SHOTS") == "1"


@pytest.fixture
def tubes(window):
    """A synthetic contrast CT (1 mm voxels): two bright tubes in soft tissue."""
    from surgiplan.core.imaging.volume import Volume

    shape = (80, 120, 140)  # k, j, i
    vol = Volume(np.zeros(shape, np.int16), (1.0, 1.0, 1.0), (-70.0, -60.0, 0.0))
    k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in shape), indexing="ij")
    x, y, z = i - 70.0, j - 60.0, k
    a = np.hypot(x + 30, y) <= R_A
    d = np.stack([x - 30, y, z - 40], -1)
    b = np.linalg.norm(d - (d @ TILT)[..., None] * TILT, axis=-1) <= R_B
    vol.array[:] = np.where(a | b, 350, 40).astype(np.int16)
    window.set_volume(vol)
    window.view3d.show_volume(vol, "off")
    window.state.set_crosshair_world((0.0, 0.0, 40.0))
    return window, vol


def _px(view, win, lps) -> QtCore.QPoint:
    p = view.xyz_to_widget(win.state.world_to_xyz(np.asarray(lps, float)))
    return QtCore.QPoint(round(p.x()), round(p.y()))


def _click(qtbot, view, win, lps, mods=QtCore.Qt.KeyboardModifier.NoModifier):
    qtbot.mouseClick(view, LEFT, mods, _px(view, win, lps))


def test_ruler_angle_diameter_table_delete_undo_and_cli_parity(tubes, qtbot, tmp_path):
    from typer.testing import CliRunner

    from surgiplan.cli.main import app
    from surgiplan.core.units import format_value

    win, vol = tubes
    tools = win.measure_tools
    ax = win.slice_views["axial"]
    cross0 = win.state.crosshair.copy()
    # ruler between the two tubes' centres: 60 mm
    tools.actions["ruler"].trigger()
    _click(qtbot, ax, win, (-30, 20, 40))
    _click(qtbot, ax, win, (30, 20, 40))
    assert np.array_equal(win.state.crosshair, cross0)  # the tool took the clicks, not the crosshair
    plan = win.session.case.plan(win.session.current_plan)
    ruler = plan.manual["Ruler 1"]
    assert ruler.value == pytest.approx(60.0, abs=0.6) and ruler.view == "axial"
    # angle: 90 deg at the tilted tube's centre
    tools.actions["angle"].trigger()
    assert not tools.actions["ruler"].isChecked()
    for q in ((30 + 20, 0, 40), (30, 0, 40), (30, -20, 40)):
        _click(qtbot, ax, win, q)
    assert plan.manual["Angle 1"].value == pytest.approx(90.0, abs=2.0)
    # diameter by circle fit: Shift-clicks on the wall, the last one without Shift
    tools.actions["diameter"].trigger()
    wall = [(-30 + R_A * np.cos(t), R_A * np.sin(t), 40) for t in np.radians([10, 100, 190, 280])]
    for q in wall[:-1]:
        _click(qtbot, ax, win, q, SHIFT)
    _click(qtbot, ax, win, wall[-1])
    dia = plan.manual["Diameter 1"]
    assert dia.value == pytest.approx(2 * R_A, abs=0.5) and "circle fit (4 points" in dia.method
    # two points across
    _click(qtbot, ax, win, (-30, -R_A, 40))
    _click(qtbot, ax, win, (-30, R_A, 40))
    assert plan.manual["Diameter 2"].value == pytest.approx(2 * R_A, abs=0.6)
    assert tools.dock.isVisible() and tools.table.rowCount() == 4
    shown = {tools.table.item(r, 0).text(): tools.table.item(r, 1).text() for r in range(4)}
    if _shots():
        SHOTS.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(SHOTS / "measure_window.png"))
        win.layout_widget.set_layout("1-up", "axial")
        win.state.set_window(150.0, 800.0)
        qtbot.wait(50)
        ax.grab().save(str(SHOTS / "measure_axial.png"))
        win.layout_widget.set_layout("4-up")
    # delete one from the table, undo brings it back (one step each)
    tools.table.selectRow(0)
    qtbot.mouseClick(tools.delete_btn, LEFT)
    assert "Ruler 1" not in plan.manual and tools.table.rowCount() == 3
    win.undo.undo()
    assert list(plan.manual)[0] == "Ruler 1" and tools.table.rowCount() == 4
    # parity: what the table shows is what `plan measure --json` prints for the saved case
    win.save_case()
    wait_jobs(qtbot, win)
    r = CliRunner().invoke(app, ["plan", "measure", str(win.session.case.root), "--plan",
                                 win.session.current_plan, "--json"])
    assert r.exit_code == 0, r.output
    rows = {x["name"]: x for x in json.loads(r.output) if x["key"].startswith("manual:")}
    assert set(rows) == set(shown)
    for name, text in shown.items():
        assert format_value(rows[name]["value"], rows[name]["unit"]) == text
        assert rows[name]["value"] == pytest.approx(plan.manual[name].value, abs=1e-9)


def test_reformat_along_two_clicked_points_and_back_to_axial(tubes, qtbot):
    win, vol = tubes
    tools = win.measure_tools
    cor = win.slice_views["coronal"]
    win.state.set_crosshair_world((30.0, 0.0, 40.0))  # the coronal slice through the tilted tube
    p0, p1 = np.array([30.0, 0, 40]) - 25 * TILT, np.array([30.0, 0, 40]) + 25 * TILT
    tools.actions["reformat"].trigger()
    _click(qtbot, cor, win, p0)
    _click(qtbot, cor, win, p1)
    rv = tools.reformat_view
    assert win.layout_widget.views["axial"] is rv and rv.isVisible() and not win.slice_views["axial"].isVisible()
    assert not tools.actions["reformat"].isChecked()
    # along the line: a band of the tube's diameter around the line
    img = rv.reformat
    assert np.allclose(img.row_dir, (rv.p1 - rv.p0) / np.linalg.norm(rv.p1 - rv.p0))
    mid = img.image[img.image.shape[0] // 2]
    assert (mid > 195).sum() * img.spacing == pytest.approx(2 * R_B, abs=1.5)
    # across the line: a circle of the tube's diameter
    rv.mode.setCurrentIndex(rv.mode.findData("cross"))
    img = rv.reformat
    area = (img.image > 195).sum() * img.spacing**2
    assert area == pytest.approx(np.pi * R_B**2, rel=0.08)
    qtbot.wait(50)
    if _shots():
        SHOTS.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(SHOTS / "reformat_across.png"))
    qtbot.mouseClick(rv.back, LEFT)
    assert win.layout_widget.views["axial"] is win.slice_views["axial"] and win.slice_views["axial"].isVisible()
    assert not rv.isVisible()


def test_ruler_by_picking_on_a_surface_in_the_3d_view(tubes, qtbot):
    import pyvista as pv

    from tests.gui.plan_case import qt_point

    win, vol = tubes
    win.layout_widget.set_layout("1-up", "3d")
    v3 = win.view3d
    p = v3.ensure_plotter()
    # the vertical tube's wall as a model surface (LPS mm)
    v3.set_surface("model:tube", pv.Cylinder(center=(-30, 0, 40), direction=(0, 0, 1), radius=R_A,
                                             height=60, resolution=120).triangulate(), (0.9, 0.3, 0.3))
    v3.set_camera("anterior")
    p.render()
    qtbot.wait(100)
    win.measure_tools.actions["ruler"].trigger()
    a, b = np.array([-30.0, -R_A, 30.0]), np.array([-30.0, -R_A, 52.0])  # on the anterior wall, 22 mm apart
    for q in (a, b):
        qtbot.mouseClick(p.interactor, LEFT, pos=qt_point(p, q))
    plan = win.session.case.plan(win.session.current_plan)
    m = plan.manual["Ruler 1"]
    assert m.view == "3d" and m.value == pytest.approx(22.0, abs=0.8)
    assert np.all(np.abs(m.points[:, 1] + R_A) < 0.5)  # picked on the surface, not behind it
    assert "measure:Ruler 1" in p.actors and any(str(n).startswith("measure_label:Ruler 1") for n in p.actors)
    if _shots():  # (creating the case refreshed the models: show the tube again for the picture)
        v3.set_surface("model:tube", pv.Cylinder(center=(-30, 0, 40), direction=(0, 0, 1), radius=R_A,
                                                 height=60, resolution=120).triangulate(), (0.9, 0.3, 0.3), 0.5)
        p.render()
        qtbot.wait(50)
        SHOTS.mkdir(parents=True, exist_ok=True)
        v3.grab().save(str(SHOTS / "measure_3d_ruler.png"))
