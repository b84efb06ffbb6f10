"""An oblique reformat view: the scan resampled along or across a line (core ``imaging/reformat.py``).

Shown in place of the axial view (``ViewLayout.replace_view``) with a "Back to axial"
button. The line is two clicked points, an implant's axis (a pedicle screw's trajectory)
or a segment of a vessel's centreline. Two modes: *Along the line* (the plane holding the
line, rows from its first point) and *Across the line* (the cross-section perpendicular to
it, moved along the line with the slider or the mouse wheel). Window/level follows the
slice views'. Pixel spacing is the scan's smallest voxel spacing, stated in the corner.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.scene import slices as S


class ReformatView(QtWidgets.QWidget):
    """The reformat image with its controls; ``backRequested`` when the user goes back to axial."""

    backRequested = QtCore.Signal()

    def __init__(self, state, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reformat_view")
        self.state = state
        self.p0 = self.p1 = None
        self.title = ""
        self.reformat = None
        self._qimage = None
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        self.mode = QtWidgets.QComboBox()
        self.mode.setObjectName("reformat_mode")
        self.mode.addItem("Along the line", "along")
        self.mode.addItem("Across the line", "cross")
        self.mode.currentIndexChanged.connect(self._recompute)
        self.position = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.position.setObjectName("reformat_position")
        self.position.setRange(0, 100)
        self.position.setValue(50)
        self.position.setToolTip("Where the cross-section cuts the line (first point 0 %, second 100 %)")
        self.position.valueChanged.connect(self._recompute)
        self.back = QtWidgets.QPushButton("Back to axial")
        self.back.setObjectName("reformat_back")
        self.back.clicked.connect(self.backRequested)
        bar.addWidget(self.mode)
        bar.addWidget(self.position, 1)
        bar.addWidget(self.back)
        self.canvas = _Canvas(self)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(bar)
        lay.addWidget(self.canvas, 1)
        state.windowChanged.connect(self._rewindow)
        state.volumeChanged.connect(self._recompute)

    def set_line(self, p0, p1, title: str = "", mode: str | None = None) -> None:
        """Reformat along the line ``p0`` -> ``p1`` (LPS mm)."""
        self.p0, self.p1 = np.asarray(p0, float), np.asarray(p1, float)
        self.title = title
        if mode is not None:
            self.mode.blockSignals(True)
            self.mode.setCurrentIndex(self.mode.findData(mode))
            self.mode.blockSignals(False)
        self._recompute()

    def _recompute(self) -> None:
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.imaging.reformat import along_line, cross_section

        vol = self.state.volume
        self.position.setEnabled(self.mode.currentData() == "cross")
        if vol is None or self.p0 is None:
            self.reformat = None
        else:
            try:
                if self.mode.currentData() == "cross":
                    self.reformat = cross_section(vol, self.p0, self.p1, at=self.position.value() / 100.0,
                                                  size_mm=100.0)
                else:
                    length = float(np.linalg.norm(self.p1 - self.p0))
                    self.reformat = along_line(vol, self.p0, self.p1, width_mm=max(80.0, 0.8 * length),
                                               margin_mm=max(15.0, 0.25 * length))
            except SurgiplanError as exc:
                self.reformat = None
                self.title = str(exc)
        self._rewindow()

    def _rewindow(self) -> None:
        self._qimage = None
        if self.reformat is not None:
            g = S.window_to_uint8(self.reformat.image, self.state.center, self.state.width)
            g = np.ascontiguousarray(g)
            self._qimage = QtGui.QImage(g.data, g.shape[1], g.shape[0], g.strides[0],
                                        QtGui.QImage.Format.Format_Grayscale8).copy()
        self.canvas.update()

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:  # noqa: N802 - Qt API
        if self.mode.currentData() == "cross":
            self.position.setValue(self.position.value() + (1 if event.angleDelta().y() > 0 else -1))


class _Canvas(QtWidgets.QWidget):
    def __init__(self, view: ReformatView) -> None:
        super().__init__(view)
        self.view = view
        self.setMinimumSize(160, 160)

    def image_rect(self) -> QtCore.QRectF:
        """Where the reformat image is drawn (square pixels, fitted, centred), widget pixels."""
        img = self.view._qimage
        if img is None:
            return QtCore.QRectF()
        s = min(self.width() / img.width(), self.height() / img.height()) * 0.96
        w, h = img.width() * s, img.height() * s
        return QtCore.QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt API
        v = self.view
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("black"))
        pen = QtGui.QColor("#e0e0e0")
        if v._qimage is not None and v.reformat is not None:
            rect = self.image_rect()
            p.drawImage(rect, v._qimage)
            r = v.reformat
            s = rect.width() / v._qimage.width()
            p.setPen(QtGui.QPen(QtGui.QColor("#ffb347"), 1.5, QtCore.Qt.PenStyle.DashLine))
            if v.mode.currentData() == "along":  # the line itself, first point to second
                a, b = (r.world_to_pixel(q) for q in (v.p0, v.p1))
                p.drawLine(QtCore.QPointF(rect.left() + (a[1] + 0.5) * s, rect.top() + (a[0] + 0.5) * s),
                           QtCore.QPointF(rect.left() + (b[1] + 0.5) * s, rect.top() + (b[0] + 0.5) * s))
            else:  # where the line pierces the plane
                c = r.world_to_pixel(v.p0 + v.position.value() / 100.0 * (v.p1 - v.p0))
                cx, cy = rect.left() + (c[1] + 0.5) * s, rect.top() + (c[0] + 0.5) * s
                p.drawLine(QtCore.QPointF(cx - 8, cy), QtCore.QPointF(cx + 8, cy))
                p.drawLine(QtCore.QPointF(cx, cy - 8), QtCore.QPointF(cx, cy + 8))
            # 10 mm scale bar
            p.setPen(QtGui.QPen(pen, 2))
            y = self.height() - 12
            p.drawLine(QtCore.QPointF(10, y), QtCore.QPointF(10 + 10.0 / r.spacing * s, y))
            p.drawText(QtCore.QPointF(14 + 10.0 / r.spacing * s, y + 4), "10 mm")
            length = float(np.linalg.norm(v.p1 - v.p0))
            info = (f"{'Along' if v.mode.currentData() == 'along' else 'Across'} the line · {length:.1f} mm"
                    + ("" if v.mode.currentData() == "along" else f" · at {v.position.value() / 100 * length:.1f} mm")
                    + f" · pixel {r.spacing:.2f} mm")
        else:
            info = "Reformat: pick two points (Reformat tool) or select an implant"
        title = "Reformat" + (f" – {v.title}" if v.title else "")
        fm = QtGui.QFontMetricsF(p.font())
        w = max(fm.horizontalAdvance(title), fm.horizontalAdvance(info)) + 12
        p.fillRect(QtCore.QRectF(4, 4, w, 36), QtGui.QColor(0, 0, 0, 150))  # legible over the image
        p.setPen(pen)
        p.drawText(QtCore.QPointF(10, 18), title)
        p.drawText(QtCore.QPointF(10, 34), info)
        p.end()
