"""A 2D slice view (axial, coronal or sagittal) of the shared :class:`ViewerState`.

Drawn with QPainter (no OpenGL context per view): greyscale under the current
window/level, the segmentation as a translucent colour overlay, model and
implant outlines where the slice plane cuts them, the linked crosshair,
orientation letters on the four edges and a few corner annotations.

Mouse: left click/drag moves the crosshair (or applies the active tool);
right drag changes window (horizontal) and level (vertical); wheel scrolls
slices (Shift: 10 at a time); Ctrl+wheel zooms; middle drag pans;
double click maximises the view.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.scene import slices as S

VIEW_COLORS = {"axial": "#d9534f", "coronal": "#5cb85c", "sagittal": "#e6c229"}


class SliceView(QtWidgets.QWidget):
    """One of the three orthogonal slice views."""

    maximizeRequested = QtCore.Signal(str)
    #: (view name, LPS mm position, Qt mouse button, keyboard modifiers) for tools
    clicked = QtCore.Signal(str, object, object, object)

    def __init__(self, state, view: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        if view not in S.VIEWS:
            raise ValueError(f"unknown view {view!r}")
        self.state = state
        self.view = view
        self.setObjectName(f"slice_{view}")
        self.setMinimumSize(160, 160)
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.zoom = 1.0
        self.pan = QtCore.QPointF(0, 0)
        self._drag: tuple[str, QtCore.QPointF, tuple] | None = None
        self._hover: np.ndarray | None = None
        self._img_cache: tuple | None = None
        self._outline_cache: dict = {}
        #: optional tool: fn(view, lps, buttons, modifiers, phase) -> True if handled;
        #: phase is "press", "move", "release" or "double" (double click)
        self.tool: Callable | None = None
        #: tools asked before ``tool`` (same signature; e.g. the measuring tools), first to handle wins
        self.tools_first: list[Callable] = []
        #: extra drawing on top of the slice (tool feedback): fn(view, painter) in widget pixels
        self.overlay_painters: list[Callable] = []
        #: brush outline: fn() -> radius in mm of the active brush (drawn as a circle under the
        #: cursor, where the brush sphere cuts this slice), or None when no brush is active
        self.brush_radius: Callable[[], float | None] | None = None
        for sig in (state.volumeChanged, state.crosshairChanged, state.windowChanged,
                    state.overlayChanged, state.outlinesChanged):
            sig.connect(self.update)
        state.volumeChanged.connect(self._reset_view)

    # ----------------------------------------------------------------- geometry
    def _reset_view(self) -> None:
        self.zoom, self.pan = 1.0, QtCore.QPointF(0, 0)
        self._img_cache = None
        self._outline_cache.clear()

    def slice_index(self) -> int:
        st = self.state
        axis = S.VIEW_AXIS[self.view]
        n = S.slice_count(st.grid, self.view)
        return int(np.clip(round(st.crosshair[2 - axis]), 0, n - 1))

    def image_transform(self) -> QtGui.QTransform:
        """Maps slice pixel coordinates (col, row; pixel edges at integers) to widget coordinates."""
        st = self.state
        rows, cols = S.slice_shape(st.grid, self.view)
        pw, ph = S.pixel_mm(st.grid, self.view)
        w, h = self.width(), self.height()
        s = min(w / (cols * pw), h / (rows * ph)) * 0.96 * self.zoom
        x0 = (w - cols * pw * s) / 2 + self.pan.x()
        y0 = (h - rows * ph * s) / 2 + self.pan.y()
        t = QtGui.QTransform()
        t.translate(x0, y0)
        t.scale(pw * s, ph * s)
        return t

    def widget_to_xyz(self, pos: QtCore.QPointF) -> np.ndarray:
        inv, _ = self.image_transform().inverted()
        p = inv.map(QtCore.QPointF(pos))
        return S.pixel_to_xyz(self.state.grid, self.view, self.slice_index(), p.x() - 0.5, p.y() - 0.5)

    def xyz_to_widget(self, xyz) -> QtCore.QPointF:
        col, row, _ = S.xyz_to_pixel(self.state.grid, self.view, xyz)
        return self.image_transform().map(QtCore.QPointF(col + 0.5, row + 0.5))

    # ------------------------------------------------------------------ images
    def _grey_image(self) -> QtGui.QImage:
        st = self.state
        idx = self.slice_index()
        key = (id(st.canon), idx, st.center, st.width, st.loaded_fraction)
        if self._img_cache is not None and self._img_cache[0] == key:
            return self._img_cache[1]
        sl = S.extract_slice(st.canon, self.view, idx)
        g = np.ascontiguousarray(S.window_to_uint8(sl, st.center, st.width))
        img = QtGui.QImage(g.data, g.shape[1], g.shape[0], g.strides[0],
                           QtGui.QImage.Format.Format_Grayscale8).copy()
        self._img_cache = (key, img)
        return img

    def _overlay_images(self) -> list[QtGui.QImage]:
        out = []
        idx = self.slice_index()
        for layer, lut in self.state.overlay_luts():
            sl = S.extract_slice(layer, self.view, idx)
            if not sl.any():
                continue
            rgba = lut[sl]
            # draw each segment's boundary opaque so that the overlay reads at any opacity
            edge = np.zeros(sl.shape, bool)
            edge[1:, :] |= sl[1:, :] != sl[:-1, :]
            edge[:-1, :] |= sl[1:, :] != sl[:-1, :]
            edge[:, 1:] |= sl[:, 1:] != sl[:, :-1]
            edge[:, :-1] |= sl[:, 1:] != sl[:, :-1]
            edge &= rgba[..., 3] > 0
            rgba[edge, 3] = np.maximum(rgba[edge, 3], 230)
            rgba = np.ascontiguousarray(rgba)
            img = QtGui.QImage(rgba.data, rgba.shape[1], rgba.shape[0], rgba.strides[0],
                               QtGui.QImage.Format.Format_RGBA8888).copy()
            out.append(img)
        return out

    def _outlines(self) -> list[tuple[list[np.ndarray], tuple]]:
        st = self.state
        if not st.outlines:
            return []
        from surgiplan.scene.outlines import plane_outline

        idx = self.slice_index()
        w = {"axial": 2, "coronal": 1, "sagittal": 0}[self.view]
        normal = st.volume.direction[:, st.grid.axis_of[w]]
        origin = st.crosshair_world()
        out = []
        for name, (mesh, color) in st.outlines.items():
            key = (name, id(mesh), st.outline_version, idx, id(st.canon))
            pts = self._outline_cache.get(key)
            if pts is None:
                polys = plane_outline(mesh, origin, normal)
                pts = []
                for poly in polys:
                    xyz = st.world_to_xyz(poly)
                    pix = np.array([S.xyz_to_pixel(st.grid, self.view, p)[:2] for p in xyz])
                    pts.append(pix + 0.5)
                if len(self._outline_cache) > 64:
                    self._outline_cache.clear()
                self._outline_cache[key] = pts
            out.append((pts, color))
        return out

    # ------------------------------------------------------------------ paint
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("black"))
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        st = self.state
        accent = QtGui.QColor(VIEW_COLORS[self.view])
        if st.volume is None:
            p.setPen(QtGui.QColor("#7d858f"))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter,
                       f"{self.view.capitalize()}\nOpen a scan from the Data panel")
            self._draw_frame(p, accent)
            p.end()
            return
        t = self.image_transform()
        p.save()
        p.setTransform(t)
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, True)
        p.drawImage(QtCore.QPointF(0, 0), self._grey_image())
        p.setRenderHint(QtGui.QPainter.RenderHint.SmoothPixmapTransform, False)
        for img in self._overlay_images():
            p.drawImage(QtCore.QPointF(0, 0), img)
        p.restore()
        for polys, color in self._outlines():
            pen = QtGui.QPen(QtGui.QColor.fromRgbF(*color), 1.6)
            pen.setCosmetic(True)
            p.setPen(pen)
            for poly in polys:
                if len(poly) < 2:
                    continue
                qp = QtGui.QPolygonF([t.map(QtCore.QPointF(x, y)) for x, y in poly])
                p.drawPolyline(qp)
        for fn in self.overlay_painters:
            p.save()
            fn(self, p)
            p.restore()
        self._draw_brush(p)
        self._draw_crosshair(p)
        self._draw_labels(p)
        self._draw_frame(p, accent)
        p.end()

    def _draw_brush(self, p: QtGui.QPainter) -> None:
        """The brush's circle (its radius in mm on this slice) under the cursor."""
        r_mm = self.brush_radius() if self.brush_radius is not None else None
        if not r_mm or self._hover is None:
            return
        t = self.image_transform()
        pw, ph = S.pixel_mm(self.state.grid, self.view)
        c = self.xyz_to_widget(self._hover)
        rx, ry = r_mm / pw * t.m11(), r_mm / ph * t.m22()
        p.save()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, 160), 3))
        p.drawEllipse(c, rx, ry)
        p.setPen(QtGui.QPen(QtGui.QColor("#ffe066"), 1.5))
        p.drawEllipse(c, rx, ry)
        p.restore()

    def _draw_frame(self, p: QtGui.QPainter, accent: QtGui.QColor) -> None:
        pen = QtGui.QPen(accent if self.hasFocus() else QtGui.QColor(accent.darker(180)), 2)
        p.setPen(pen)
        p.drawRect(self.rect().adjusted(1, 1, -1, -1))

    def _draw_crosshair(self, p: QtGui.QPainter) -> None:
        st = self.state
        c = self.xyz_to_widget(st.crosshair)
        others = [v for v in S.VIEWS if v != self.view]
        gap = 8
        for other in others:
            col = QtGui.QColor(VIEW_COLORS[other])
            col.setAlpha(170)
            pen = QtGui.QPen(col, 1)
            pen.setCosmetic(True)
            p.setPen(pen)
            # the other view's plane is a line: vertical if it fixes the screen-x axis
            vertical = {("axial", "sagittal"), ("coronal", "sagittal"), ("sagittal", "coronal")}
            if (self.view, other) in vertical:
                p.drawLine(QtCore.QPointF(c.x(), 0), QtCore.QPointF(c.x(), c.y() - gap))
                p.drawLine(QtCore.QPointF(c.x(), c.y() + gap), QtCore.QPointF(c.x(), self.height()))
            else:
                p.drawLine(QtCore.QPointF(0, c.y()), QtCore.QPointF(c.x() - gap, c.y()))
                p.drawLine(QtCore.QPointF(c.x() + gap, c.y()), QtCore.QPointF(self.width(), c.y()))

    def _draw_labels(self, p: QtGui.QPainter) -> None:
        st = self.state
        f = p.font()
        f.setPointSizeF(max(8.0, f.pointSizeF()))
        p.setFont(f)
        fm = QtGui.QFontMetrics(f)
        w, h = self.width(), self.height()
        left, right, top, bottom = S.EDGE_LABELS[self.view]
        bold = QtGui.QFont(f)
        bold.setBold(True)
        bold.setPointSizeF(f.pointSizeF() + 2)
        p.setFont(bold)
        p.setPen(QtGui.QColor("#f0c674"))
        bfm = QtGui.QFontMetrics(bold)
        p.drawText(QtCore.QPointF(8, h / 2 + bfm.ascent() / 2), left)
        p.drawText(QtCore.QPointF(w - 8 - bfm.horizontalAdvance(right), h / 2 + bfm.ascent() / 2), right)
        p.drawText(QtCore.QPointF(w / 2 - bfm.horizontalAdvance(top) / 2, 6 + bfm.ascent()), top)
        p.drawText(QtCore.QPointF(w / 2 - bfm.horizontalAdvance(bottom) / 2, h - 8), bottom)
        p.setFont(f)
        p.setPen(QtGui.QColor("#c8ccd2"))
        n = S.slice_count(st.grid, self.view)
        idx = self.slice_index()
        pos = st.crosshair_world()
        axis_mm = {"axial": pos[2], "coronal": pos[1], "sagittal": pos[0]}[self.view]
        lines_tl = [f"{self.view.capitalize()}  {idx + 1}/{n}", f"{axis_mm:.1f} mm"]
        if st.grid.oblique_deg > 1.0:
            lines_tl.append(f"oblique {st.grid.oblique_deg:.0f}°")
        if st.loaded_fraction < 1.0:
            lines_tl.append(f"loading {st.loaded_fraction * 100:.0f} %")
        for i, line in enumerate(lines_tl):
            p.drawText(QtCore.QPointF(10, 8 + fm.ascent() + i * fm.height()), line)
        unit = "HU" if str(st.volume.metadata.get("modality", "")).upper() == "CT" else ""
        wl = f"W {st.width:.0f}  L {st.center:.0f} {unit}".rstrip()
        p.drawText(QtCore.QPointF(10, h - 10), wl)
        if self._hover is not None:
            v = st.value_at(self._hover)
            lps = st.xyz_to_world(self._hover)
            txt = f"({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm LPS"
            if v is not None:
                txt += f"   {v:.0f} {unit}".rstrip()
            p.drawText(QtCore.QPointF(w - 10 - fm.horizontalAdvance(txt), h - 10), txt)

    # ------------------------------------------------------------------ mouse
    def _tool(self, event, phase: str) -> bool:
        tools = [*self.tools_first, *([self.tool] if self.tool is not None else [])]
        if not tools or self.state.volume is None:
            return False
        lps = self.state.xyz_to_world(self.widget_to_xyz(event.position()))
        buttons = event.buttons() or event.button()
        return any(bool(fn(self.view, lps, buttons, event.modifiers(), phase)) for fn in tools)

    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        self.setFocus()
        b = event.button()
        if b == QtCore.Qt.MouseButton.LeftButton:
            if self._tool(event, "press"):
                self._drag = ("tool", event.position(), ())
                return
            self._drag = ("cross", event.position(), ())
            self._move_crosshair(event.position())
            xyz = self.widget_to_xyz(event.position())
            self.clicked.emit(self.view, self.state.xyz_to_world(xyz), b, event.modifiers())
        elif b == QtCore.Qt.MouseButton.RightButton:
            self._drag = ("wl", event.position(), (self.state.center, self.state.width))
        elif b == QtCore.Qt.MouseButton.MiddleButton:
            self._drag = ("pan", event.position(), (self.pan.x(), self.pan.y()))

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self.state.volume is None:
            return
        self._hover = self.widget_to_xyz(event.position())
        if self._drag is None:
            self.update()
            return
        kind, start, init = self._drag
        d = event.position() - start
        if kind == "cross":
            self._move_crosshair(event.position())
        elif kind == "tool":
            self._tool(event, "move")
            if self.brush_radius is not None:
                self.update()  # the brush outline follows the cursor
        elif kind == "wl":
            c0, w0 = init
            scale = max(w0, 50.0) / 300.0
            self.state.set_window(c0 - d.y() * scale, max(1.0, w0 + d.x() * scale * 2))
        elif kind == "pan":
            self.pan = QtCore.QPointF(init[0] + d.x(), init[1] + d.y())
            self.update()

    def mouseReleaseEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None and self._drag[0] == "tool":
            self._tool(event, "release")
        self._drag = None

    def mouseDoubleClickEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self._tool(event, "double"):
            return
        self.maximizeRequested.emit(self.view)

    def leaveEvent(self, event: QtCore.QEvent) -> None:  # noqa: N802
        self._hover = None
        self.update()

    def _move_crosshair(self, pos: QtCore.QPointF) -> None:
        xyz = self.widget_to_xyz(pos)
        axis = 2 - S.VIEW_AXIS[self.view]
        xyz[axis] = self.state.crosshair[axis]
        self.state.set_crosshair(xyz)

    def scroll(self, steps: int) -> None:
        """Move ``steps`` slices (positive: towards L, P or S)."""
        if self.state.volume is None:
            return
        xyz = self.state.crosshair.copy()
        xyz[2 - S.VIEW_AXIS[self.view]] = self.slice_index() + steps
        self.state.set_crosshair(xyz)

    def wheelEvent(self, event: QtGui.QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        mods = event.modifiers()
        if mods & QtCore.Qt.KeyboardModifier.ControlModifier:
            self.zoom = float(np.clip(self.zoom * (1.15 ** steps), 0.25, 20.0))
            self.update()
            return
        n = 10 if mods & QtCore.Qt.KeyboardModifier.ShiftModifier else 1
        self.scroll(int(np.sign(steps)) * max(1, int(abs(steps))) * n)

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802
        k = event.key()
        Key = QtCore.Qt.Key
        if k in (Key.Key_Up, Key.Key_Right):
            self.scroll(1)
        elif k in (Key.Key_Down, Key.Key_Left):
            self.scroll(-1)
        elif k == Key.Key_PageUp:
            self.scroll(10)
        elif k == Key.Key_PageDown:
            self.scroll(-10)
        elif k == Key.Key_R:
            self._reset_view()
            self.update()
        else:
            super().keyPressEvent(event)
