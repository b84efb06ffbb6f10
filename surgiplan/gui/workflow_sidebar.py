"""The workflow sidebar: Data -> Segment -> Models -> Plan -> Compare -> Report -> Simulate.

Stages of a later version (LATER, none now) are shown after them, disabled, with a tooltip.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

STEPS = ("Data", "Segment", "Models", "Plan", "Compare", "Report", "Simulate")
LATER: dict[str, str] = {}


class WorkflowSidebar(QtWidgets.QFrame):
    """Vertical list of workflow steps; emits ``stepChosen(name)``."""

    stepChosen = QtCore.Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("workflow")
        self.setFixedWidth(104)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(6, 10, 6, 10)
        lay.setSpacing(4)
        self.group = QtWidgets.QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QtWidgets.QToolButton] = {}
        for i, name in enumerate(STEPS):
            b = self._button(f"{i + 1}\n{name}", name)
            b.setCheckable(True)
            b.setToolTip(f"{name} (Ctrl+{i + 1})")
            self.group.addButton(b)
            b.clicked.connect(lambda _=False, n=name: self.stepChosen.emit(n))
            lay.addWidget(b)
        line = QtWidgets.QFrame()
        line.setFrameShape(QtWidgets.QFrame.Shape.HLine)
        line.setStyleSheet("color: #3a3f46;")
        lay.addWidget(line)
        for j, (name, tip) in enumerate(LATER.items()):
            b = self._button(f"{len(STEPS) + j + 1}\n{name}", name)
            b.setEnabled(False)
            b.setToolTip(tip)
            lay.addWidget(b)
        lay.addStretch(1)
        self.buttons["Data"].setChecked(True)

    def _button(self, text: str, name: str) -> QtWidgets.QToolButton:
        b = QtWidgets.QToolButton()
        b.setObjectName(f"step_{name}")
        b.setText(text)
        b.setMinimumHeight(54)
        b.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)
        b.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
        b.setStyleSheet(
            "QToolButton { border: none; border-radius: 4px; padding: 4px; font-weight: 600; }"
            "QToolButton:hover { background: rgba(61,142,230,0.18); }"
            "QToolButton:checked { background: #3d8ee6; color: white; }"
            "QToolButton:disabled { color: #6c737c; font-weight: 400; }"
        )
        f = b.font()
        f.setPointSizeF(f.pointSizeF() * 0.95)
        b.setFont(f)
        self.buttons[name] = b
        return b

    def set_current(self, name: str) -> None:
        self.buttons[name].setChecked(True)


def shortcut_for_step(index: int) -> QtGui.QKeySequence:
    return QtGui.QKeySequence(f"Ctrl+{index + 1}")
