"""Compare: two plans side by side in synchronised 3D views (one shared camera) and the
comparison table (core ``compare_plans``) with out-of-range values highlighted."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.gui.panels.common import Panel, button, hint, row

OUT_COLOR = QtGui.QColor("#d9534f")
OK_COLOR = QtGui.QColor("#5cb85c")


class CompareView(QtWidgets.QWidget):
    """Two 3D views with one camera, shown in place of the usual view area."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        from surgiplan.gui.views.view3d import View3D

        lay = QtWidgets.QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        self.titles = [QtWidgets.QLabel(), QtWidgets.QLabel()]
        self.views = [View3D(self, "Plan A"), View3D(self, "Plan B")]
        for c in range(2):
            self.titles[c].setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.titles[c].setStyleSheet("font-weight: 600; padding: 3px;")
            lay.addWidget(self.titles[c], 0, c)
            lay.addWidget(self.views[c], 1, c)
        lay.setRowStretch(1, 1)

    def link_cameras(self) -> None:
        a, b = self.views[0].plotter, self.views[1].plotter
        if a is None or b is None:
            return
        b.renderer.camera = a.renderer.camera
        a.iren.add_observer("InteractionEvent", lambda *_: b.render())
        b.iren.add_observer("InteractionEvent", lambda *_: a.render())

    def close_plotters(self) -> None:
        for v in self.views:
            v.close_plotter()


class ComparePanel(Panel):
    def __init__(self, win) -> None:
        super().__init__(win, "Compare", "Two plans side by side; values outside the target range "
                         "are red.")
        g = self.group("Plans")
        self.a = QtWidgets.QComboBox()
        self.b = QtWidgets.QComboBox()
        self.a.setObjectName("compare_a")
        self.b.setObjectName("compare_b")
        g.addLayout(row(self.a, QtWidgets.QLabel("vs"), self.b))
        g.addLayout(row(None, button("Compare", self.compare, "Compute the comparison table and show "
                                     "both plans", primary=True, name="compare")))
        g = self.group("Comparison")
        self.table = QtWidgets.QTableWidget(0, 5)
        self.table.setObjectName("compare_table")
        self.table.setHorizontalHeaderLabels(["Quantity", "A", "B", "B − A", "Target"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for c in range(1, 5):
            hh.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(320)
        g.addWidget(self.table)
        self.summary = hint("")
        g.addWidget(self.summary)
        g.addLayout(row(None, button("Export CSV…", lambda: self.export("csv")),
                        button("Export JSON…", lambda: self.export("json"))))
        self.finish()
        self.comparison = None
        self.view: CompareView | None = None
        win.plansChanged.connect(self._fill_plans)
        win.panel_stack.currentChanged.connect(self._panel_changed)

    def _fill_plans(self) -> None:
        case = self.win.case
        names = list(case.plans) if case is not None else []
        for i, cb in enumerate((self.a, self.b)):
            cur = cb.currentText()
            cb.blockSignals(True)
            cb.clear()
            cb.addItems(names)
            if cur in names:
                cb.setCurrentText(cur)
            elif len(names) > i:
                cb.setCurrentIndex(i)
            cb.blockSignals(False)

    def activated(self) -> None:
        self._fill_plans()
        self._show_views(True)

    def _panel_changed(self, *_):
        if self.win.panel_stack.currentWidget() is not self:
            self._show_views(False)

    def _show_views(self, on: bool) -> None:
        lw = self.win.layout_widget
        if on:
            if self.view is None:
                self.view = CompareView()
                lw.parentWidget().insertWidget(1, self.view)  # the splitter
            lw.hide()
            self.view.show()
        elif self.view is not None:
            self.view.hide()
            lw.show()

    def compare(self) -> None:
        case = self.win.case
        a, b = self.a.currentText(), self.b.currentText()
        if case is None or not a or not b or a == b:
            self.win.status("Make two plans first (Plan > New or Copy), then choose them here.")
            return

        def job(progress):
            from surgiplan.core.planning.comparison import compare_plans

            progress.update(0.1, f"comparing {a} and {b}")
            return compare_plans(case, [a, b])

        self.win.run_job("Comparing plans", job, lambda cmp: self.show_comparison(cmp, a, b))

    def show_comparison(self, cmp, a: str, b: str) -> None:
        self.comparison = cmp
        self.table.setHorizontalHeaderLabels(["Quantity", a, b, "Difference", "Target"])
        self.table.setRowCount(0)
        out = 0
        for r in cmp.rows:
            i = self.table.rowCount()
            self.table.insertRow(i)
            u = "°" if r.unit == "deg" else (f" {r.unit}" if r.unit else "")
            q = QtWidgets.QTableWidgetItem(r.quantity)
            q.setToolTip(r.definition)
            self.table.setItem(i, 0, q)
            for c, p in enumerate((a, b), start=1):
                v = r.values.get(p)
                txt = "–" if v is None else (f"{v:.1f}{u}" if isinstance(v, float) else str(v))
                it = QtWidgets.QTableWidgetItem(txt)
                ok = (r.in_range or {}).get(p)
                if ok is False:
                    it.setForeground(OUT_COLOR)
                    f = it.font()
                    f.setBold(True)
                    it.setFont(f)
                    it.setToolTip("outside the target range")
                    out += 1
                it.setData(QtCore.Qt.ItemDataRole.UserRole, ok)
                self.table.setItem(i, c, it)
            d = "" if r.difference is None else f"{r.difference:+.1f}{u}"
            t = "" if r.target is None else f"{r.target[0]:g} to {r.target[1]:g}{u}"
            self.table.setItem(i, 3, QtWidgets.QTableWidgetItem(d))
            self.table.setItem(i, 4, QtWidgets.QTableWidgetItem(t))
        self.summary.setText(f"{len(cmp.rows)} rows; {out} value(s) outside their target range.")
        self._draw(a, b)

    def out_of_range_cells(self) -> int:
        n = 0
        for r in range(self.table.rowCount()):
            for c in (1, 2):
                it = self.table.item(r, c)
                if it is not None and it.data(QtCore.Qt.ItemDataRole.UserRole) is False:
                    n += 1
        return n

    def _draw(self, a: str, b: str) -> None:
        self._show_views(True)
        case = self.win.case
        plan_panel = self.win.panels["Plan"]
        cat = plan_panel.catalog()
        models = {n: case.get_model(n) for n in case.model_names}
        color = self.win.panels["Models"].model_color
        for view, title, name in zip(self.view.views, self.view.titles, (a, b), strict=True):
            title.setText(name)
            plan = case.plan(name)

            def draw(view=view, plan=plan):
                from surgiplan.scene.scene3d import set_camera

                p = view.plotter
                p.clear_actors()
                for n, m in models.items():
                    view.set_surface(f"model:{n}", m, color(n), opacity=0.55, render=False)
                for imp in plan.implants.values():
                    geo = cat.get(imp.catalog_id).geometry(imp.size, imp.options or None)
                    view.set_surface(f"implant:{imp.id}", geo.transformed(imp.transform).merged(),
                                     (0.70, 0.78, 0.90), render=False)
                set_camera(p, "anterior", zoom=0.55)  # narrow side-by-side views

            view.when_ready(draw)

        def link():
            if all(v.plotter is not None for v in self.view.views):
                self.view.link_cameras()
                for v in self.view.views:
                    v.plotter.render()

        for v in self.view.views:
            v.when_ready(link)

    def export(self, fmt: str) -> None:
        if self.comparison is None:
            self.win.status("Compare two plans first.")
            return
        f, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export comparison", str(Path(self.win.settings.last_folder or Path.home()) /
                                           f"comparison.{fmt}"), f"{fmt.upper()} (*.{fmt})")
        if f:
            from surgiplan.core.planning.case import atomic_write_text

            text = self.comparison.to_csv() if fmt == "csv" else self.comparison.to_json()
            atomic_write_text(Path(f), text)
            self.win.status(f"Wrote {f}")

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.close_plotters()
