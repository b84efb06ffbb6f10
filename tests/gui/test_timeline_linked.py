"""Two timepoints linked in slice views, in the real window with real mouse, wheel and key events,
on the post-op hip sample: the planning scan (A) and the post-op scan (B, the patient moved by a
known rigid transform) side by side; a click in A puts B's cursor on the same anatomical point
(checked against the generator's known patient move, not against our registration), a click in B
moves A's, the wheel and arrow keys keep them linked; A shows B fused, as a checkerboard and as
their difference, blended in the slice view itself (checked pixel by pixel against the core's
``blend`` of the two scans on A's grid)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]
SCAN = "post-op-2026-03-02"


@pytest.fixture
def registered_hip(tmp_path):
    from surgiplan.core.samples.postop import build_planning_case, postop_sample_path
    from surgiplan.core.twin import add_later_scan, register_scan

    pp = postop_sample_path("hip")
    case = build_planning_case("hip", tmp_path / "Case", models=False)
    add_later_scan(case, pp.volume, "2026-03-02", "postop")
    register_scan(case, SCAN, "pelvis")
    case.save()
    return case.root, pp


def _click(qtbot, view, pos):
    from PySide6 import QtCore

    qtbot.mouseClick(view, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(int(pos[0]), int(pos[1])))
    qtbot.wait(20)


def _wheel(view, notches: int) -> None:
    from PySide6 import QtCore, QtGui, QtWidgets

    pos = QtCore.QPointF(view.width() / 2, view.height() / 2)
    ev = QtGui.QWheelEvent(pos, view.mapToGlobal(pos), QtCore.QPoint(0, 0), QtCore.QPoint(0, 120 * notches),
                           QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier,
                           QtCore.Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(view, ev)


def test_cursor_linked_through_the_known_patient_move(window, qtbot, registered_hip, tmp_path):
    from PySide6 import QtCore

    from surgiplan.core.twin.overlay import blend, pair_on_grid
    from surgiplan.scene import slices as S

    root, pp = registered_hip
    truth_s2p = np.array(pp.load_ground_truth()["scan_to_planning"])  # post-op LPS -> planning LPS
    truth_p2s = np.linalg.inv(truth_s2p)
    win = window
    data = win.panels["Data"]
    data.open_case(root)
    wait_jobs(qtbot, win)
    tl = data.timeline
    assert tl.a_combo.currentText() == "planning" and tl.b_combo.currentText() == SCAN
    tl.mode_combo.setCurrentIndex(tl.mode_combo.findData("fused"))
    link = tl.picture.parent().findChild(type(data.load_button), "timeline_link")
    data.ensureWidgetVisible(link)
    qtbot.mouseClick(link, QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    lw = tl.linked
    assert lw is not None and lw.isVisible()
    qtbot.waitExposed(lw)
    lw.mode_combo.setCurrentIndex(lw.mode_combo.findData("side"))
    va, vb = lw.state_a, lw.state_b

    def b_should_be():  # A's cursor carried by the generator's known move
        p = va.crosshair_world()
        return truth_p2s[:3, :3] @ p + truth_p2s[:3, 3]

    # clicks in A at three places (the pelvis near the centre and off it): B follows
    w, h = lw.view_a.width(), lw.view_a.height()
    for fx, fy in ((0.5, 0.5), (0.35, 0.55), (0.62, 0.42)):
        before = va.crosshair.copy()
        _click(qtbot, lw.view_a, (fx * w, fy * h))
        assert not np.allclose(va.crosshair, before)
        err = np.linalg.norm(vb.crosshair_world() - b_should_be())
        assert err < 0.5, (fx, fy, err)
    # wheel in A (5 slices up) and arrow keys: B follows through the move
    z0 = va.crosshair[2]
    for _ in range(3):
        _wheel(lw.view_a, +1)
    for _ in range(2):
        qtbot.keyClick(lw.view_a, QtCore.Qt.Key.Key_Up)
    assert va.crosshair[2] == pytest.approx(round(z0) + 5)
    assert np.linalg.norm(vb.crosshair_world() - b_should_be()) < 0.5
    # a click in B moves A's cursor to the same point (the inverse move)
    _click(qtbot, lw.view_b, (0.45 * lw.view_b.width(), 0.5 * lw.view_b.height()))
    pb = vb.crosshair_world()
    want_a = truth_s2p[:3, :3] @ pb + truth_s2p[:3, 3]
    assert np.linalg.norm(va.crosshair_world() - want_a) < 0.5
    # the patient moved: the same voxel indices are not the same point (the link is doing work)
    assert np.linalg.norm(vb.crosshair_world() - va.crosshair_world()) > 2.0

    # overlay modes in A's slice view itself
    ref_a, ref_b = pair_on_grid(win.case, "planning", SCAN)
    canon_b = va.grid.canonical(ref_b.array)
    idx = lw.view_a.slice_index()
    a = S.window_to_uint8(S.extract_slice(va.canon, "axial", idx), va.center, va.width) / 255.0
    b = S.window_to_uint8(S.extract_slice(canon_b, "axial", idx), va.center, va.width) / 255.0
    for mode in ("fused", "checkerboard", "difference"):
        lw.mode_combo.setCurrentIndex(lw.mode_combo.findData(mode))
        qtbot.wait(50)
        shown = lw.view_a.blended_slice()
        assert np.array_equal(shown, blend(a, b, mode)), mode
        img = lw.view_a.grab().toImage()
        assert not img.isNull()
        if mode == "difference":  # registered: the difference is mostly mid-grey
            assert np.median(np.abs(shown[..., 0].astype(int) - 128)) <= 2
        lw.grab().save(str(tmp_path / f"linked_{mode}.png"))
    lw.mode_combo.setCurrentIndex(lw.mode_combo.findData("side"))
    assert lw.view_a.blended_slice() is None
    # another view orientation keeps the link
    lw.view_combo.setCurrentIndex(lw.view_combo.findData("coronal"))
    qtbot.wait(50)
    _click(qtbot, lw.view_a, (0.55 * lw.view_a.width(), 0.5 * lw.view_a.height()))
    assert np.linalg.norm(vb.crosshair_world() - b_should_be()) < 0.5
    lw.grab().save(str(tmp_path / "linked_side.png"))
