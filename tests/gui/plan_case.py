"""Shared set-up of the Plan panel tests: a saved knee case (scan, segmentation, femur,
tibia, fibula and patella models, the sample's hip/knee/ankle landmarks) built once per
session with the core, copied per test and opened in the real window."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs

KNEE_KEYS = ("hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre",
             "medial_epicondyle", "lateral_epicondyle")


@pytest.fixture(scope="session")
def knee_case_template(tmp_path_factory) -> Path:
    from surgiplan.core.samples import sample_path
    from surgiplan.demo.knee import import_landmarks
    from surgiplan.demo.sample_case import build_sample_case

    root = tmp_path_factory.mktemp("knee") / "knee-case"
    case, *_ = build_sample_case("knee", root)
    import_landmarks(case, sample_path("knee").ground_truth, KNEE_KEYS, source="ground_truth")
    case.save()
    return root


@pytest.fixture
def knee_case_dir(knee_case_template, tmp_path) -> Path:
    dst = tmp_path / "knee-case"
    shutil.copytree(knee_case_template, dst)
    return dst


def open_case(qtbot, win, root: Path):
    """Open ``root`` in the window, wait for it, show the Plan step with the 3D view ready."""
    win.open_path(root)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    assert win.case is not None and win.case.root.resolve() == root.resolve()
    win.view3d.ensure_plotter()
    win.show_step("Plan")
    qtbot.wait(50)
    return win.panels["Plan"]


def world_to_display(plotter, lps) -> tuple[float, float]:
    """VTK display coordinates (x from the left, y from the bottom) of an LPS point."""
    import vtk

    c = vtk.vtkCoordinate()
    c.SetCoordinateSystemToWorld()
    c.SetValue(*map(float, lps))
    x, y = c.GetComputedDoubleDisplayValue(plotter.renderer)
    return float(x), float(y)


def qt_point(plotter, lps):
    """The QPoint (widget pixels, y down) of an LPS point in the 3D view."""
    from PySide6 import QtCore

    x, y = world_to_display(plotter, lps)
    h = plotter.interactor.height()
    return QtCore.QPoint(int(round(x)), int(round(h - 1 - y)))


def show_model_rows(panel) -> dict[str, str]:
    """Measurement key -> displayed text."""
    from PySide6 import QtCore

    t = panel.meas
    return {t.item(r, 1).data(QtCore.Qt.ItemDataRole.UserRole): t.item(r, 1).text()
            for r in range(t.rowCount())}


def place_knee_plan(win, plan: str = "A") -> None:
    """Plan ``plan`` with the core's scripted knee placement (cuts, femoral, tray, insert)."""
    from surgiplan.demo.knee import place_knee

    case = win.case
    case.new_plan(plan)
    win.current_plan = plan
    place_knee(case, plan, "right")


def unit(v) -> np.ndarray:
    v = np.asarray(v, float)
    return v / np.linalg.norm(v)


class RenderCounter:
    """Counts the VTK renders of a plotter's render window (StartEvent observer)."""

    def __init__(self, plotter) -> None:
        self.plotter = plotter
        self.n = 0
        self._obs = plotter.render_window.AddObserver("StartEvent", self._seen)

    def _seen(self, *_) -> None:
        self.n += 1

    def take(self) -> int:
        """Renders since the last ``take`` (or since creation)."""
        n, self.n = self.n, 0
        return n

    def close(self) -> None:
        self.plotter.render_window.RemoveObserver(self._obs)


def screen_pixels(widget) -> np.ndarray | None:
    """RGB pixels of ``widget`` as the X server shows them now (what the user sees, not
    a fresh render); None when the platform cannot grab the screen (offscreen Qt)."""
    from PySide6 import QtCore, QtGui

    screen = QtGui.QGuiApplication.primaryScreen()
    g = widget.mapToGlobal(QtCore.QPoint(0, 0))
    pix = screen.grabWindow(0, g.x(), g.y(), widget.width(), widget.height())
    if pix.isNull():
        return None
    img = pix.toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return a[:, : img.width() * 3].reshape(img.height(), img.width(), 3).copy()


def hover(qtbot, plotter, point) -> None:
    """Move the mouse to ``point`` (QPoint, 3D view pixels) and wait until VTK has seen the
    move: QTest moves the X pointer, and the event can arrive a little later."""
    w = plotter.interactor
    iren = plotter.iren.interactor
    want = (point.x(), w.height() - 1 - point.y())
    qtbot.mouseMove(w, point)
    qtbot.waitUntil(lambda: tuple(iren.GetEventPosition()) == want, timeout=3000)


def knee_plan_in_3d(qtbot, win, root: Path):
    """The knee case open in the Plan step, the 3D view alone (no volume rendering), the
    core's knee plan "A" placed and its femoral component chosen; returns the Plan panel."""
    plan = open_case(qtbot, win, root)
    win.layout_widget.set_layout("1-up", "3d")
    win.view3d.show_volume(win.state.volume, "off")
    place_knee_plan(win)
    plan.refresh()
    plan.implant_combo.setCurrentText("femoral")
    plan._show_pose()
    return plan


def handles_on(qtbot, win, plan) -> None:
    """Switch the 3D handles on and wait for the bone distance fields (a window job)."""
    plan.handles.setChecked(True)
    qtbot.waitUntil(lambda: plan.interference_ready() and not win.jobs.busy, timeout=90_000)


def look_obliquely_at(qtbot, plotter, origin) -> None:
    """Camera 400 mm from ``origin`` (LPS mm) from anterior-left-superior, so no handle
    ring is seen edge-on along the S arrow; rendered."""
    o = np.asarray(origin, float)
    plotter.camera_position = [tuple(o + 400 * unit([0.6, -1.0, 0.5])), tuple(o), (0, 0, 1)]
    plotter.reset_camera_clipping_range()
    plotter.render()
    qtbot.wait(100)


def s_arrow_grip(plotter, plan, origin):
    """(QPoint on the superior arrow 60 % of the way to its tip, unit QPointF of +S on
    screen) of the implant handles centred at ``origin``."""
    from PySide6 import QtCore

    length = plan._drag["actor"].GetLength() * 0.15 * 1.15
    on_arrow = np.asarray(origin, float) + np.array([0.0, 0.0, 0.6 * length])
    pos = qt_point(plotter, on_arrow)
    up = qt_point(plotter, on_arrow + np.array([0.0, 0.0, 10.0])) - pos
    return pos, QtCore.QPointF(up) / max(1.0, (up.x() ** 2 + up.y() ** 2) ** 0.5)
