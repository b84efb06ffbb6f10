"""Plan panel, resection planes (knee): distal femoral and proximal tibial cuts.

Numeric fields (depth mm, varus/valgus deg, slope deg) and a 3D plane widget
both set the core resection (``case.set_resection``, one undo step per edit or
per drag). The cut planes are drawn as translucent squares in 3D with the bone
to be removed in red (core :func:`~surgiplan.core.planning.resection.resect`, which
cuts the mesh). While the plane is dragged, the resected thickness readout follows
from the bone's vertices alone (core
:func:`~surgiplan.core.planning.resection.resection_thickness`, a few ms on a
200k-triangle femur instead of ~0.5 s for a cut), throttled to one update per
``LIVE_MS``; the mesh is cut again (red part, removed volume) when the drag ends.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore, QtWidgets

from surgiplan.core.planning.knee_cuts import CUTS, cut_geometry, cut_parameters, set_knee_cut
from surgiplan.gui.panels.common import button, hint, row

LIVE_MS = 50
PLANE_COLORS = {"distal_femur": (1.0, 0.80, 0.25), "proximal_tibia": (0.30, 0.85, 0.95)}
REMOVED_COLOR = (0.90, 0.22, 0.18)


class ResectionSection(QtCore.QObject):
    """The "Resections" group of the Plan panel and the cut planes in the 3D view."""

    def __init__(self, panel, layout: QtWidgets.QVBoxLayout) -> None:
        super().__init__(panel)
        self.panel = panel
        self.win = panel.win
        self.session = self.win.session
        self.cut_combo = QtWidgets.QComboBox()
        self.cut_combo.setObjectName("cut_combo")
        for name, spec in CUTS.items():
            self.cut_combo.addItem(spec[4], name)
        self.cut_combo.currentIndexChanged.connect(lambda *_: self.refresh())
        self.remove_button = button("Remove cut", self.remove_cut,
                                    "Remove the selected cut from the plan (Ctrl+Z brings it back)",
                                    name="remove_cut")
        self.remove_button.setEnabled(False)
        layout.addWidget(self.cut_combo)
        layout.addLayout(row(button("Add / reset cut", self.add_cut,
                                    "Cut perpendicular to the mechanical axis at the "
                                    "default depth", name="add_cut"), self.remove_button))
        grid = QtWidgets.QGridLayout()
        self.fields: dict[str, QtWidgets.QDoubleSpinBox] = {}
        for c, (key, label, suffix, lo, hi) in enumerate((
                ("depth", "Depth", " mm", -5.0, 30.0), ("varus", "Var/valg", " °", -15.0, 15.0),
                ("slope", "Slope", " °", -15.0, 15.0))):
            sb = QtWidgets.QDoubleSpinBox()
            sb.setObjectName(f"cut_{key}")
            sb.setRange(lo, hi)
            sb.setDecimals(1)
            sb.setSingleStep(0.5 if key == "depth" else 1.0)
            sb.setSuffix(suffix)
            sb.setKeyboardTracking(False)
            sb.valueChanged.connect(self._fields_edited)
            grid.addWidget(QtWidgets.QLabel(label), 0, 2 * c)
            grid.addWidget(sb, 0, 2 * c + 1)
            self.fields[key] = sb
        layout.addLayout(grid)
        self.handle = QtWidgets.QCheckBox("3D plane handle (drag the plane or its normal arrow)")
        self.handle.setObjectName("cut_handle")
        self.handle.toggled.connect(lambda *_: self._draw())
        layout.addWidget(self.handle)
        self.readout = QtWidgets.QLabel("")
        self.readout.setObjectName("cut_readout")
        self.readout.setWordWrap(True)
        layout.addWidget(self.readout)
        layout.addWidget(hint("Depth from the most distal femoral / highest tibial plateau point "
                              "along the mechanical axis; varus/valgus positive = varus; slope "
                              "positive = posterior slope. Needs the hip, knee and ankle centres."))
        self._updating = False
        self._plane_widget = None
        self._live_plane: tuple[np.ndarray, np.ndarray] | None = None
        self._live_timer = QtCore.QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_MS)
        self._live_timer.timeout.connect(self._live_update)
        self._removed = None
        self._resect_cache: tuple | None = None  # (bone mesh, cut key, ResectionResult)
        self.thickness: dict[str, float] = {}
        self.live_updates = 0
        self.live_ms: list[float] = []

    # ------------------------------------------------------------ context
    def current_cut(self) -> str:
        return self.cut_combo.currentData()

    def _plan(self):
        case, name = self.session.case, self.session.current_plan
        if case is None or not name or name not in case.plans:
            return None
        return case.plan(name)

    def _geometry(self, cut: str):
        """(frame, reference point, bone mesh) of ``cut`` (core ``cut_geometry``)."""
        return cut_geometry(self.session.case, self.session.current_plan, cut)

    def available(self) -> bool:
        case = self.session.case
        return case is not None and all(CUTS[c][0] in case.model_names for c in CUTS)

    # -------------------------------------------------------------- edits
    def add_cut(self) -> None:
        """Put the selected cut at its default depth, perpendicular to the axis (one undo step)."""
        cut = self.current_cut()
        if self.panel._need_plan() is None:
            return
        if CUTS[cut][0] not in self.session.case.model_names:
            self.win.status(f"Build the {CUTS[cut][0]} model first (Models).")
            return
        self._set(cut, CUTS[cut][2], 0.0, CUTS[cut][3], "add")

    def remove_cut(self) -> None:
        """Remove the selected cut from the current plan (core ``remove_resection``; one undo step)."""
        plan, cut = self._plan(), self.current_cut()
        if plan is None or cut not in plan.resections:
            self.win.status("No such cut in this plan.")
            return
        self.panel._guard(self.session.case.remove_resection, self.session.current_plan, cut)
        if cut not in plan.resections:
            self.win.status(f"{CUTS[cut][4]} removed (Ctrl+Z brings it back).")

    def _set(self, cut: str, depth: float, varus: float, slope: float, verb: str) -> None:
        # the core workflow of `surgiplan plan cut` (one undo step)
        if self.panel._guard(set_knee_cut, self.session.case, self.session.current_plan, cut, depth, varus,
                             slope) is None:
            return
        self.win.status(f"{CUTS[cut][4]} ({verb}): depth {depth:.1f} mm, varus/valgus {varus:.1f}°, "
                        f"slope {slope:.1f}°")

    def _fields_edited(self) -> None:
        if self._updating:
            return
        plan, cut = self._plan(), self.current_cut()
        if plan is None or cut not in plan.resections:
            return
        f = self.fields
        self._set(cut, f["depth"].value(), f["varus"].value(), f["slope"].value(), "edit")

    def commit_plane(self, origin, normal) -> None:
        """Make the dragged plane the cut (one undo step); the panel's refresh then cuts the mesh.

        If the core refuses (e.g. locked plan), the plan's own cut is shown again.
        """
        from surgiplan.core.planning import Resection

        self._live_timer.stop()
        self._live_plane = None
        cut = self.current_cut()
        rs = Resection(cut, CUTS[cut][0], np.asarray(origin, float),
                       np.asarray(normal, float) / np.linalg.norm(normal))
        from surgiplan.core.planning.cut_components import apply_cut

        # core apply_cut: the cut and the components seated on it, one undo step
        done = self.panel._guard(lambda: apply_cut(self.session.case, self.session.current_plan, rs,
                                                   catalog=self.panel.catalog()) is not None)
        if not done:
            self.refresh()

    # ------------------------------------------------------------ display
    def refresh(self) -> None:
        """Fields, readout and 3D planes from the current plan."""
        plan, cut = self._plan(), self.current_cut()
        res = plan.resections.get(cut) if plan is not None else None
        vals = None
        if res is not None:
            try:
                frame, point, _ = self._geometry(cut)
                vals = cut_parameters(cut, frame, point, res.origin, res.normal)
            except Exception:  # noqa: BLE001 - landmarks missing: fields stay empty
                vals = None
        locked = plan is not None and plan.is_locked
        self.remove_button.setEnabled(res is not None and not locked)
        self._updating = True
        for k, sb in self.fields.items():
            sb.setEnabled(vals is not None and not locked)
            if vals is not None:
                sb.setValue(vals[("depth", "varus", "slope").index(k)])
        self._updating = False
        self._show_thickness(res.origin if res is not None else None, res.normal if res is not None else None)
        self._draw()

    def _show_thickness(self, origin, normal, live: bool = False) -> None:
        """Resected thickness per compartment, as the knee measurement defines it.

        ``live`` (while the plane is dragged): thickness from the bone's vertices only
        (core ``resection_thickness``), no cut mesh and no removed volume; otherwise the
        mesh is cut (core ``resect``) for the red removed part and its volume.
        """
        cut = self.current_cut()
        self._removed = None
        self.thickness = {}
        if origin is None:
            self.readout.setText("No cut yet." if self.available() else
                                 "Resections need the femur and tibia models (knee).")
            return
        from surgiplan.core.planning.resection import resect, resection_thickness

        try:
            frame, _, mesh = self._geometry(cut)
        except Exception as exc:  # noqa: BLE001 - landmarks missing
            self.readout.setText(str(exc))
            return
        knee = (frame.knee_femur + frame.knee_tibia) / 2
        from surgiplan.core.planning.measurements.knee import compartment_split

        split = compartment_split(knee, frame.side)  # the measurements' split: same halves
        lateral = split["split_normal"]
        if live:
            h = resection_thickness(mesh.points, origin, normal, **split).by_half_mm
            self.thickness = dict(h)
            self.readout.setText(f"<b>Resected thickness</b>: lateral {h['lateral']:.1f} mm, medial "
                                 f"{h['medial']:.1f} mm; removed volume when released")
            return
        key = (cut, np.asarray(origin, float).tobytes(), np.asarray(normal, float).tobytes(),
               knee.tobytes(), lateral.tobytes())
        cached = self._resect_cache
        if cached is not None and cached[0] is mesh and cached[1] == key:
            r = cached[2]  # e.g. an implant moved: the same cut of the same bone (0.5 s saved)
        else:
            r = resect(mesh, origin, normal, **split)
            self._resect_cache = (mesh, key, r)  # holds the mesh, so its identity stays valid
        h = r.thickness_by_half_mm
        self.thickness = dict(h)
        self.readout.setText(f"<b>Resected thickness</b>: lateral {h['lateral']:.1f} mm, medial "
                             f"{h['medial']:.1f} mm; removed {r.removed_volume_mm3 / 1000:.1f} mL")
        self._removed = r.removed

    @staticmethod
    def _plane_square(bone, origin, normal):
        """The drawn square of a cut plane: 1.35 times the bone's width, centred on it."""
        from surgiplan.scene.scene3d import cut_plane_mesh

        b = np.asarray(bone.bounds).reshape(3, 2)
        size = float(max(b[0, 1] - b[0, 0], b[1, 1] - b[1, 0])) * 1.35
        return cut_plane_mesh(origin, normal, size, b.mean(axis=1))

    def _draw_slice_lines(self, cuts: dict) -> None:
        """Each cut as a line in the slice views (where its plane crosses the slice), in the
        cut's colour; the square is wider than the bone, so the line crosses it."""
        st = self.win.state
        for n in [n for n in st.outlines if n.startswith("cut:") and n.split(":", 1)[1] not in cuts]:
            st.set_outline(n, None, (0, 0, 0))
        for name, rs in cuts.items():
            try:
                mesh = self.session.case.get_model(rs.model)
            except Exception:  # noqa: BLE001 - model gone
                continue
            st.set_outline(f"cut:{name}", self._plane_square(mesh, rs.origin, rs.normal),
                           PLANE_COLORS.get(name, (0.9, 0.9, 0.5)))

    def _draw(self) -> None:
        v3 = self.win.view3d
        plan = self._plan()
        self._draw_slice_lines(dict(plan.resections) if plan is not None else {})
        if v3.plotter is None:
            v3.when_ready(self._draw)
            return
        p = v3.plotter
        cuts = dict(plan.resections) if plan is not None else {}
        from surgiplan.scene.scene3d import add_surface

        for n in [n for n in p.actors if str(n).startswith(("cut:", "removed:"))]:
            if n.split(":", 1)[1] not in cuts:
                p.remove_actor(n, render=False)
        for name, rs in cuts.items():
            try:
                mesh = self.session.case.get_model(rs.model)
            except Exception:  # noqa: BLE001 - model gone
                continue
            o, nrm = rs.origin, rs.normal
            if self._live_plane is not None and name == self.current_cut():
                o, nrm = self._live_plane
            add_surface(p, self._plane_square(mesh, o, nrm), f"cut:{name}",
                        color=PLANE_COLORS.get(name, (0.9, 0.9, 0.5)), opacity=0.45)
            if name == self.current_cut() and getattr(self, "_removed", None) is not None \
                    and self._removed.n_cells:
                add_surface(p, self._removed, f"removed:{name}", color=REMOVED_COLOR, opacity=0.85)
            else:
                p.remove_actor(f"removed:{name}", render=False)
        self._sync_widget(cuts)
        p.render()

    def _sync_widget(self, cuts) -> None:
        p = self.win.view3d.plotter
        cut = self.current_cut()
        want = self.handle.isChecked() and cut in cuts
        if self._plane_widget is not None:
            p.clear_plane_widgets()
            self._plane_widget = None
        if not want:
            return
        rs = cuts[cut]
        mesh = self.session.case.get_model(rs.model)
        w = p.add_plane_widget(self._dragging, normal=tuple(rs.normal), origin=tuple(rs.origin),
                               bounds=mesh.bounds, factor=1.1, implicit=True, interaction_event="always",
                               test_callback=False, outline_opacity=0.0,
                               color=PLANE_COLORS.get(cut, (0.9, 0.9, 0.5)))
        w.AddObserver("EndInteractionEvent", self._released)
        self._plane_widget = w

    # -------------------------------------------------------------- drag
    def _dragging(self, normal, origin) -> None:
        """Plane widget moved: preview the cut (throttled)."""
        self._live_plane = (np.asarray(origin, float), np.asarray(normal, float))
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _live_update(self) -> None:
        if self._live_plane is None:
            return
        t0 = time.perf_counter()
        o, n = self._live_plane
        self._show_thickness(o, n, live=True)  # vertices only: the mesh is cut on release
        try:
            frame, point, _ = self._geometry(self.current_cut())
            vals = cut_parameters(self.current_cut(), frame, point, o, n)
            self._updating = True
            for k, v in zip(("depth", "varus", "slope"), vals, strict=True):
                self.fields[k].setValue(v)
        except Exception:  # noqa: BLE001 - no landmarks: fields not shown
            pass
        finally:
            self._updating = False
        p = self.win.view3d.plotter
        from surgiplan.scene.scene3d import add_surface

        cut = self.current_cut()
        mesh = self.session.case.get_model(CUTS[cut][0])
        p.remove_actor(f"removed:{cut}", render=False)  # stale until the cut is redone on release
        # an interactive frame (the widget's drag keeps the window at its interactive rate)
        add_surface(p, self._plane_square(mesh, o, n), f"cut:{cut}",
                    color=PLANE_COLORS.get(cut, (0.9, 0.9, 0.5)), opacity=0.45, render=True)
        self.live_updates += 1
        self.live_ms.append((time.perf_counter() - t0) * 1000)

    def _released(self, widget, _event) -> None:
        if self._live_plane is None:
            return
        plane = widget.GetOrigin(), widget.GetNormal()
        QtCore.QTimer.singleShot(0, lambda: self.commit_plane(*plane))

    def shutdown(self) -> None:
        self._live_timer.stop()
