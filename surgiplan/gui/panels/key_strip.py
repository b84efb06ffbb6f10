"""The always-visible strip of key measurements above the views (core ``key_measurements``).

One compact cell per quantity (label over value), coloured by its target: green inside,
orange outside, grey when missing or without a target. The Plan panel feeds it on every
measurement update (also live while an implant is dragged).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

COLORS = {"in": "#2fa35f", "out": "#e07b24", "none": "#c8ced6", "missing": "#7d858f"}


class KeyStrip(QtWidgets.QFrame):
    """A row of key measurement cells (``set_rows`` with core ``KeyValue`` rows)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("key_strip")
        self.setFrameShape(QtWidgets.QFrame.Shape.StyledPanel)
        self.setStyleSheet("#key_strip { background: #1d2127; border: 1px solid #2c323a; border-radius: 4px; }")
        self._lay = QtWidgets.QHBoxLayout(self)
        self._lay.setContentsMargins(8, 3, 8, 3)
        self._lay.setSpacing(18)
        self.title = QtWidgets.QLabel("")
        self.title.setStyleSheet("color: #9aa3ad; font-size: 11px;")
        self._lay.addWidget(self.title)
        self._cells: list[tuple[QtWidgets.QLabel, QtWidgets.QLabel]] = []
        self._lay.addStretch(1)
        self.rows: list = []
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        self.hide()

    def set_rows(self, rows, title: str = "") -> None:
        """Show ``rows`` (core ``KeyValue``); hidden when there are none."""
        self.rows = list(rows)
        self.title.setText(title)
        while len(self._cells) < len(self.rows):
            box = QtWidgets.QVBoxLayout()
            box.setSpacing(0)
            name, val = QtWidgets.QLabel(), QtWidgets.QLabel()
            name.setStyleSheet("color: #9aa3ad; font-size: 11px;")
            val.setObjectName(f"key_value_{len(self._cells)}")
            box.addWidget(name)
            box.addWidget(val)
            self._lay.insertLayout(1 + len(self._cells), box)
            self._cells.append((name, val))
        for i, (name, val) in enumerate(self._cells):
            if i >= len(self.rows):
                name.hide()
                val.hide()
                continue
            r = self.rows[i]
            name.show()
            val.show()
            name.setText(r.label)
            val.setText(r.text)
            val.setStyleSheet(f"color: {COLORS.get(r.status, COLORS['none'])}; font-weight: 600; font-size: 14px;")
            tgt = "" if r.target is None else f"target {r.target[0]:g} to {r.target[1]:g}"
            tip = ", ".join(x for x in (tgt, {"in": "in range", "out": "OUT of range"}.get(r.status, "")) if x)
            val.setToolTip(f"<b>{r.label}</b> ({r.key}) {tip}<br>{r.definition}")
            name.setToolTip(val.toolTip())
        self.setVisible(bool(self.rows))

    def text_of(self, label: str) -> str | None:
        """The value shown for ``label`` (tests)."""
        for i, r in enumerate(self.rows):
            if r.label == label:
                return self._cells[i][1].text()
        return None

    def color_of(self, label: str) -> str | None:
        """The status of ``label`` ('in', 'out', 'none', 'missing'; tests)."""
        return next((r.status for r in self.rows if r.label == label), None)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt API
        s = super().sizeHint()
        return QtCore.QSize(s.width(), max(s.height(), 38))
