"""Simulate: run a case study (biomechanics, blood flow) on a saved plan, see its results.

The panel lists the registry's studies (:mod:`surgiplan.core.simulation.case_studies`), runs the
chosen one on the chosen plan in a background job with the same core call as ``surgiplan simulate
CASE --plan P --study S`` (progress and Cancel in the status bar), and shows the finished study:
its key results as a table (what ``--json`` prints under ``key_results``), and ``surface.vtp``
coloured by a display field with a scalar bar naming the field and its unit in the 3D view. Two
plans' stored results of the same study can be shown side by side in the table (Compare with).

A steady vessel study on a plan with a stent runs the native lumen too (the same core call, see
:func:`surgiplan.core.simulation.vessel.case_study.run_pre_post`): the panel then shows the native
(before) and stented (after) surfaces side by side in the 3D view, coloured by the same field on the
same scale and labelled, and the pre/post table (``pre_post.rows`` of ``--json``), or why the native
result is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from surgiplan.core.units import format_result
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
        # flow studies: the inflow (mL/s); 0 keeps the study's own (20 mL/s at rest, 50 in exercise)
        self.inflow = QtWidgets.QDoubleSpinBox()
        self.inflow.setObjectName("simulate_inflow")
        self.inflow.setRange(0.0, 200.0)
        self.inflow.setDecimals(1)
        self.inflow.setSuffix(" mL/s")
        self.inflow.setSpecialValueText("study default")
        self.inflow.setToolTip("Inlet flow of a blood-flow study (mL/s); the native and stented lumens get the "
                               "same inflow and outlet resistances")
        self.inflow_row = QtWidgets.QWidget()
        lay = row(QtWidgets.QLabel("Inflow"), self.inflow)
        lay.setContentsMargins(0, 0, 0, 0)
        self.inflow_row.setLayout(lay)
        g.addWidget(self.inflow_row)
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
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(260)
        fit_columns(self.table, RESULT_WIDTHS)
        r.addWidget(self.table)
        self.prepost_title = QtWidgets.QLabel("")
        self.prepost_title.setObjectName("simulate_prepost_title")
        self.prepost_title.setWordWrap(True)
        r.addWidget(self.prepost_title)
        self.prepost = QtWidgets.QTableWidget(0, len(PREPOST_HEADERS))
        self.prepost.setObjectName("simulate_prepost")
        self.prepost.setHorizontalHeaderLabels(PREPOST_HEADERS)
        self.prepost.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.prepost.setMinimumHeight(220)
        fit_columns(self.prepost, PREPOST_WIDTHS)
        r.addWidget(self.prepost)
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
        if not self.inflow_row.isHidden() and self.inflow.value() > 0:
            options["flow_mL_s"] = round(float(self.inflow.value()), 3)
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
        self.inflow_row.setVisible(bool(s) and s.get("physics") == "flow")
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
        self._fill_prepost()
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
        self.table._fit.shares = RESULT_COMPARED_WIDTHS if other is not None else RESULT_WIDTHS
        for i, r in enumerate(rows):
            o = theirs.get((r["region"], r["label"]))
            for j, text in enumerate((r["region"], r["label"], _fmt(r), _fmt(o) if o else "")):
                self.table.setItem(i, j, QtWidgets.QTableWidgetItem(text))
        self.table._fit.apply()

    def prepost_rows(self) -> list[tuple[str, ...]]:
        """(quantity, before, after, change) as shown in the pre/post table, in order (the region is the
        quantity's tooltip)."""
        rows = ((self.summary or {}).get("pre_post") or {}).get("rows", [])
        return [(r["quantity"], *(prepost_text(r.get(k), r.get("unit")) for k in ("pre", "post", "change")))
                for r in rows]

    def _fill_prepost(self) -> None:
        pp = (self.summary or {}).get("pre_post")
        self.prepost.setVisible(bool(pp))
        self.prepost_title.setVisible(bool(pp))
        if not pp:
            self.prepost.setRowCount(0)
            self.prepost_title.setText("")
            return
        nat, same = pp.get("native", {}), pp.get("same_physiology", {})
        if nat.get("status") == "failed":
            text = (f"<b>Before the stent: no result.</b> The native lumen did not solve: {nat.get('reason')} "
                    f"{nat.get('hint') or ''}")
        else:
            how = "stored result reused" if nat.get("status") == "reused" else "solved with this run"
            text = (f"<b>Before (native lumen) and after the stent</b>: inflow {same.get('inflow_mL_s')} mL/s, "
                    f"the same outlet resistances "
                    f"({'checked' if same.get('identical_before_and_after') else 'NOT identical'}); native {how}.")
        self.prepost_title.setText(text)
        rows = self.prepost_rows()
        regions = [r.get("region") or "" for r in pp.get("rows", [])]
        self.prepost.setRowCount(len(rows))
        for i, cells in enumerate(rows):
            for j, t in enumerate(cells):
                item = QtWidgets.QTableWidgetItem(t)
                item.setToolTip(f"{cells[0]} ({regions[i]})" if regions[i] else cells[0])
                self.prepost.setItem(i, j, item)
        self.prepost.resizeRowsToContents()

    def native_folder(self) -> Path | None:
        """Folder of the native (pre-stent) result shown beside the plan's, or None."""
        nat = ((self.summary or {}).get("pre_post") or {}).get("native", {})
        case = self.session.case
        if case is None or nat.get("status") == "failed" or not nat.get("folder"):
            return None
        folder = Path(case.root) / nat["folder"]
        return folder if (folder / "surface.vtp").is_file() else None

    def _remove_surface(self, plotter) -> None:
        # pyvista names the label actors '<name>-points' and '<name>-labels'
        for name in [n for n in plotter.actors if str(n).startswith(("simulation:native", "simulation:label"))]:
            plotter.remove_actor(name, reset_camera=False, render=False)
        plotter.remove_actor("simulation:surface", reset_camera=False, render=False)
        old = getattr(self, "scalar_bar_title", None)
        if old and old in plotter.scalar_bars:
            plotter.remove_scalar_bar(old, render=False)
        self.scalar_bar_title = None

    def hide_surface(self) -> None:
        """Take the result surface and its scalar bar out of the 3D view (on leaving the step)."""
        plotter = getattr(self.win.view3d, "plotter", None)
        if plotter is None or ("simulation:surface" not in plotter.actors and not self.scalar_bar_title
                               and "simulation:native" not in plotter.actors):
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
        clim = list(f["range"])
        native = self.native_folder()
        first_pair = False
        if native is not None:
            # before (native lumen) to the patient's right of after (stented), the same field on one scale
            pre = pv.read(native / "surface.vtp")
            other = next((g for g in self._native_fields(native) if g["name"] == f["name"]), None)
            if other is not None:
                clim = [min(clim[0], other["range"][0]), max(clim[1], other["range"][1])]
            b0, b1 = surf.bounds, pre.bounds
            shift = (b1[1] - b0[0]) + 0.25 * (b0[1] - b0[0]) + 10.0  # mm along LPS x
            pre = pre.translate((-shift, 0.0, 0.0), inplace=False)
            first_pair = "simulation:native" not in plotter.actors and not getattr(self, "_pair_shown", False)
            if f["name"] in pre.point_data or f["name"] in pre.cell_data:
                plotter.add_mesh(pre, scalars=f["name"], clim=clim, cmap="jet", name="simulation:native",
                                 show_scalar_bar=False, reset_camera=False)
            stent = (self.summary or {}).get("setup", {}).get("stent", "stent")
            tops = [(pre.center[0], pre.center[1], pre.bounds[5] + 5.0), (surf.center[0], surf.center[1],
                                                                          surf.bounds[5] + 5.0)]
            # one call per label: the label mapper hides labels that would overlap each other
            size = str(stent).split(":")[0].split()[-1]
            for tag, top, text in (("pre", tops[0], "before"), ("post", tops[1], f"after (stent {size})")):
                plotter.add_point_labels(np.array([top]), [text], name=f"simulation:label-{tag}", font_size=14,
                                         point_size=1, shape_opacity=0.6, always_visible=True, reset_camera=False)
        scalars = f["name"]
        if f.get("bone_only") and "region_id" in surf.point_data and f["name"] in surf.point_data:
            # a bone-only field (CT-mapped modulus): the implant light grey, off the colour scale
            values = np.asarray(surf.point_data[f["name"]], float).copy()
            values[np.asarray(surf.point_data["region_id"]) >= 0.5] = np.nan
            surf.point_data["_shown"] = values
            scalars = "_shown"
        plotter.add_mesh(surf, scalars=scalars, clim=clim, cmap="jet", name="simulation:surface",
                         nan_color="lightgrey",
                         scalar_bar_args={"title": title, "vertical": True, "position_x": 0.8, "position_y": 0.1,
                                          "height": 0.6, "title_font_size": 14}, reset_camera=False)
        self.scalar_bar_title = title
        if first_pair:
            self._pair_shown = True
            plotter.reset_camera()
        plotter.render()

    @staticmethod
    def _native_fields(folder: Path) -> list[dict]:
        try:
            return json.loads((folder / "summary.json").read_text(encoding="utf-8")).get("display_fields", [])
        except (OSError, ValueError):
            return []


PREPOST_HEADERS = ["Quantity", "Before", "After", "Change"]
#: share of the table's width per column (the panel is 400-520 px wide: no horizontal scrolling; text wraps)
PREPOST_WIDTHS = (0.37, 0.21, 0.21, 0.21)
RESULT_WIDTHS = (0.3, 0.4, 0.3, 0.0)  # 'Compared' shown when comparing
RESULT_COMPARED_WIDTHS = (0.26, 0.3, 0.22, 0.22)


class _FitColumns(QtCore.QObject):
    """Keeps a table's columns at fixed shares of its viewport's width (re-applied on every resize), with
    word wrap and rows as tall as their text, so a narrow side panel never needs a horizontal scroll bar."""

    def __init__(self, table: QtWidgets.QTableWidget, shares: tuple[float, ...]):
        super().__init__(table)
        self.table, self.shares = table, shares
        table.viewport().installEventFilter(self)

    def apply(self) -> None:
        t = self.table
        width = t.viewport().width()
        shown = [j for j, share in enumerate(self.shares) if share > 0.0]
        used = 0
        for j, share in enumerate(self.shares):
            t.setColumnHidden(j, share <= 0.0)
            if share <= 0.0:
                continue
            w = width - used if j == shown[-1] else int(width * share)
            t.setColumnWidth(j, max(w, 20))
            used += w
        t.resizeRowsToContents()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt API
        if event.type() == QtCore.QEvent.Type.Resize:
            self.apply()
        return False


def fit_columns(table: QtWidgets.QTableWidget, shares: tuple[float, ...]) -> None:
    """Columns of ``table`` at ``shares`` of its width (summing to 1), text wrapped, no horizontal scroll bar."""
    table.setWordWrap(True)
    table.verticalHeader().setVisible(False)
    table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
    table._fit = _FitColumns(table, shares)
    table._fit.apply()


def prepost_text(v, unit) -> str:
    """A pre/post value as shown: 4 significant digits and the unit; '-' when missing."""
    if not isinstance(v, int | float):
        return "-"
    return _unbroken(f"{v:.4g} {'' if unit in (None, '1') else unit}".strip())  # a ratio has no unit


def _unbroken(text: str) -> str:
    """``text`` with a word joiner after each '/' so a narrow column wraps "3.13 mL/s" between the number and
    the unit, never inside "mL/s"."""
    return text.replace("/", "/\u2060")


def _fmt(r: dict) -> str:
    v = r["value"]
    if isinstance(v, int | float) and not isinstance(v, bool):
        return _unbroken(format_result(v, r["unit"]))  # as the report and the compare panel print it
    return _unbroken(f"{v} {r['unit']}")
