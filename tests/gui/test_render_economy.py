"""The 3D view renders a full-quality frame once per change, and shows that frame.

A frame of the knee scene costs about 0.3 s under software OpenGL, so every redundant
render is felt: pyvistaqt's paint used to render the scene a second time after each
explicit render, pyvista's handle widget rendered on every hover move, and one
committed drag re-rendered about eleven times (each surface added, each panel redraw).
These tests count real VTK renders (render-window events) and compare what the X server
shows with the render buffer, so a skipped render can never leave a stale picture.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from tests.gui.plan_case import (  # noqa: F401 - fixtures
    RenderCounter,
    handles_on,
    hover,
    knee_case_dir,
    knee_case_template,
    knee_plan_in_3d,
    look_obliquely_at,
    open_case,
    s_arrow_grip,
    screen_pixels,
)

pytestmark = [pytest.mark.gui]


def _shows_buffer(qtbot, p) -> None:
    """What the screen shows of the 3D view is the last rendered frame (no new render)."""
    qtbot.wait(150)
    shown = screen_pixels(p.interactor)
    if shown is None:  # offscreen platform: nothing on a screen to compare
        return
    buf = np.asarray(p.image)[:, :, :3]  # the render window's current frame, not re-rendered
    assert shown.shape == buf.shape
    assert np.abs(shown.astype(int) - buf.astype(int)).mean() < 1.0


def test_an_explicit_render_is_shown_without_a_second_render(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    open_case(qtbot, win, knee_case_dir)
    win.layout_widget.set_layout("1-up", "3d")
    win.view3d.show_volume(win.state.volume, "off")
    p = win.view3d.plotter
    qtbot.wait(200)
    count = RenderCounter(p)
    try:
        for view in ("left", "superior", "anterior"):
            count.take()
            win.view3d.set_camera(view)
            qtbot.wait(150)
            assert count.take() == 1, view  # not the render plus a paint render
            _shows_buffer(qtbot, p)
            assert count.take() == 0
        # a paint that is not the answer to a render (the window was resized) renders again
        win.resize(win.width() - 40, win.height())
        qtbot.wait(300)
        assert count.take() >= 1
        _shows_buffer(qtbot, p)
    finally:
        count.close()


def test_committing_a_drag_renders_once_and_hovering_only_when_the_highlight_changes(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    plan = knee_plan_in_3d(qtbot, win, knee_case_dir)
    case = win.case
    handles_on(qtbot, win, plan)
    p = win.view3d.plotter
    start = case.plan("A").implants["femoral"].transform.copy()
    look_obliquely_at(qtbot, p, start[:3, 3])
    w = plan._widget
    iren_widget = p.interactor
    pos, up = s_arrow_grip(p, plan, start[:3, 3])
    corner = QtCore.QPoint(8, 8)  # background, far from the handles
    count = RenderCounter(p)
    try:
        hover(qtbot, p, corner)
        qtbot.wait(50)
        count.take()
        for i in range(1, 4):  # hovering over the background: nothing to redraw
            hover(qtbot, p, corner + QtCore.QPoint(3 * i, 2 * i))
        qtbot.wait(50)
        assert count.take() == 0
        hover(qtbot, p, pos)  # onto the S arrow: highlighted, one frame
        qtbot.wait(100)
        assert w._selected_actor is w._arrows[2]
        assert count.take() == 1
        hover(qtbot, p, pos + QtCore.QPoint(1, 0))  # still on it: no frame
        qtbot.wait(50)
        assert w._selected_actor is w._arrows[2]
        assert count.take() == 0
        qtbot.mousePress(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=pos)
        for step in range(1, 5):
            qtbot.mouseMove(iren_widget, pos + (up * 6 * step).toPoint())
            qtbot.wait(60)
        count.take()
        qtbot.mouseRelease(iren_widget, QtCore.Qt.MouseButton.LeftButton, pos=pos + (up * 24).toPoint())
        qtbot.waitUntil(lambda: case.history.undo_description == "drag femoral", timeout=5000)
        qtbot.wait(300)
        # the commit redraws implants, landmarks, cuts and handles in one frame (it was ~11)
        assert count.take() == 1
        assert not win.view3d.lod.active and win.view3d.lod.full_quality()
        _shows_buffer(qtbot, p)
        moved = case.plan("A").implants["femoral"].transform
        assert moved[2, 3] - start[2, 3] > 1.0
    finally:
        count.close()
