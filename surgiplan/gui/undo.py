"""Edit > Undo / Redo (Ctrl+Z / Ctrl+Shift+Z) bound to the open case's core History."""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtGui, QtWidgets


class UndoBridge:
    """Keeps two QActions in step with ``case.history`` and calls ``case.undo/redo``."""

    def __init__(self, parent: QtWidgets.QWidget, on_change: Callable[[str], None]) -> None:
        self.case = None
        self._unsub = None
        self.on_change = on_change
        self.undo_action = QtGui.QAction("Undo", parent)
        self.undo_action.setShortcut(QtGui.QKeySequence("Ctrl+Z"))
        self.undo_action.triggered.connect(self.undo)
        self.redo_action = QtGui.QAction("Redo", parent)
        self.redo_action.setShortcuts([QtGui.QKeySequence("Ctrl+Shift+Z"), QtGui.QKeySequence("Ctrl+Y")])
        self.redo_action.triggered.connect(self.redo)
        self.refresh()

    def set_case(self, case) -> None:
        if self._unsub is not None:
            self._unsub()
            self._unsub = None
        self.case = case
        if case is not None:
            self._unsub = case.history.subscribe(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        h = None if self.case is None else self.case.history
        self.undo_action.setEnabled(bool(h and h.can_undo))
        self.redo_action.setEnabled(bool(h and h.can_redo))
        self.undo_action.setText(f"Undo {h.undo_description}" if h and h.can_undo else "Undo")
        self.redo_action.setText(f"Redo {h.redo_description}" if h and h.can_redo else "Redo")

    def undo(self) -> None:
        if self.case is not None:
            what = self.case.undo()
            if what:
                self.on_change(f"Undone: {what}")

    def redo(self) -> None:
        if self.case is not None:
            what = self.case.redo()
            if what:
                self.on_change(f"Redone: {what}")
