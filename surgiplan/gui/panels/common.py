"""Small building blocks shared by the panels (headings, hints, primary buttons)."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets


def heading(text: str) -> QtWidgets.QLabel:
    lab = QtWidgets.QLabel(text)
    lab.setProperty("role", "heading")
    return lab


def hint(text: str) -> QtWidgets.QLabel:
    lab = QtWidgets.QLabel(text)
    lab.setProperty("role", "hint")
    lab.setWordWrap(True)
    return lab


def button(text: str, slot=None, tip: str | None = None, primary: bool = False,
           name: str | None = None) -> QtWidgets.QPushButton:
    b = QtWidgets.QPushButton(text)
    if slot is not None:
        b.clicked.connect(slot)
    if tip:
        b.setToolTip(tip)
    if primary:
        b.setProperty("primary", True)
    if name:
        b.setObjectName(name)
    return b


class Panel(QtWidgets.QScrollArea):
    """A scrollable panel with a vertical layout ``self.body``."""

    def __init__(self, win, title: str, subtitle: str = "") -> None:
        super().__init__()
        self.win = win
        #: What is open (core Session): panels read and change it, and use the window for views.
        self.session = win.session
        self.setWidgetResizable(True)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        inner = QtWidgets.QWidget()
        self.body = QtWidgets.QVBoxLayout(inner)
        self.body.setContentsMargins(12, 12, 12, 12)
        self.body.setSpacing(8)
        self.body.addWidget(heading(title))
        if subtitle:
            self.body.addWidget(hint(subtitle))
        self.setWidget(inner)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def group(self, title: str) -> QtWidgets.QVBoxLayout:
        box = QtWidgets.QGroupBox(title)
        lay = QtWidgets.QVBoxLayout(box)
        lay.setSpacing(6)
        self.body.addWidget(box)
        return lay

    def finish(self) -> None:
        self.body.addStretch(1)


def row(*widgets) -> QtWidgets.QHBoxLayout:
    lay = QtWidgets.QHBoxLayout()
    lay.setSpacing(6)
    for w in widgets:
        if isinstance(w, QtWidgets.QLayout):
            lay.addLayout(w)
        elif w is None:
            lay.addStretch(1)
        else:
            lay.addWidget(w)
    return lay


class _WheelGuard(QtCore.QObject):
    """Send wheel events over an unfocused spin or combo box to its scroll area instead."""

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QtCore.QEvent.Type.Wheel and not obj.hasFocus():
            event.ignore()  # the scroll area under it scrolls; the value stays
            return True
        return False


def guard_wheel(root: QtWidgets.QWidget) -> None:
    """Spin and combo boxes under ``root`` take the mouse wheel only once clicked (focused).

    Scrolling a panel must never change an implant size or a depth that happens to pass under
    the pointer (issue 28 #6).
    """
    guard = root.findChild(_WheelGuard) or _WheelGuard(root)
    for w in (*root.findChildren(QtWidgets.QAbstractSpinBox), *root.findChildren(QtWidgets.QComboBox)):
        w.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        w.installEventFilter(guard)
