"""Measuring by hand in the views: ruler, angle, diameter, and the oblique reformat.

A tool bar (Ruler, Angle, Diameter, Reformat, Measurements) above the views. With a
measuring tool on, left clicks in a slice view (or on a surface in the 3D view) place
points (LPS mm):

* Ruler: two points, the length in mm;
* Angle: three points, the angle at the second one in degrees;
* Diameter: two points across the lumen; or, holding Shift from the second click on, three
  or more points on the wall and a last click without Shift: the diameter of the fitted
  circle (core ``measurements/manual.py``).

The value is drawn beside the line with its unit, and the measurement is added to the
current plan as one undo step (``Case.add_manual_measurement``); the Measurements table
(a dock) lists the plan's hand measurements with Delete. Reformat: two clicked points (or
the selected implant's axis when one is selected) replace the axial view by the reformat
along / across that line (:class:`ReformatView`, "Back to axial" returns).
The window never computes: values come from ``measure`` as ``surgiplan plan measure`` does.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.scene import slices as S

TOOLS = (("ruler", "Ruler", "Length between two clicked points (mm)"),
         ("angle", "Angle", "Angle at the second of three clicked points (°)"),
         ("diameter", "Diameter", "Two points across the lumen; or Shift+click 3+ points on the wall, "
                                  "last click without Shift: circle fit (mm)"),
         ("reformat", "Reformat", "Reformat along a line: two clicked points, or the selected implant's "
                                  "axis; shown instead of the axial view"))
COLOR = QtGui.QColor("#7fdbff")
ACTIVE = QtGui.QColor("#ffdc00")


class MeasureTools(QtCore.QObject):
    """The measuring tool bar, the table dock and the drawing of hand measurements in the views."""

    def __init__(self, win) -> None:
        super().__init__(win)
        from surgiplan.gui.views.reformat_view import ReformatView

        self.win = win
        self.session = win.session
        self.kind: str | None = None
        self.points: list[np.ndarray] = []
        self.view: str | None = None
        self.toolbar = QtWidgets.QToolBar("Measure", win)
        self.toolbar.setObjectName("measure_toolbar")
        self.actions: dict[str, QtGui.QAction] = {}
        for kind, label, tip in TOOLS:
            a = QtGui.QAction(label, self.toolbar)
            a.setObjectName(f"measure_{kind}")
            a.setCheckable(True)
            a.setToolTip(tip)
            a.toggled.connect(lambda on, k=kind: self._toggled(k, on))
            self.toolbar.addAction(a)
            self.actions[kind] = a
        self.toolbar.addSeparator()
        self.table_action = QtGui.QAction("Measurements", self.toolbar)
        self.table_action.setObjectName("measure_table_toggle")
        self.table_action.setCheckable(True)
        self.table_action.setToolTip("Show the plan's hand measurements")
        self.toolbar.addAction(self.table_action)
        win.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.toolbar)

        self.dock = QtWidgets.QDockWidget("Measurements", win)
        self.dock.setObjectName("measure_dock")
        body = QtWidgets.QWidget()
        lay = QtWidgets.QVBoxLayout(body)
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setObjectName("measure_table")
        self.table.setHorizontalHeaderLabels(["Name", "Value", "Kind", "How", "View"])
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.delete_btn = QtWidgets.QPushButton("Delete")
        self.delete_btn.setObjectName("measure_delete")
        self.delete_btn.setToolTip("Remove the selected hand measurements from the plan (Del; undoable)")
        self.delete_btn.clicked.connect(self.delete_selected)
        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Delete), self.table, self.delete_selected)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.delete_btn)
        self.dock.setWidget(body)
        win.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()
        self.table_action.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(self.table_action.setChecked)

        for v in win.slice_views.values():
            v.tools_first.append(self._slice_event)
            v.overlay_painters.append(self._paint)
        win.view3d.click_first.append(self._pick3d)
        win.plansChanged.connect(self.refresh)
        win.caseChanged.connect(self.refresh)
        self.reformat_view = ReformatView(win.state)
        self.reformat_view.backRequested.connect(self.back_to_axial)

    # ------------------------------------------------------------------ state
    def plan(self):
        """The current plan (core Plan) or None."""
        case, name = self.session.case, self.session.current_plan
        if case is None or name not in case.plans:
            return None
        return case.plans[name]

    def _need_plan(self) -> str | None:
        if self.win.state.volume is None:
            self.win.status("Open a scan first (Data).")
            return None
        case = self.win.ensure_case()
        if not case.plans:
            case.new_plan("Plan A")
            self.session.current_plan = "Plan A"
        if self.session.current_plan not in case.plans:
            self.session.current_plan = next(iter(case.plans))
        return self.session.current_plan

    def _toggled(self, kind: str, on: bool) -> None:
        if on:
            for k, a in self.actions.items():
                if k != kind and a.isChecked():
                    a.setChecked(False)
            self.kind, self.points, self.view = kind, [], None
            if kind == "reformat":
                if self._reformat_selected_implant():
                    self.actions["reformat"].setChecked(False)
                    return
                self.win.status("Reformat: click two points of the line in a slice view.")
            else:
                self.dock.show()
                self.win.status(f"{kind.capitalize()}: {dict((t[0], t[2]) for t in TOOLS)[kind]}.")
        elif self.kind == kind:
            self.kind, self.points, self.view = None, [], None
        self._update_views()

    def _update_views(self) -> None:
        for v in self.win.slice_views.values():
            v.update()

    # ------------------------------------------------------------------ input
    def _slice_event(self, view, lps, buttons, mods, phase) -> bool:
        if self.kind is None:
            return False
        if phase == "press":
            self._add_point(view, lps, mods)
        return True  # the tool owns the left button (no crosshair move, no paint) while it is on

    def _pick3d(self, lps, actor_name) -> bool:
        if self.kind is None or self.kind == "reformat":
            return False
        self._add_point("3d", lps, QtWidgets.QApplication.keyboardModifiers())
        return True

    def _add_point(self, view: str, lps, mods) -> None:
        if self.points and view != self.view:
            self.points = []  # a measurement lies in one view
        self.view = view
        self.points.append(np.asarray(lps, float))
        n, shift = len(self.points), bool(mods & QtCore.Qt.KeyboardModifier.ShiftModifier)
        done = {"ruler": n == 2, "angle": n == 3, "reformat": n == 2,
                "diameter": n >= 2 and not shift}[self.kind]
        if done:
            self._finish()
        self._update_views()

    def _finish(self) -> None:
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.planning.measurements.manual import measure, next_name

        pts, kind, view = list(self.points), self.kind, self.view
        self.points = []
        if kind == "reformat":
            self.show_reformat(pts[0], pts[1], "two clicked points")
            self.actions["reformat"].setChecked(False)
            return
        plan_name = self._need_plan()
        if plan_name is None:
            return
        case = self.session.case
        try:
            m = measure(kind, pts, next_name(kind, case.plan(plan_name).manual), view=view or "")
            case.add_manual_measurement(plan_name, m)
        except SurgiplanError as exc:
            self.win.status(str(exc))
            return
        self.win.status(f"{m.text()} ({m.method}) added to {plan_name}")

    # ------------------------------------------------------------------ reformat
    def _reformat_selected_implant(self) -> bool:
        case, sel = self.session.case, self.session.selection.get("implant")
        plan = self.plan()
        if case is None or plan is None or sel not in plan.implants:
            return False
        t = plan.implants[sel].transform
        o, z = t[:3, 3], t[:3, 2]
        self.show_reformat(o - 10.0 * z, o + 50.0 * z, f"axis of {sel}")
        return True

    def show_reformat(self, p0, p1, title: str = "", mode: str = "along") -> None:
        """Show the reformat along the line ``p0`` -> ``p1`` (LPS mm) instead of the axial view."""
        self.win.layout_widget.replace_view("axial", self.reformat_view)
        self.reformat_view.set_line(p0, p1, title, mode)

    def back_to_axial(self) -> None:
        self.win.layout_widget.restore_view("axial")

    # ------------------------------------------------------------------ table
    def refresh(self) -> None:
        from surgiplan.core.units import format_value

        plan = self.plan()
        items = list(plan.manual.values()) if plan is not None else []
        self.table.setRowCount(len(items))
        for r, m in enumerate(items):
            for c, text in enumerate((m.name, format_value(m.value, m.unit), m.kind, m.method, m.view)):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._update_views()
        self._draw_3d(items)

    def delete_selected(self) -> None:
        from surgiplan.core.errors import SurgiplanError

        plan = self.plan()
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if plan is None or not rows:
            self.win.status("Select the measurements to delete in the table.")
            return
        names = [self.table.item(r, 0).text() for r in rows]
        try:
            for n in names:
                self.session.case.remove_manual_measurement(plan.name, n)
        except SurgiplanError as exc:
            self.win.status(str(exc))
            return
        self.win.status(f"Removed {', '.join(names)} from {plan.name} (Ctrl+Z brings it back)")

    # ------------------------------------------------------------------ drawing
    def _on_slice(self, sv, lps) -> np.ndarray | None:
        """Widget point of ``lps`` when it lies on ``sv``'s slice (within half a voxel), else None."""
        xyz = self.win.state.world_to_xyz(np.asarray(lps, float))
        axis = 2 - S.VIEW_AXIS[sv.view]
        if abs(xyz[axis] - sv.slice_index()) > 0.5 + 1e-6:
            return None
        return xyz

    def _paint(self, sv, p: QtGui.QPainter) -> None:
        plan = self.plan()
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        if plan is not None:
            for m in plan.manual.values():
                xyz = [self._on_slice(sv, q) for q in m.points]
                if any(x is None for x in xyz):
                    continue
                self._draw(sv, p, m.kind, m.points, [sv.xyz_to_widget(x) for x in xyz], m.text(), COLOR)
        if self.kind is not None and self.points and self.view == sv.view:
            pts = list(self.points)
            if sv._hover is not None:  # rubber band to the cursor
                pts.append(self.win.state.xyz_to_world(sv._hover))
            px = [sv.xyz_to_widget(self.win.state.world_to_xyz(q)) for q in pts]
            self._draw(sv, p, self.kind, pts, px, self._live_text(pts), ACTIVE)

    def _live_text(self, pts) -> str:
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.planning.measurements.manual import measure
        from surgiplan.core.units import format_value

        kind = "ruler" if self.kind == "reformat" else self.kind
        need = {"ruler": 2, "angle": 3, "diameter": 2}[kind]
        if len(pts) < need or (kind != "diameter" and len(pts) > need):
            return ""
        try:
            m = measure(kind, pts, "live")
        except SurgiplanError:
            return ""
        return format_value(m.value, m.unit)

    def _draw(self, sv, p: QtGui.QPainter, kind: str, lps, px, text: str, color: QtGui.QColor) -> None:
        pen = QtGui.QPen(color, 2)
        p.setPen(pen)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        if kind == "diameter" and len(lps) >= 3:
            self._draw_circle(sv, p, lps)
        elif len(px) >= 2:
            p.drawPolyline(QtGui.QPolygonF(px))
        if kind == "angle" and len(px) == 3:
            a1 = np.degrees(np.arctan2(-(px[0].y() - px[1].y()), px[0].x() - px[1].x()))
            a2 = np.degrees(np.arctan2(-(px[2].y() - px[1].y()), px[2].x() - px[1].x()))
            span = (a2 - a1 + 180) % 360 - 180
            p.drawArc(QtCore.QRectF(px[1].x() - 18, px[1].y() - 18, 36, 36), int(a1 * 16), int(span * 16))
        for q in px:
            p.drawEllipse(q, 3.0, 3.0)
        if text:
            pos = self._label_pos(p, kind, px, text)
            path = QtGui.QPainterPath()
            f = p.font()
            f.setBold(True)
            p.setFont(f)
            path.addText(pos, f, text)
            p.strokePath(path, QtGui.QPen(QtGui.QColor(0, 0, 0, 200), 3))
            p.fillPath(path, color)

    @staticmethod
    def _label_pos(p: QtGui.QPainter, kind: str, px, text: str) -> QtCore.QPointF:
        """Where the value goes: beside a line's middle (off the line), outside an angle's vertex
        (opposite its arms), else beside the last point."""
        fm = QtGui.QFontMetricsF(p.font())
        w, h = fm.horizontalAdvance(text), fm.height()
        pts = [np.array([q.x(), q.y()]) for q in px]
        if kind == "angle" and len(pts) == 3:
            u = [(pts[i] - pts[1]) / max(np.linalg.norm(pts[i] - pts[1]), 1e-9) for i in (0, 2)]
            b = -(u[0] + u[1])
            b = b / np.linalg.norm(b) if np.linalg.norm(b) > 1e-6 else np.array([0.0, -1.0])
            c = pts[1] + 22 * b
        elif len(pts) == 2 or (kind in ("ruler", "reformat") and len(pts) >= 2):
            d = pts[-1] - pts[-2]
            n = np.array([d[1], -d[0]]) / max(np.linalg.norm(d), 1e-9)
            if n[1] > 0:
                n = -n  # above the line
            c = 0.5 * (pts[-1] + pts[-2]) + (10 + 0.5 * h) * n
        else:
            return px[-1] + QtCore.QPointF(8, -8)
        return QtCore.QPointF(c[0] - 0.5 * w, c[1] + 0.35 * h)

    def _draw_circle(self, sv, p: QtGui.QPainter, lps) -> None:
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.planning.measurements.manual import fit_circle

        try:
            fit = fit_circle(np.asarray(lps, float))
        except SurgiplanError:
            return
        n = fit.normal
        u = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        u /= np.linalg.norm(u)
        v = np.cross(n, u)
        t = np.linspace(0, 2 * np.pi, 73)
        ring = fit.centre + fit.radius * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * v)
        st = self.win.state
        p.drawPolyline(QtGui.QPolygonF([sv.xyz_to_widget(st.world_to_xyz(q)) for q in ring]))

    def _draw_3d(self, items) -> None:
        v3 = self.win.view3d
        pl = v3.plotter
        if pl is None:
            return
        import pyvista as pv

        old = [n for n in pl.actors if str(n).startswith(("measure:", "measure_label:"))]
        for n in old:
            pl.remove_actor(n, render=False)
        for m in items:
            pts = np.asarray(m.points, float)
            if m.kind == "diameter" and len(pts) >= 3:
                from surgiplan.core.planning.measurements.manual import fit_circle

                fit = fit_circle(pts)
                u = np.cross(fit.normal, [1.0, 0.0, 0.0] if abs(fit.normal[0]) < 0.9 else [0.0, 1.0, 0.0])
                u /= np.linalg.norm(u)
                w = np.cross(fit.normal, u)
                t = np.linspace(0, 2 * np.pi, 73)
                pts = fit.centre + fit.radius * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * w)
            line = pv.lines_from_points(pts)
            pl.add_mesh(line, color=COLOR.name(), line_width=3, name=f"measure:{m.name}", pickable=False,
                        render=False)
            pl.add_point_labels([m.points[-1]], [m.text()], name=f"measure_label:{m.name}", font_size=14,
                                text_color=COLOR.name(), shape_opacity=0.4, always_visible=True,
                                render=False)
        if old or items:
            pl.render()
