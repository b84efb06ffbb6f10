"""Simulate: run a case study (biomechanics, blood flow) on a saved plan, see its results.

The panel lists the registry's studies (:mod:`surgiplan.core.simulation.case_studies`), runs the
chosen one on the chosen plan in a background job with the same core call as ``surgiplan simulate
CASE --plan P --study S`` (progress and Cancel in the status bar), and shows the finished study:
its key results as a table (what ``--json`` prints under ``key_results``), and ``surface.vtp``
coloured by a display field with a scalar bar naming the field and its unit in the 3D view. Two
plans' stored results of the same study can be shown side by side in the table (Compare with).
"""

from __future__ import annotations

import json
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from surgiplan.gui.panels.common import Panel, button, hint, row

NONE = "(none)"
#: Fast settings for a first look (a study's defaults are finer and P2).
QUICK = {"degree": 1, "element_size_mm": 5.0}


class SimulatePanel(Panel):
    """The Simulate step."""

    def __init__(self, win) -> None:
        super().__init__(win, "Simulate", "Biomechanics of the planned implant under published loads; blood flow.")
        g = self.group("Study")
        self.study = QtWidgets.QComboBox()
        self.study.setObjectName("simulate_study")
        self.plan = QtWidgets.QComboBox()
        self.plan.setObjectName("simulate_plan")
        self.quick = QtWidgets.QCheckBox("Quick (P1, 5 mm elements)")
        self.quick.setObjectName("simulate_quick")
        self.quick.setChecked(True)
        g.addLayout(row(QtWidgets.QLabel("Study"), self.study))
        g.addLayout(row(QtWidgets.QLabel("Plan"), self.plan))
        g.addWidget(self.quick)
        self.describe = hint("")
        g.addWidget(self.describe)
        self.run_button = button("Run", self.run, "Run the study in the background (Cancel in the status bar)",
                                 primary=True)
        self.run_button.setObjectName("simulate_run")
        g.addWidget(self.run_button)
        r = self.group("Results")
        self.field = QtWidgets.QComboBox()
        self.field.setObjectName("simulate_field")
        self.compare = QtWidgets.QComboBox()
        self.compare.setObjectName("simulate_compare")
        r.addLayout(row(QtWidgets.QLabel("Colour by"), self.field))
        r.addLayout(row(QtWidgets.QLabel("Compare with"), self.compare))
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setObjectName("simulate_table")
        self.table.setHorizontalHeaderLabels(["Region", "Result", "Plan", "Compared"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(260)
        r.addWidget(self.table)
        self.info = hint("")
        r.addWidget(self.info)
        self.finish()
        #: the options of a Quick run (a study's own defaults otherwise)
        self.quick_options = dict(QUICK)
        self.summary: dict | None = None
        self.folder: Path | None = None
        self.scalar_bar_title: str | None = None
        self.study.currentTextChanged.connect(lambda _: self.refresh_results())
        self.plan.currentTextChanged.connect(lambda _: self.refresh_results())
        self.compare.currentTextChanged.connect(lambda _: self._fill_table())
        self.field.currentIndexChanged.connect(lambda _: self.show_surface())
        # leaving the step takes the result surface and its scalar bar out of the 3D view
        stack = getattr(win, "panel_stack", None)
        if stack is not None:
            stack.currentChanged.connect(lambda _: None if stack.currentWidget() is self else self.hide_surface())

    # ------------------------------------------------------------------ lists
    def activated(self) -> None:
        from surgiplan.core.simulation.case_studies import list_studies

        case = self.session.case
        cur_s, cur_p = self.study.currentText(), self.plan.currentText()
        self.study.blockSignals(True)
        self.plan.blockSignals(True)
        self.study.clear()
        self._studies = {s["name"]: s for s in list_studies()}
        for name, s in self._studies.items():
            self.study.addItem(name)
            if not s["available"]:
                item = self.study.model().item(self.study.count() - 1)
                item.setEnabled(False)
                item.setToolTip("not available in this build")
        self.plan.clear()
        if case is not None:
            self.plan.addItems(list(case.plans))
        if cur_s in self._studies and self._studies[cur_s]["available"]:
            self.study.setCurrentText(cur_s)
        if cur_p and case is not None and cur_p in case.plans:
            self.plan.setCurrentText(cur_p)
        elif self.session.current_plan:
            self.plan.setCurrentText(self.session.current_plan)
        self.study.blockSignals(False)
        self.plan.blockSignals(False)
        self.refresh_results()
        # the window sets the models' opacity after activating a step: show the result after that
        QtCore.QTimer.singleShot(0, self.show_surface)

    # -------------------------------------------------------------------- run
    def run(self) -> bool:
        """Start the study; False (with the reason in the status bar) when it cannot start."""
        from surgiplan.core.simulation.case_studies import run_case_study

        case = self.session.case
        study, plan = self.study.currentText(), self.plan.currentText()
        if case is None or not plan or not study:
            return self._error("Open a case with a plan first.")
        if case.dirty:
            return self._error("Save the case first: the study runs on the saved plan (File > Save).")
        options = dict(self.quick_options) if self.quick.isChecked() and not self.quick.isHidden() else {}
        root = Path(case.root)

        def job(progress):
            return run_case_study(root, plan, study, progress=progress, options=options)

        def done(summary) -> None:
            from surgiplan.core.case import Case

            # the study recorded itself in case.json: take the saved StudyRef into the open case
            saved = Case.open(root)
            case.model.studies = saved.model.studies
            self.refresh_results()

        return self.win.jobs.submit(f"{study} on plan {plan}", job, on_done=done) is not None

    def _error(self, message: str) -> bool:
        self.win.last_error = message
        self.win.show_error(message)
        return False

    # ---------------------------------------------------------------- results
    def _summary_of(self, plan: str, study: str) -> tuple[dict | None, Path | None]:
        case = self.session.case
        if case is None:
            return None, None
        for ref in case.model.studies:
            if ref.plan == plan and ref.name == f"{plan}--{study}":
                folder = Path(case.root) / ref.path
                try:
                    return json.loads((folder / "summary.json").read_text(encoding="utf-8")), folder
                except (OSError, ValueError):
                    return None, None
        return None, None

    def refresh_results(self) -> None:
        study, plan = self.study.currentText(), self.plan.currentText()
        s = self._studies.get(study) if hasattr(self, "_studies") else None
        self.describe.setText(s["description"] if s else "")
        # the Quick settings (P1, coarse elements) belong to the elasticity studies; a flow study's mesh
        # follows the vessel radius and its P2-P1 element cannot be lowered, so the box is hidden there
        self.quick.setVisible(not s or s.get("physics") != "flow")
        self.summary, self.folder = self._summary_of(plan, study)
        case = self.session.case
        self.compare.blockSignals(True)
        self.compare.clear()
        self.compare.addItem(NONE)
        if case is not None:
            for p in case.plans:
                if p != plan and self._summary_of(p, study)[0] is not None:
                    self.compare.addItem(p)
        self.compare.blockSignals(False)
        self.field.blockSignals(True)
        self.field.clear()
        for f in (self.summary or {}).get("display_fields", []):
            self.field.addItem(f"{f['label']} ({f['unit']})", f)
        self.field.blockSignals(False)
        self.info.setText("" if self.summary else "No stored result of this study for this plan: Run it.")
        self._fill_table()
        self.show_surface()

    def rows(self) -> list[tuple[str, str, str]]:
        """(region, label, 'value unit') of the key results shown, in order."""
        return [(r["region"], r["label"], _fmt(r)) for r in (self.summary or {}).get("key_results", [])]

    def _fill_table(self) -> None:
        other = None
        if self.compare.currentText() not in ("", NONE):
            other, _ = self._summary_of(self.compare.currentText(), self.study.currentText())
        theirs = {(r["region"], r["label"]): r for r in (other or {}).get("key_results", [])}
        rows = (self.summary or {}).get("key_results", [])
        self.table.setRowCount(len(rows))
        for i, r in enumerate(rows):
            o = theirs.get((r["region"], r["label"]))
            for j, text in enumerate((r["region"], r["label"], _fmt(r), _fmt(o) if o else "")):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.table.resizeColumnsToContents()

    def _remove_surface(self, plotter) -> None:
        plotter.remove_actor("simulation:surface", reset_camera=False, render=False)
        old = getattr(self, "scalar_bar_title", None)
        if old and old in plotter.scalar_bars:
            plotter.remove_scalar_bar(old, render=False)
        self.scalar_bar_title = None

    def hide_surface(self) -> None:
        """Take the result surface and its scalar bar out of the 3D view (on leaving the step)."""
        plotter = getattr(self.win.view3d, "plotter", None)
        if plotter is None or ("simulation:surface" not in plotter.actors and not self.scalar_bar_title):
            return
        self._remove_surface(plotter)
        self.win.view3d.set_opacity_prefixed("model:", 1.0)  # the window then sets its step's opacity
        plotter.render()

    def show_surface(self) -> None:
        """surface.vtp coloured by the chosen field, with a scalar bar titled with the field and unit."""
        plotter = getattr(self.win.view3d, "plotter", None)
        if plotter is None:
            return
        self._remove_surface(plotter)
        f = self.field.currentData()
        if not f or self.folder is None or not (self.folder / "surface.vtp").is_file():
            self.win.view3d.set_opacity_prefixed("model:", 1.0)
            plotter.render()
            return
        # the bone models would hide the result surface (it lies on them): see-through while shown
        self.win.view3d.set_opacity_prefixed("model:", 0.12)
        import pyvista as pv

        surf = pv.read(self.folder / "surface.vtp")
        title = f"{f['label']} ({f['unit']})"
        plotter.add_mesh(surf, scalars=f["name"], clim=f["range"], cmap="jet", name="simulation:surface",
                         scalar_bar_args={"title": title, "vertical": True, "position_x": 0.8, "position_y": 0.1,
                                          "height": 0.6, "title_font_size": 14}, reset_camera=False)
        self.scalar_bar_title = title
        plotter.render()


def _fmt(r: dict) -> str:
    v = r["value"]
    return f"{v:.4g} {r['unit']}" if isinstance(v, int | float) else f"{v} {r['unit']}"
