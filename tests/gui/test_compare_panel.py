"""The Compare step in the real window, on the hip demo case (plan A: cup 40/15 deg, standard
stem; plan B: cup 45/20 deg, high-offset stem one size up; the core puts B's leg length and
global offset outside their targets): the table holds every row of the core's comparison
with its values, difference and target, out-of-range cells are highlighted on screen and
in-range ones are not, nothing is clipped at 1600 x 980, and the two 3D views share one
camera framed on the implants."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]

ROLE = QtCore.Qt.ItemDataRole.UserRole


@pytest.fixture(scope="session")
def hip_plans_template(tmp_path_factory) -> Path:
    """A saved hip case with bone models and the core's two scripted plans A and B."""
    from surgiplan.demo.hip import build_demo_plans
    from surgiplan.demo.sample_case import build_sample_case

    root = tmp_path_factory.mktemp("hip-compare") / "hip-case"
    case, *_ = build_sample_case("hip", root)
    build_demo_plans(case)
    case.save()
    return root


@pytest.fixture
def compared(window, qtbot, hip_plans_template, tmp_path):
    """The window with the hip case open and plans A and B compared in the Compare step."""
    root = tmp_path / "hip-case"
    shutil.copytree(hip_plans_template, root)
    win = window
    win.open_path(root)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    win.show_step("Models")
    qtbot.wait(50)
    win._panel_width_before = win.panel_stack.width()
    win.show_step("Compare")
    cmp = win.panels["Compare"]
    # bad input first: the same plan twice is refused with a message, nothing computed
    cmp.a.setCurrentText("A")
    cmp.b.setCurrentText("A")
    qtbot.mouseClick(cmp.findChild(QtWidgets.QPushButton, "compare"), QtCore.Qt.MouseButton.LeftButton)
    assert not win.jobs.busy and cmp.comparison is None and "two plans" in win.status_label.text()
    cmp.b.setCurrentText("B")
    qtbot.mouseClick(cmp.findChild(QtWidgets.QPushButton, "compare"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    va, vb = cmp.view.views
    qtbot.waitUntil(lambda: va.plotter is not None and vb.plotter is not None, timeout=20000)
    qtbot.waitUntil(lambda: cmp.view.cameras_linked(), timeout=5000)
    qtbot.wait(100)
    return win, cmp


def number(text: str) -> float:
    """The number at the start of a cell ("-1.2 mm", "+5.0°", "2055.7 mm³")."""
    m = re.match(r"^[+-]?\d+(\.\d+)?", text)
    assert m, f"no number in {text!r}"
    return float(m.group(0))


def table_rows(table) -> dict[str, int]:
    """Core row key -> table row (section title lines carry no key)."""
    return {table.item(r, 0).data(ROLE): r for r in range(table.rowCount())
            if table.item(r, 0) is not None and table.item(r, 0).data(ROLE) is not None}


def cell_pixel(table, r: int, c: int) -> QtGui.QColor:
    """Colour on screen near the left edge of a (right-aligned, so blank there) cell."""
    table.scrollToItem(table.item(r, c), QtWidgets.QAbstractItemView.ScrollHint.PositionAtCenter)
    QtWidgets.QApplication.processEvents()
    rect = table.visualRect(table.model().index(r, c))
    img = table.viewport().grab().toImage()
    return img.pixelColor(rect.left() + 4, rect.center().y())


def reddish(c: QtGui.QColor) -> bool:
    return c.red() - max(c.green(), c.blue()) > 25


def test_compare_step_table_highlights_and_linked_views(compared, qtbot):
    """One window for both halves: the first comparison computes the bones' distance
    fields (seconds), so the table and the views are checked on the same one."""
    win, cmp = compared
    check_table(win, cmp)
    check_linked_views(win, cmp, qtbot)
    # leaving the step gives the usual views and the panel column's width back
    win.show_step("Models")
    qtbot.wait(50)
    assert cmp.view.isHidden() and win.layout_widget.isVisible()
    assert abs(win.panel_stack.width() - win._panel_width_before) <= 2


def check_table(win, cmp) -> None:
    from surgiplan.core.planning.comparison import Comparison

    core = cmp.comparison  # the core's object, from compare_plans(case, ["A", "B"])
    assert isinstance(core, Comparison) and core.plans == ["A", "B"]
    t = cmp.table
    rows = table_rows(t)
    assert set(rows) == {r.key for r in core.rows} and len(rows) == len(core.rows) > 20
    assert [t.horizontalHeaderItem(c).text() for c in (1, 2)] == ["A", "B"]  # plan names
    units = {"mm": " mm", "deg": "°", "mm^3": " mm³", "%": " %", "": ""}
    outside = inside = 0
    for r in core.rows:
        i = rows[r.key]
        label = t.item(i, 0).text()
        assert "_" not in label and label[0].isupper(), label  # a human label, not a raw key
        assert label.lower() == r.quantity.replace("_", " ").lower()
        assert t.item(i, 0).toolTip() == (r.definition or label)
        for c, p in ((1, "A"), (2, "B")):
            v, text = r.values[p], t.item(i, c).text()
            if isinstance(v, float):
                assert abs(number(text) - v) <= 0.05 + 1e-9 and text.endswith(units[r.unit]), (r.key, text)
            else:
                assert text == ("–" if v is None else str(v))
            flag = r.in_range.get(p)
            assert t.item(i, c).data(ROLE) is flag
            highlighted = t.item(i, c).background().style() != QtCore.Qt.BrushStyle.NoBrush
            assert highlighted == (flag is False), (r.key, p)
            outside += flag is False
            inside += flag is True
        d = t.item(i, 3).text()
        if r.difference is not None:
            assert abs(number(d) - r.difference) <= 0.05 + 1e-9 and d.endswith(units[r.unit])
        target = t.item(i, 4).text()
        if r.target is None:
            assert target == ""
        else:
            lo, hi = (float(x) for x in re.findall(r"[+-]?\d+(?:\.\d+)?", target))
            assert (lo, hi) == r.target and target.endswith(units[r.unit])
    assert outside >= 1 and inside >= 1
    assert cmp.out_of_range_cells() == outside
    assert f"{outside} value{'s' if outside != 1 else ''} outside" in cmp.summary.text()
    assert "B" in cmp.view.titles[1].text() and "outside" in cmp.view.titles[1].text()
    assert "all targets met" in cmp.view.titles[0].text()

    # on screen: B's cell of a row that B misses and A meets (the demo's plan B misses a hip target) is
    # red, A's is not
    lld = next(r for r in core.rows if r.in_range == {"A": True, "B": False})
    i = rows[lld.key]
    assert reddish(cell_pixel(t, i, 2)) and not reddish(cell_pixel(t, i, 1))
    f_out, f_in = t.item(i, 2).font(), t.item(i, 1).font()
    assert f_out.bold() and not f_in.bold()

    # nothing clipped at 1600 x 980: every column fits, no horizontal scrolling, no elision
    assert win.width() == 1600 and win.height() == 980
    widths = [t.columnWidth(c) for c in range(t.columnCount())]
    assert sum(widths) <= t.viewport().width()
    assert not t.horizontalScrollBar().isVisible()
    for c in range(t.columnCount() - 1):
        assert widths[c] >= t.sizeHintForColumn(c), (c, widths[c], t.sizeHintForColumn(c))
        assert widths[c] >= t.horizontalHeader().sectionSizeHint(c)
    # the table sits beside no side panel: it spans the view area under both 3D views
    va, vb = cmp.view.views
    assert t.width() >= va.width() + vb.width()

    # "only rows that differ" hides the equal ones and keeps the changed ones
    cmp.only_diff.setChecked(True)
    shown = {k for k, r in rows.items() if not t.isRowHidden(r)}
    assert lld.key in shown and "cup_inclination" in shown
    assert "implant:stem" in shown and "implant:cup" not in shown  # stem changed, cup did not
    assert all(abs(core.row(k).difference) >= 0.05 for k in shown if core.row(k).difference is not None)
    assert all(k in shown for k, r in rows.items()
               if core.row(k).difference is not None and abs(core.row(k).difference) >= 0.05)
    cmp.only_diff.setChecked(False)
    assert not any(t.isRowHidden(r) for r in range(t.rowCount()))

    # export: the CSV the core writes; never into the open case (its case.json stays intact)
    case_json = win.case.root / "case.json"
    before = case_json.read_bytes()
    assert not cmp.export_to(case_json, "csv")
    assert "inside the case folder" in win.last_error and case_json.read_bytes() == before
    out = win.case.root.parent / "comparison.csv"
    assert cmp.export_to(out, "csv") and out.read_bytes() == cmp.comparison.to_csv().encode()


def _render_counter(plotter) -> list[int]:
    n = [0]
    plotter.ren_win.AddObserver("EndEvent", lambda *_: n.__setitem__(0, n[0] + 1))
    return n


def check_linked_views(win, cmp, qtbot) -> None:
    va, vb = cmp.view.views
    pa, pb = va.plotter, vb.plotter
    assert pa.renderer.camera is pb.renderer.camera

    # framed on the implants: every implant of plan A lies inside view A, and together
    # they fill a good part of its height (not the whole scan at a distance)
    import vtk

    h = pa.window_size[1]
    w = pa.window_size[0]
    ys, xs = [], []
    for name, actor in pa.actors.items():
        if not str(name).startswith("implant:"):
            continue
        b = actor.GetBounds()
        for x in b[0:2]:
            for y in b[2:4]:
                for z in b[4:6]:
                    c = vtk.vtkCoordinate()
                    c.SetCoordinateSystemToWorld()
                    c.SetValue(x, y, z)
                    dx, dy = c.GetComputedDoubleDisplayValue(pa.renderer)
                    xs.append(dx)
                    ys.append(dy)
    assert ys, "no implant drawn in view A"
    assert min(xs) >= 0 and max(xs) <= w and min(ys) >= 0 and max(ys) <= h
    assert (max(ys) - min(ys)) / h > 0.5

    # a mouse drag in view A turns the shared camera and view B is re-rendered by it, with
    # decimated bones while the turn goes on and the full meshes after the release
    renders_b = _render_counter(pb)
    big = max((n for n in pb.actors if str(n).startswith("model:")),
              key=lambda n: pb.actors[n].GetMapper().GetInput().GetNumberOfCells())
    full_cells = pb.actors[big].GetMapper().GetInput().GetNumberOfCells()
    vb.lod.min_triangles = min(vb.lod.min_triangles, full_cells // 2)
    frames_b: list[tuple[bool, int]] = []
    pb.ren_win.AddObserver("EndEvent", lambda *_: frames_b.append(
        (vb.lod.active, pb.actors[big].GetMapper().GetInput().GetNumberOfCells())))
    before = np.array(pa.camera.position)
    it = pa.interactor
    centre = QtCore.QPointF(it.width() / 2, it.height() / 2)
    left = QtCore.Qt.MouseButton.LeftButton
    no = QtCore.Qt.KeyboardModifier.NoModifier

    def send(kind, pos, buttons):
        ev = QtGui.QMouseEvent(kind, pos, it.mapToGlobal(pos), left, buttons, no)
        QtWidgets.QApplication.sendEvent(it, ev)

    send(QtCore.QEvent.Type.MouseButtonPress, centre, left)
    for k in range(1, 7):
        send(QtCore.QEvent.Type.MouseMove, centre + QtCore.QPointF(12 * k, 4 * k), left)
        QtWidgets.QApplication.processEvents()
    during_b = list(frames_b)
    send(QtCore.QEvent.Type.MouseButtonRelease, centre + QtCore.QPointF(72, 24), QtCore.Qt.MouseButton.NoButton)
    qtbot.wait(50)
    after = np.array(pa.camera.position)
    assert np.linalg.norm(after - before) > 1.0, "the drag did not turn the camera"
    assert pa.renderer.camera is pb.renderer.camera
    assert np.allclose(pb.camera.position, after) and np.allclose(pb.camera.focal_point, pa.camera.focal_point)
    assert renders_b[0] >= 1, "view B was not re-rendered while view A turned"
    assert during_b and all(a and n < full_cells for a, n in during_b), during_b
    assert frames_b[-1] == (False, full_cells), frames_b[-1]  # B's last frame: full meshes
    assert not vb.lod.active and vb.lod.full_quality()

    # the direction buttons move both views: L looks from the patient's left
    qtbot.mouseClick(cmp.findChild(QtWidgets.QPushButton, "compare_view_left"), QtCore.Qt.MouseButton.LeftButton)
    d = np.array(pb.camera.position) - np.array(pb.camera.focal_point)
    assert d[0] / np.linalg.norm(d) > 0.99
    assert np.allclose(pa.camera.position, pb.camera.position)

    # a new comparison (plans swapped) redraws both views and keeps them linked
    cmp.swap()
    qtbot.mouseClick(cmp.findChild(QtWidgets.QPushButton, "compare"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    qtbot.wait(50)
    assert cmp.comparison.plans == ["B", "A"]
    assert [cmp.table.horizontalHeaderItem(c).text() for c in (1, 2)] == ["B", "A"]
    assert any(str(n).startswith("implant:") for n in pb.actors)
    assert pa.renderer.camera is pb.renderer.camera
    pb.camera.Azimuth(20.0)
    assert np.allclose(pa.camera.position, pb.camera.position)
