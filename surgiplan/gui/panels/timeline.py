"""The Data step's scan timeline: the case's scans (planning, post-op, follow-up), registration of a
later scan to the planning scan, and any two timepoints shown fused, as a checkerboard or as their
difference; the implants found in a registered post-op scan drawn beside the planned ones in the 3D
view. Thin: the work is :mod:`surgiplan.core.twin` (``register_scan``, ``timeline_pair``,
``achieved_vs_planned``), the same calls as ``surgiplan case register`` and ``surgiplan plan achieved``."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.gui.panels.common import button, hint, row

MODE_LABELS = {"fused": "Fused colour", "checkerboard": "Checkerboard", "difference": "Difference"}
#: 3D colours of the planned (blue) and achieved (gold) implants, as in docs/images/twin
PLANNED_COLOR, ACHIEVED_COLOR = (0.35, 0.55, 0.95), (0.95, 0.75, 0.25)


class TimelineGroup:
    """Widgets of the timeline, put into a panel's group layout ``g``."""

    def __init__(self, win, g: QtWidgets.QVBoxLayout) -> None:
        self.win = win
        self.box = g.parentWidget()  # the group box: hidden while no case is open
        # the controls show only when the case has a later scan to compare (the panel stays short,
        # without a scroll bar, for the usual one-scan case)
        self.controls = QtWidgets.QWidget()
        self.controls.setObjectName("timeline_controls")
        outer, g = g, QtWidgets.QVBoxLayout(self.controls)
        g.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.controls)
        self.list = QtWidgets.QTreeWidget()
        self.list.setObjectName("timeline_list")
        self.list.setHeaderLabels(["Scan", "Kind", "Date", "Registered"])
        self.list.setRootIsDecorated(False)
        self.list.setMinimumHeight(70)
        self.list.setMaximumHeight(110)
        g.addWidget(self.list)
        self.a_combo, self.b_combo = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        self.a_combo.setObjectName("timeline_a")
        self.b_combo.setObjectName("timeline_b")
        self.mode_combo = QtWidgets.QComboBox()
        self.mode_combo.setObjectName("timeline_mode")
        for key, label in MODE_LABELS.items():
            self.mode_combo.addItem(label, key)
        self.bone_combo = QtWidgets.QComboBox()
        self.bone_combo.setObjectName("timeline_bone")
        self.bone_combo.setToolTip("Register on this bone of the planning scan only (or the whole scan)")
        g.addLayout(row(QtWidgets.QLabel("A"), self.a_combo, QtWidgets.QLabel("B"), self.b_combo))
        g.addLayout(row(QtWidgets.QLabel("Show"), self.mode_combo,
                        button("Show A and B", self.show_pair, "Both scans on the planning grid, axial "
                               "over coronal", name="timeline_show")))
        g.addLayout(row(QtWidgets.QLabel("Bone"), self.bone_combo,
                        button("Register B", self.register_b, "Register scan B rigidly to the planning "
                               "scan (writes to_planning.tfm)", name="timeline_register")))
        g.addLayout(row(button("Link A and B", self.link_pair, "Scans A and B side by side in slice views with "
                               "the cursor linked through the registration; A can show B fused, as a "
                               "checkerboard or as their difference", name="timeline_link")))
        self.linked = None  # the LinkedTimepoints window, made on first use
        g.addLayout(row(button("Show achieved implants", self.show_achieved, "Find the current plan's implants "
                               "in scan B (registered post-op CT) and draw them (gold) beside the planned ones "
                               "(blue) in the 3D view", name="timeline_achieved")))
        self.achieved = None  # the last AchievedReport shown
        self.picture = QtWidgets.QLabel()
        self.picture.setObjectName("timeline_picture")
        self.picture.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        g.addWidget(self.picture)
        self.note = hint("Open a case; add later scans with `surgiplan case add-scan`.")
        self.note.setObjectName("timeline_note")
        outer.addWidget(self.note)
        self.last_rgb: np.ndarray | None = None
        win.caseChanged.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Fill the list and the pickers from the open case."""
        from surgiplan.core.twin.timeline import timeline

        case = self.win.case
        self.list.clear()
        for c in (self.a_combo, self.b_combo, self.bone_combo):
            c.clear()
        rows = timeline(case) if case is not None else []
        for t in rows:
            item = QtWidgets.QTreeWidgetItem([t["name"], t["kind"], t["date"] or "-",
                                              "yes" if t["registered"] else "no"])
            if t.get("bones"):  # bones registered on their own (to_planning.<bone>.tfm)
                item.setToolTip(3, "own transforms for: " + ", ".join(t["bones"]))
            self.list.addTopLevelItem(item)
            self.a_combo.addItem(t["name"])
            self.b_combo.addItem(t["name"])
        if len(rows) > 1:
            self.b_combo.setCurrentIndex(len(rows) - 1)
        self.bone_combo.addItem("whole scan", None)
        if case is not None and rows and case.model.scans[0].segmentation:
            try:
                for n in case.segmentation(None).names:
                    self.bone_combo.addItem(n, n)
            except Exception:  # noqa: BLE001 - a damaged segmentation must not break the list
                pass
        self.note.setText("" if len(rows) > 1 else "The case has no later scan: add one with "
                          "`surgiplan case add-scan CASE DICOM_DIR --date YYYY-MM-DD`.")
        self.note.setVisible(len(rows) <= 1)
        self.controls.setVisible(len(rows) > 1)
        if self.box is not None:
            self.box.setVisible(case is not None)

    def show_pair(self) -> None:
        """Compute (in the background) and show A and B in the chosen mode."""
        case, a, b, mode = self.win.case, self.a_combo.currentText(), self.b_combo.currentText(), \
            self.mode_combo.currentData()
        if case is None or not a or not b:
            return

        def job(progress):
            from surgiplan.core.twin.overlay import timeline_pair

            progress.update(0.1, f"{a} and {b}")
            return timeline_pair(case, a, b, mode)

        self.win.run_job(f"Showing {a} and {b}", job, self._show)

    def _show(self, rgb: np.ndarray) -> None:
        self.last_rgb = rgb
        h, w, _ = rgb.shape
        data = np.ascontiguousarray(rgb)
        img = QtGui.QImage(data.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()
        width = max(200, self.list.width())
        self.picture.setPixmap(QtGui.QPixmap.fromImage(img).scaledToWidth(
            width, QtCore.Qt.TransformationMode.SmoothTransformation))

    def link_pair(self) -> None:
        """Open A and B in linked slice views (core ``timepoint_map`` and ``pair_on_grid``; the chosen
        bone's own transform when it has one)."""
        case, a, b, bone = self.win.case, self.a_combo.currentText(), self.b_combo.currentText(), \
            self.bone_combo.currentData()
        if case is None or not a or not b:
            return

        def job(progress):
            from surgiplan.core.twin.overlay import pair_on_grid
            from surgiplan.core.twin.timeline import scan_volume, timepoint_map

            progress.update(0.1, f"{b} on the grid of {a}")
            a_to_b = timepoint_map(case, a, b, bone)
            va, b_on_a = pair_on_grid(case, a, b, bone)
            return va, scan_volume(case, b), b_on_a, a_to_b

        def done(res):
            from surgiplan.gui.panels.timeline_linked import LinkedTimepoints

            va, vb, b_on_a, a_to_b = res
            if self.linked is None:
                self.linked = LinkedTimepoints(self.win)
            self.linked.mode_combo.setCurrentIndex(self.linked.mode_combo.findData(
                self.mode_combo.currentData()))
            self.linked.set_pair((a, b), va, vb, b_on_a, a_to_b)
            self.linked.show()
            self.linked.raise_()

        self.win.run_job(f"Linking {a} and {b}", job, done)

    def register_b(self) -> None:
        """Register scan B to the planning scan (core ``register_scan``, as ``surgiplan case register``)."""
        case, b, bone = self.win.case, self.b_combo.currentText(), self.bone_combo.currentData()
        if case is None or not b:
            return

        def job(progress):
            from surgiplan.core.twin.timeline import register_scan

            return register_scan(case, b, bone, progress=progress)

        def done(reg):
            self.refresh()
            self.b_combo.setCurrentText(b)
            self.win.status(f"Registered {b} to the planning scan: rotation {reg.rotation_deg:.2f} deg, "
                            f"{reg.metric} {reg.final_metric:.4g}; save the case to keep it")
            self.win.update_title()

        self.win.run_job(f"Registering {b}", job, done)

    def show_achieved(self) -> None:
        """Find the current plan's implants in scan B (core ``achieved_vs_planned``, as ``surgiplan plan
        achieved``) and draw planned and achieved implants in the 3D view."""
        case, b = self.win.case, self.b_combo.currentText()
        if case is None or not b:
            return
        plan = self.win.current_plan if self.win.current_plan in case.plans else next(iter(case.plans), None)
        if plan is None:
            self.win.status("The case has no plan: make one first, then find its implants in the post-op scan.")
            return

        def job(progress):
            from surgiplan.core.twin.achieved import achieved_vs_planned

            return achieved_vs_planned(case, plan, b, progress=progress)

        self.win.run_job(f"Finding the implants of {plan} in {b}", job, self._draw_achieved)

    def _draw_achieved(self, rep) -> None:
        from surgiplan.core.planning.catalog import default_catalog

        self.achieved = rep
        cat = default_catalog()
        plan = self.win.case.plan(rep.plan)
        v3 = self.win.view3d
        with v3.batch():
            v3.set_opacity_prefixed("model:", 0.45)  # the implants sit inside the bone
            v3.remove_prefixed("twin_planned:")
            v3.remove_prefixed("twin_achieved:")
            for r in rep.implants:
                imp = plan.implants.get(r.id)
                if imp is None or imp.catalog_id not in cat:
                    continue
                geo = cat.get(imp.catalog_id).geometry(imp.size, imp.options or None)
                v3.set_surface(f"twin_planned:{r.id}", geo.transformed(r.planned).merged(), PLANNED_COLOR,
                               opacity=0.5, render=False)
                if r.found and r.achieved is not None:
                    v3.set_surface(f"twin_achieved:{r.id}", geo.transformed(r.achieved).merged(), ACHIEVED_COLOR,
                                   render=False)
        found = [r for r in rep.implants if r.found]
        worst = max(found, key=lambda r: np.linalg.norm(list(r.translation_mm.values())), default=None)
        text = (f"{len(found)} of {len(rep.implants)} implants of {rep.plan} found in {rep.scan} (gold: achieved, "
                "blue: planned)")
        if worst is not None:
            text += (f"; largest offset {worst.id}: {np.linalg.norm(list(worst.translation_mm.values())):.1f} mm, "
                     f"{worst.rotation_deg:.1f} deg")
        self.win.status(text)
