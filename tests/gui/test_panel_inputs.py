"""Issue 28 #5 and #6 in the real window: the wheel over a panel changes no value, and
Compare's plan B is another plan than A once the case has two."""

from __future__ import annotations

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.case import Case
from tests.gui.conftest import wait_jobs

pytestmark = pytest.mark.gui


def _wheel(widget: QtWidgets.QWidget, steps: int) -> None:
    """A real wheel event (``steps`` notches up) at the widget's centre, through Qt's dispatch."""
    pos = QtCore.QPointF(widget.rect().center())
    glob = QtCore.QPointF(widget.mapToGlobal(widget.rect().center()))
    ev = QtGui.QWheelEvent(pos, glob, QtCore.QPoint(0, 0), QtCore.QPoint(0, 120 * steps),
                           QtCore.Qt.MouseButton.NoButton, QtCore.Qt.KeyboardModifier.NoModifier,
                           QtCore.Qt.ScrollPhase.NoScrollPhase, False)
    QtWidgets.QApplication.sendEvent(widget, ev)


def test_the_wheel_over_an_unfocused_box_changes_nothing(window, qtbot):
    window.show_step("Plan")
    plan = window.panels["Plan"]
    combos = [c for c in plan.findChildren(QtWidgets.QComboBox) if c.count() > 2 and c.isVisible()]
    assert combos
    combo = combos[0]
    combo.setCurrentIndex(0)
    window.setFocus()
    _wheel(combo, -3)
    assert combo.currentIndex() == 0 and not combo.hasFocus()
    window.show_step("Segment")
    spin = window.panels["Segment"].lo  # the threshold's lower bound, HU
    qtbot.waitUntil(spin.isVisible, timeout=2000)
    v0 = spin.value()
    _wheel(spin, 5)
    assert spin.value() == v0
    window.activateWindow()
    qtbot.mouseClick(spin, QtCore.Qt.MouseButton.LeftButton)  # once clicked, the wheel is the user's intent
    if not spin.hasFocus():
        spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    _wheel(spin, 1)
    assert spin.value() != v0


def test_compare_offers_two_different_plans(window, qtbot, tmp_path):
    root = tmp_path / "TwoPlans"
    case = Case.new(root, "TwoPlans")
    case.new_plan("A")
    case.save()
    window.open_path(root)
    wait_jobs(qtbot, window)
    window.show_step("Compare")
    cmp = window.panels["Compare"]
    assert cmp.a.currentText() == "A"
    window.session.case.new_plan("B")  # a second plan made in this session
    window.show_step("Plan")
    window.show_step("Compare")
    assert (cmp.a.currentText(), cmp.b.currentText()) == ("A", "B")


def test_a_jobs_own_message_is_not_overwritten_and_hip_plans_hide_knee_cuts(window, qtbot, tmp_path):
    window.run_job("Counting", lambda progress: 41 + 1, lambda r: window.status(f"Counted {r} bones"))
    wait_jobs(qtbot, window)
    assert window.status_label.text() == "Counted 42 bones"  # not "Counting: done"
    window.run_job("Idle", lambda progress: None)
    wait_jobs(qtbot, window)
    assert window.status_label.text() == "Idle: done"
    root = tmp_path / "Hip"
    case = Case.new(root, "Hip")
    case.new_plan("A")
    case.save()
    window.open_path(root)
    wait_jobs(qtbot, window)
    window.show_step("Plan")
    plan = window.panels["Plan"]
    assert not plan.resection_box.isVisible()  # a hip plan offers no knee cuts
