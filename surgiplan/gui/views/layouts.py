"""Arrangements of the four views: 1-up, 2-up (axial + 3D) and 4-up."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

LAYOUTS = ("1-up", "2-up", "4-up")


class ViewLayout(QtWidgets.QWidget):
    """Holds the axial, coronal, sagittal and 3D views and shows 1, 2 or 4 of them."""

    layoutChanged = QtCore.Signal(str)

    def __init__(self, views: dict[str, QtWidgets.QWidget], parent=None) -> None:
        super().__init__(parent)
        self.views = views
        self.grid = QtWidgets.QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(3)
        self.mode = "4-up"
        self.single = "3d"
        for _name, v in views.items():
            if hasattr(v, "maximizeRequested"):
                v.maximizeRequested.connect(self.toggle_maximize)
        self.set_layout("4-up")

    def set_layout(self, mode: str, single: str | None = None) -> None:
        if mode not in LAYOUTS:
            raise ValueError(f"unknown layout {mode!r}")
        self.mode = mode
        if single:
            self.single = single
        for v in self.views.values():
            self.grid.removeWidget(v)
            v.hide()
        for r in range(2):
            self.grid.setRowStretch(r, 0)
            self.grid.setColumnStretch(r, 0)
        if mode == "1-up":
            place = {self.single: (0, 0)}
        elif mode == "2-up":
            place = {"axial": (0, 0), "3d": (0, 1)}
            if self.single in ("coronal", "sagittal"):
                place = {self.single: (0, 0), "3d": (0, 1)}
        else:
            place = {"axial": (0, 0), "3d": (0, 1), "coronal": (1, 0), "sagittal": (1, 1)}
        for name, (r, c) in place.items():
            self.grid.addWidget(self.views[name], r, c)
            self.grid.setRowStretch(r, 1)
            self.grid.setColumnStretch(c, 1)
            self.views[name].show()
        self.layoutChanged.emit(mode)

    def toggle_maximize(self, name: str) -> None:
        if self.mode == "1-up":
            self.set_layout("4-up")
        else:
            self.set_layout("1-up", name)

    def replace_view(self, name: str, widget: QtWidgets.QWidget) -> None:
        """Show ``widget`` where view ``name`` was (e.g. a reformat instead of the axial view)."""
        if name not in self.views:
            raise ValueError(f"unknown view {name!r}")
        self._replaced = getattr(self, "_replaced", {})
        old = self.views[name]
        if old is widget:
            return
        self._replaced.setdefault(name, old)
        self.grid.removeWidget(old)
        old.hide()
        self.views[name] = widget
        self.set_layout(self.mode)

    def restore_view(self, name: str) -> None:
        """Put back the view that :meth:`replace_view` replaced (no-op when none)."""
        old = getattr(self, "_replaced", {}).pop(name, None)
        if old is None:
            return
        cur = self.views[name]
        self.grid.removeWidget(cur)
        cur.hide()
        self.views[name] = old
        self.set_layout(self.mode)

    def replaced(self, name: str) -> bool:
        """True while view ``name`` is replaced."""
        return name in getattr(self, "_replaced", {})
