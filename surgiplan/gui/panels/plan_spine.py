"""The spine group of the Plan panel: a click on a vertebra places a pedicle screw that snaps to
the level and pedicle axis under the cursor (core :mod:`surgiplan.core.planning.screw_snap`), and
the level names (L1..L5) written beside the vertebrae in the 3D view."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from surgiplan.core.planning.anatomy import SPINE_LEVELS
from surgiplan.gui.panels.common import hint

LEVEL_LABELS = "spine_levels"  # the 3D actor of the level names (pyvista adds "-labels")


class SpineSection(QtCore.QObject):
    """"Click places a pedicle screw" (snapped, one undo step), its readout, and level labels."""

    def __init__(self, panel, layout: QtWidgets.QVBoxLayout) -> None:
        super().__init__(panel)
        self.panel = panel
        self.win = panel.win
        self.session = self.win.session
        self.pick = QtWidgets.QCheckBox("Click on a vertebra places a pedicle screw")
        self.pick.setObjectName("pick_screw_3d")
        self.pick.setToolTip("The screw snaps to the level and the pedicle nearest the click: entry point and "
                             "axis from the spine landmarks (fitted on the vertebra when missing), the size the "
                             "pedicle holds; its breach is shown below. Ctrl+Z removes it.")
        self.pick.toggled.connect(self._toggled)
        layout.addWidget(self.pick)
        self.readout = QtWidgets.QLabel("")
        self.readout.setObjectName("screw_readout")
        self.readout.setWordWrap(True)
        layout.addWidget(self.readout)
        layout.addWidget(hint("Breach: largest distance of the screw outside the bone past the entry "
                              "(Gertzbein-Robbins A = contained, B < 2 mm, C < 4, D < 6, E >= 6 mm)."))
        self.last = None

    def _toggled(self, on: bool) -> None:
        if on and self.panel.pick3d.isChecked():
            self.panel.pick3d.setChecked(False)  # one click action at a time
        self.win.view3d.set_click_callback(self.clicked if on else None)
        if on:
            self.win.status("Click on a vertebra in the 3D view to place a pedicle screw there.")

    def clicked(self, lps, actor_name: str = "") -> None:
        """Snap (core ``snap_screw``, a window job: the bone's distance field may be built) and place."""
        plan = self.panel._need_plan()
        if plan is None:
            return
        case, cat = self.session.case, self.panel.catalog()
        point = np.asarray(lps, float)

        def work(progress):
            from surgiplan.core.planning.screw_snap import snap_screw

            return snap_screw(case, plan, point, catalog=cat)

        # after VTK has finished the click (a job started inside its event handler can dead-lock)
        QtCore.QTimer.singleShot(0, lambda: self.win.run_job("Snapping the screw to the pedicle", work,
                                                             lambda snap: self.place(plan, snap)))

    def place(self, plan: str, snap) -> None:
        """Put a snapped screw into the plan (one undo step) and show its level, size and breach."""
        from surgiplan.core.planning.names import human_name
        from surgiplan.core.planning.screw_snap import place_snapped_screw

        imp = self.panel._guard(place_snapped_screw, self.session.case, plan, snap, catalog=self.panel.catalog())
        if imp is None:
            return
        self.last = snap
        text = (f"<b>{human_name(imp.id)}</b>: {snap.level} {snap.side}, {snap.size} mm; breach "
                f"{snap.breach_mm:.1f} mm (grade {snap.grade}"
                + ("" if snap.grade == "A" else f", {snap.breach_direction}") + ")"
                + ("" if snap.trajectory_source == "landmarks" else "; pedicle axis fitted on the model now"))
        self.readout.setText(text)
        self.win.status(f"Screw at {snap.level} {snap.side}: {snap.size}, breach {snap.breach_mm:.1f} mm "
                        f"(grade {snap.grade}); Ctrl+Z removes it")
        self.panel.implant_combo.setCurrentText(imp.id)
        self.panel._show_pose()

    def draw_levels(self, on: bool) -> None:
        """Level names beside each vertebra model in the 3D view (spine cases)."""
        v3, case = self.win.view3d, self.session.case
        pts, names = [], []
        if on and case is not None:
            for lv in SPINE_LEVELS:
                if lv not in case.model_names:
                    continue
                b = np.asarray(case.get_model(lv).bounds).reshape(3, 2)
                # on the patient's right of the body (left in an anterior view), at its middle height
                pts.append([b[0, 0] - 6.0, b[1].mean(), b[2].mean()])
                names.append(lv)

        def sync():
            p = v3.plotter
            if not pts:
                p.remove_actor(f"{LEVEL_LABELS}-labels", render=False)
                return
            p.add_point_labels(np.asarray(pts), names, name=LEVEL_LABELS, font_size=14, bold=True,
                               point_size=1, shape_opacity=0.55, shape_color="#15181c", text_color="#ffd24d",
                               always_visible=True, show_points=False, render=False, reset_camera=False)

        v3.when_ready(sync)
