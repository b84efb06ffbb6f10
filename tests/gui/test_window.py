"""The window shell: start without a display, slice views, linked crosshair, window/level,
background jobs (failure leaves everything as it was, Cancel), layouts, theme, settings."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume, write_volume
from tests.gui.conftest import wait_jobs


def test_no_display_prints_one_line_and_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY",
                                                             "QT_QPA_PLATFORM")}
    for args in (["gui"], []):
        r = subprocess.run([sys.executable, "-m", "surgiplan", *args], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, r.stderr
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "no display" in lines[0] and "surgiplan demo" in lines[0]
        assert "Traceback" not in r.stderr + r.stdout


def phantom() -> Volume:
    """CT-like box: air around a water body with a bone ball on the patient's right, anterior."""
    arr = np.full((40, 64, 64), -1000, np.int16)
    k, j, i = np.mgrid[0:40, 0:64, 0:64]
    arr[((i - 32) / 28) ** 2 + ((j - 32) / 26) ** 2 < 1] = 30
    arr[(i - 18) ** 2 + (j - 22) ** 2 + ((k - 20) * 1.5) ** 2 < 36] = 900
    return Volume(arr, (2.0, 2.0, 3.0), (-63.0, -63.0, -58.5), metadata={"modality": "CT"})


def test_slice_views_orientation_crosshair_and_window(window, qtbot):
    vol = phantom()
    window.set_volume(vol)
    ax = window.slice_views["axial"]
    # bone ball at index (18, 22, 20): patient right (screen left) and anterior (screen top)
    ball = vol.index_to_world((18, 22, 20))
    window.state.set_crosshair_world(ball)
    qtbot.wait(20)
    img = ax.grab().toImage()
    p = ax.xyz_to_widget(window.state.world_to_xyz(ball))
    assert p.x() < ax.width() / 2 and p.y() < ax.height() / 2
    assert img.pixelColor(int(p.x()), int(p.y())).lightness() > 200  # bone-bright
    # the crosshair is shared: the coronal view now shows the ball's slice
    cor = window.slice_views["coronal"]
    assert cor.slice_index() == int(round(window.state.crosshair[1]))
    # clicking in the axial view moves the crosshair in every view
    qtbot.mouseClick(ax, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(ax.width() // 2,
                                                                              ax.height() // 2))
    assert abs(window.state.crosshair[0] - 31.5) < 2 and abs(window.state.crosshair[1] - 31.5) < 2
    # wheel scrolls one slice
    z0 = ax.slice_index()
    ax.scroll(3)
    assert ax.slice_index() == z0 + 3
    # right-drag changes window/level; presets set it exactly
    c0, w0 = window.state.center, window.state.width
    qtbot.mousePress(ax, QtCore.Qt.MouseButton.RightButton, pos=QtCore.QPoint(100, 100))
    ev_move = QtCore.QPoint(160, 60)
    from PySide6 import QtGui

    ax.mouseMoveEvent(QtGui.QMouseEvent(QtCore.QEvent.Type.MouseMove, QtCore.QPointF(ev_move),
                                        QtCore.QPointF(ax.mapToGlobal(ev_move)),
                                        QtCore.Qt.MouseButton.NoButton,
                                        QtCore.Qt.MouseButton.RightButton,
                                        QtCore.Qt.KeyboardModifier.NoModifier))
    qtbot.mouseRelease(ax, QtCore.Qt.MouseButton.RightButton, pos=ev_move)
    assert window.state.width > w0 and window.state.center > c0
    window.set_window_preset("bone")
    assert (window.state.center, window.state.width) == (400.0, 1800.0)
    # layouts
    window.layout_widget.set_layout("1-up", "coronal")
    assert cor.isVisible() and not ax.isVisible()
    window.layout_widget.set_layout("2-up", "axial")
    assert ax.isVisible() and window.view3d.isVisible() and not cor.isVisible()
    window.layout_widget.set_layout("4-up")


def test_failing_job_shows_the_message_and_changes_nothing(window, qtbot, tmp_path):
    vol = phantom()
    window.set_volume(vol)
    bad = tmp_path / "broken.nrrd"
    good = write_volume(vol, tmp_path / "good.nrrd")
    bad.write_bytes(good.read_bytes()[:200])
    window.panels["Data"].open_volume_file(bad)
    wait_jobs(qtbot, window)
    assert "broken.nrrd" in window.last_error
    assert window.state.volume is vol  # untouched


def test_cancel_stops_a_job_and_keeps_the_state(window, qtbot):
    from surgiplan.core.jobs import report

    done = []

    def slow(progress):
        for i in range(1000):
            report(progress, i / 1000, f"step {i}")
            QtCore.QThread.msleep(5)
        return "finished"

    window.run_job("Slow job", slow, done.append)
    qtbot.waitUntil(lambda: window.progress_bar.isVisible() and window.cancel_button.isVisible())
    qtbot.mouseClick(window.cancel_button, QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, window)
    assert done == [] and "cancelled" in window.status_label.text()
    assert not window.progress_bar.isVisible()


def test_theme_and_recent_cases_persist(window, qtbot, tmp_path):
    from surgiplan.gui.settings import Settings

    window.set_theme("light")
    window.settings.add_recent(tmp_path / "A")
    window.settings.save()
    s = Settings.load()
    assert s.theme == "light" and s.recent_cases[0].endswith("A")
    window.set_theme("dark")


def test_open_window_refuses_a_missing_path(tmp_path, display):
    from surgiplan.cli.gui import open_window

    assert open_window(tmp_path / "nope") == 1
    assert open_window(None, sample="elbow") == 2


def test_read_volume_error_names_the_file(tmp_path):
    from surgiplan.core.imaging import read_volume

    with pytest.raises(InputError, match="missing.nrrd"):
        read_volume(tmp_path / "missing.nrrd")
