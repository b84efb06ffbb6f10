"""Compare: two plans side by side in linked 3D views above the comparison table.

The step replaces the usual view area with :class:`CompareView`: plan A's and
plan B's 3D views side by side (one shared camera, fitted to the implants'
region) and, under them in a splitter, the full-width table of the core's
:func:`~surgiplan.core.planning.comparison.compare_plans` rows (quantity,
value per plan, difference B - A, target range), out-of-range values
highlighted. The left panel holds the plan pickers, the summary, the camera
directions and the exports. Every value shown comes from the core's
:class:`~surgiplan.core.planning.comparison.Comparison`; the panel only formats it.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.planning.comparison import ordered_lines
from surgiplan.core.units import (
    format_difference,
    format_result,
    format_result_difference,
    format_target,
    format_value,
    human_label,
    row_differs,
)
from surgiplan.gui.panels.common import Panel, button, hint, row
from surgiplan.scene.cameras import _union_bounds, fit_camera, implant_region

#: Background of an out-of-range value: translucent red, readable on the dark and light base.
OUT_BACKGROUND = QtGui.QColor(229, 57, 53, 90)
#: Text / marker colours per theme: (outside the target range, inside it).
STATUS_COLORS = {"dark": ("#ff7b72", "#56d364"), "light": ("#c62828", "#2e7d32")}
#: Camera directions offered by the view buttons (scene3d.CAMERAS keys), with their letter.
VIEW_BUTTONS = (("A", "anterior"), ("P", "posterior"), ("R", "right"), ("L", "left"),
                ("S", "superior"), ("I", "inferior"))
ROLE = QtCore.Qt.ItemDataRole.UserRole
COL_QUANTITY, COL_A, COL_B, COL_DIFF, COL_TARGET = range(5)
#: Extra pixels beside a column's content.
PAD = 14
def _theme_colors() -> tuple[str, str]:
    from surgiplan.gui.app import current_theme

    return STATUS_COLORS.get(current_theme(), STATUS_COLORS["dark"])


def _dot(color: str | None, size: int = 10) -> QtGui.QIcon:
    """A small round status marker (transparent when ``color`` is None, to keep labels aligned)."""
    pm = QtGui.QPixmap(size, size)
    pm.fill(QtCore.Qt.GlobalColor.transparent)
    if color is not None:
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QColor(color))
        p.drawEllipse(1, 1, size - 2, size - 2)
        p.end()
    return QtGui.QIcon(pm)


# ------------------------------------------------------------------------- widgets
class CompareTable(QtWidgets.QTableWidget):
    """The comparison table: one line per core row, columns fitted to their content."""

    def __init__(self, parent=None) -> None:
        super().__init__(0, 5, parent)
        self.setObjectName("compare_table")
        self.setHorizontalHeaderLabels(["Quantity", "Plan A", "Plan B", "Difference (B − A)",
                                        "Target range"])
        self.verticalHeader().hide()
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setShowGrid(False)
        self.setIconSize(QtCore.QSize(10, 10))
        self.setHorizontalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollMode(QtWidgets.QAbstractItemView.ScrollMode.ScrollPerPixel)
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(self.fontMetrics().height() + 9)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Interactive)
        hh.setStretchLastSection(True)
        hh.setDefaultAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter)
        hh.setHighlightSections(False)
        self.setMinimumHeight(120)

    def fit_columns(self) -> None:
        """Each column as wide as its widest cell or header plus padding, the last one taking
        what is left; when that is wider than the table, the plan columns (then the quantity
        column) give up width down to a readable minimum and elide (full text in the tooltip)."""
        hh = self.horizontalHeader()
        hh.setStretchLastSection(False)
        self.resizeColumnsToContents()
        widths = [self.columnWidth(c) + PAD for c in range(self.columnCount())]
        avail = self.viewport().width()
        if self.verticalScrollBar().isHidden() and self.content_height() > self.height():
            avail -= self.verticalScrollBar().sizeHint().width()  # it is about to appear
        excess = sum(widths) - avail
        for cols, floor in (((COL_A, COL_B), 120), ((COL_QUANTITY,), 170)):
            if excess <= 0:
                break
            room = sum(max(widths[c] - floor, 0) for c in cols)
            take = min(excess, room)
            for c in cols:
                widths[c] -= int(round(take * max(widths[c] - floor, 0) / room)) if room else 0
            excess -= take
        for c, w in enumerate(widths[:-1]):
            self.setColumnWidth(c, w)
        hh.setStretchLastSection(True)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        if self.rowCount():
            self.fit_columns()

    def content_height(self) -> int:
        """Pixels needed to show every row without a vertical scroll bar."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()) if not self.isRowHidden(r))
        return rows + self.horizontalHeader().height() + 2 * self.frameWidth() + 2


class CompareView(QtWidgets.QSplitter):
    """Shown in place of the usual view area: the two plans' 3D views side by side (one
    camera) on top, the comparison table below."""

    def __init__(self, table: CompareTable, parent=None) -> None:
        super().__init__(QtCore.Qt.Orientation.Vertical, parent)
        from surgiplan.gui.views.view3d import View3D

        self.setObjectName("compare_view")
        self.setChildrenCollapsible(False)
        self.setHandleWidth(6)
        top = QtWidgets.QWidget()
        lay = QtWidgets.QGridLayout(top)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setHorizontalSpacing(4)
        lay.setVerticalSpacing(0)
        self.titles = [QtWidgets.QLabel(), QtWidgets.QLabel()]
        self.views = [View3D(self, "Plan A"), View3D(self, "Plan B")]
        for c in range(2):
            self.titles[c].setObjectName(f"compare_title_{'ab'[c]}")
            self.titles[c].setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            self.titles[c].setTextFormat(QtCore.Qt.TextFormat.RichText)
            self.titles[c].setStyleSheet("padding: 4px;")
            lay.addWidget(self.titles[c], 0, c)
            lay.addWidget(self.views[c], 1, c)
            lay.setColumnStretch(c, 1)
        lay.setRowStretch(1, 1)
        self.addWidget(top)
        self.table = table
        self.addWidget(table)
        table.show()
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 1)
        self.user_sized = False
        self.splitterMoved.connect(self._moved)
        self._linked = False

    def _moved(self, *_):
        self.user_sized = True

    def size_for_table(self, min_view_fraction: float = 0.42) -> None:
        """Give the table the height of all its rows, as long as the views keep at least
        ``min_view_fraction`` of the height (unless the user moved the divider)."""
        if self.user_sized:
            return
        total = sum(self.sizes()) or self.height()
        need = self.table.content_height()
        t = int(min(need, total * (1 - min_view_fraction)))
        self.setSizes([total - t, t])

    def link_cameras(self) -> None:
        """One camera for both renderers; turning either view re-renders the other, with
        the same light frames while the mouse turns it and a full frame after the release."""
        a, b = self.views[0].plotter, self.views[1].plotter
        if a is None or b is None:
            return
        b.renderer.camera = a.renderer.camera
        if not self._linked:
            self._linked = True
            for src, other in ((a, 1), (b, 0)):
                src.iren.add_observer("InteractionEvent",
                                      lambda *_, i=other: self._render_other(i, interactive=True))
                src.iren.add_observer("EndInteractionEvent",
                                      lambda *_, i=other: self._render_other(i, interactive=False))

    def _render_other(self, i: int, interactive: bool = False) -> None:
        """Render view ``i`` after the other view's camera moved: decimated bones and cheap
        settings while the turn goes on (``surgiplan.scene.interaction_lod``), full after."""
        v = self.views[i]
        if v.plotter is None:
            return
        if v.lod is not None:
            if interactive:
                v.lod.begin()
            else:
                v.lod.end(render=False)
        v.plotter.render()

    def cameras_linked(self) -> bool:
        a, b = self.views[0].plotter, self.views[1].plotter
        return a is not None and b is not None and a.renderer.camera is b.renderer.camera

    def render_views(self) -> None:
        for v in self.views:
            if v.plotter is not None:
                v.plotter.render()

    def aspect(self) -> float:
        it = self.views[0].plotter.interactor if self.views[0].plotter is not None else self.views[0]
        return max(it.width(), 1) / max(it.height(), 1)

    def close_plotters(self) -> None:
        for v in self.views:
            v.close_plotter()


class ComparePanel(Panel):
    def __init__(self, win) -> None:
        super().__init__(win, "Compare", "Two plans side by side in linked 3D views, with every "
                         "measurement of both in the table below them.")
        g = self.group("Plans")
        self.a = QtWidgets.QComboBox()
        self.b = QtWidgets.QComboBox()
        self.a.setObjectName("compare_a")
        self.b.setObjectName("compare_b")
        form = QtWidgets.QFormLayout()
        form.setFieldGrowthPolicy(QtWidgets.QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Plan A", self.a)
        form.addRow("Plan B", self.b)
        g.addLayout(form)
        g.addLayout(row(button("Swap", self.swap, "Exchange plan A and plan B", name="compare_swap"), None,
                        button("Compare", self.compare, "Compute the comparison table and show "
                               "both plans", primary=True, name="compare")))
        g = self.group("Result")
        self.summary = hint("Choose two plans and press Compare.")
        self.summary.setObjectName("compare_summary")
        self.summary.setProperty("role", "")
        g.addWidget(self.summary)
        self.legend = QtWidgets.QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(QtCore.Qt.TextFormat.RichText)
        g.addWidget(self.legend)
        self.only_diff = QtWidgets.QCheckBox("Only rows where the plans differ")
        self.only_diff.setObjectName("compare_only_diff")
        self.only_diff.toggled.connect(self._filter_rows)
        g.addWidget(self.only_diff)
        g.addLayout(row(None, button("Export CSV…", lambda: self.export("csv"), name="compare_csv"),
                        button("Export JSON…", lambda: self.export("json"), name="compare_json")))
        g = self.group("3D views")
        g.addWidget(hint("Both views share one camera: turning or zooming one turns the other."))
        dirs = QtWidgets.QHBoxLayout()
        dirs.setSpacing(3)
        for letter, view in VIEW_BUTTONS:
            b = button(letter, lambda _=False, v=view: self.set_view(v), f"View from {view}",
                       name=f"compare_view_{view}")
            b.setFixedWidth(34)
            dirs.addWidget(b)
        dirs.addStretch(1)
        g.addLayout(dirs)
        self.fit_implants = QtWidgets.QRadioButton("Frame the implants")
        self.fit_bones = QtWidgets.QRadioButton("Frame all bones")
        self.fit_implants.setChecked(True)
        for rb in (self.fit_implants, self.fit_bones):
            rb.toggled.connect(lambda on: on and self.set_view(self._direction))
        g.addLayout(row(self.fit_implants, self.fit_bones, None))
        self.finish()
        self.table = CompareTable(self)
        self.table.hide()
        self.comparison = None
        self.plan_names: tuple[str, str] | None = None
        self._lines: list = []
        self._panel_width = 0
        self.view: CompareView | None = None
        self._direction = "anterior"
        self._bounds: dict[str, np.ndarray | None] = {"implants": None, "bones": None}
        self._update_legend()
        win.plansChanged.connect(self._fill_plans)
        win.panel_stack.currentChanged.connect(self._panel_changed)

    # ----------------------------------------------------------------- plans
    def _fill_plans(self) -> None:
        case = self.session.case
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
        if len(names) > 1 and self.a.currentText() == self.b.currentText():
            # B stayed on the only plan there was (issue 28 #5): the first other plan
            self.b.blockSignals(True)
            self.b.setCurrentText(next(n for n in names if n != self.a.currentText()))
            self.b.blockSignals(False)

    def swap(self) -> None:
        a, b = self.a.currentText(), self.b.currentText()
        self.a.setCurrentText(b)
        self.b.setCurrentText(a)

    def activated(self) -> None:
        self._fill_plans()
        self._update_legend()  # the theme may have changed
        self._show_views(True)

    def _panel_changed(self, *_):
        if self.win.panel_stack.currentWidget() is not self:
            self._show_views(False)

    def _show_views(self, on: bool) -> None:
        """Put the compare view in place of the usual view area (``on``) or back. While it
        shows, the panel column is narrowed to its minimum so the table gets the width;
        the column's previous width comes back when the step is left."""
        lw = self.win.layout_widget
        split = lw.parentWidget()  # the main splitter: panel column | view area
        if on:
            if self.view is None:
                self.view = CompareView(self.table)
                pol = self.view.sizePolicy()
                pol.setHorizontalStretch(1)
                self.view.setSizePolicy(pol)
                split.insertWidget(1, self.view)
            if self.view.isHidden() or lw.isVisible():
                self._panel_width = split.sizes()[0]
                total = sum(split.sizes())
                lw.hide()
                self.view.show()
                narrow = max(self.win.panel_stack.minimumWidth(), self.minimumSizeHint().width())
                sizes = [0] * split.count()
                sizes[0], sizes[split.indexOf(self.view)] = narrow, total - narrow
                split.setSizes(sizes)
        elif self.view is not None and not self.view.isHidden():
            total = sum(split.sizes())
            self.view.hide()
            lw.show()
            if self._panel_width:
                sizes = [0] * split.count()
                sizes[0], sizes[split.indexOf(lw)] = self._panel_width, total - self._panel_width
                split.setSizes(sizes)

    def compare(self) -> None:
        case = self.session.case
        a, b = self.a.currentText(), self.b.currentText()
        if case is None or not a or not b or a == b:
            self.win.status("Make two plans first (Plan > New or Copy), then choose them here.")
            return

        def job(progress):
            # the core comparison plus stored study results and achieved vs planned (the living twin)
            from surgiplan.core.twin.compare_rows import extended_comparison

            progress.update(0.1, f"comparing {a} and {b}")
            return extended_comparison(case, [a, b])

        self.win.run_job("Comparing plans", job, self.show_comparison)

    # ----------------------------------------------------------------- table
    def show_comparison(self, cmp) -> None:
        """Fill the table from the core's two-plan ``Comparison`` (one line per core row,
        grouped under section lines: measurements first) and draw both plans."""
        a, b = cmp.plans  # the core's difference is b minus a
        self.comparison = cmp
        self.plan_names = (a, b)
        self._show_views(True)
        out_color, ok_color = _theme_colors()
        self._update_legend()
        t = self.table
        t.setUpdatesEnabled(False)
        t.clearSpans()
        t.setRowCount(0)
        self._lines = ordered_lines(cmp.rows)
        t.setRowCount(len(self._lines))
        headers = [("Quantity", "Hover a quantity for its definition"),
                   (a, f"Plan A: {a}"), (b, f"Plan B: {b}"),
                   ("B − A", f"Difference, {cmp.difference_definition}: {b} minus {a}"),
                   ("Target range", "The surgeon's target range (inclusive); values outside it "
                                    "are highlighted")]
        for c, (text, tip) in enumerate(headers):
            h = QtWidgets.QTableWidgetItem(text)
            h.setToolTip(tip)
            t.setHorizontalHeaderItem(c, h)
        right = QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter
        left = QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter
        pal = t.palette()
        dim = pal.color(QtGui.QPalette.ColorRole.PlaceholderText)
        section_bg = pal.color(QtGui.QPalette.ColorRole.Mid)
        section_bg.setAlpha(110)
        out_per_plan = {a: 0, b: 0}
        for i, line in enumerate(self._lines):
            if isinstance(line, str):  # a section title across the columns
                it = QtWidgets.QTableWidgetItem(line)
                f = it.font()
                f.setBold(True)
                it.setFont(f)
                it.setBackground(section_bg)
                it.setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
                t.setItem(i, COL_QUANTITY, it)
                t.setSpan(i, 0, 1, t.columnCount())
                continue
            r = line
            flags = [(r.in_range or {}).get(p) for p in (a, b)]
            tip = r.definition or human_label(r.quantity)
            q = QtWidgets.QTableWidgetItem(human_label(r.quantity))
            q.setData(ROLE, r.key)
            q.setIcon(_dot(out_color if False in flags else ok_color if True in flags else None))
            q.setToolTip(tip)
            t.setItem(i, COL_QUANTITY, q)
            for c, p, ok in ((COL_A, a, flags[0]), (COL_B, b, flags[1])):
                v = r.values.get(p)
                text = study_value_text(v, r.unit) if r.group == "simulation" else format_value(v, r.unit)
                it = QtWidgets.QTableWidgetItem(text)
                it.setTextAlignment(right if isinstance(v, float) else left)
                it.setData(ROLE, ok)
                it.setToolTip(f"{p}: {text}\n{tip}")
                if ok is False:
                    it.setBackground(OUT_BACKGROUND)
                    f = it.font()
                    f.setBold(True)
                    it.setFont(f)
                    it.setToolTip(f"{p}: {text}, outside the target range {format_target(r)}\n{tip}")
                    out_per_plan[p] += 1
                t.setItem(i, c, it)
            d = QtWidgets.QTableWidgetItem(study_difference_text(r) if r.group == "simulation"
                                           else format_difference(r))
            d.setTextAlignment(right if r.difference is not None else left)
            d.setToolTip(f"{b} minus {a}\n{tip}")
            if row_differs(r):
                f = d.font()
                f.setBold(True)
                d.setFont(f)
            else:
                d.setForeground(dim)
            t.setItem(i, COL_DIFF, d)
            tg = QtWidgets.QTableWidgetItem(format_target(r))
            tg.setToolTip(tip)
            t.setItem(i, COL_TARGET, tg)
        t.setUpdatesEnabled(True)
        self._filter_rows()
        t.fit_columns()
        out = sum(out_per_plan.values())
        targets = sum(1 for r in cmp.rows if r.target is not None)
        self.summary.setText(f"{len(cmp.rows)} quantities, {targets} with a target range; "
                             f"{out} value{'s' if out != 1 else ''} outside their target range.")
        for title, p, letter in zip(self.view.titles, (a, b), "AB", strict=True):
            n = out_per_plan[p]
            state = (f"<span style='color:{out_color}'>{n} value{'s' if n != 1 else ''} outside "
                     f"target</span>" if n else f"<span style='color:{ok_color}'>all targets met</span>")
            badge = (f"<span style='background:#2f5f8f; color:white; font-weight:600'>&nbsp;{letter}&nbsp;"
                     f"</span>&nbsp; ")
            title.setText(f"{badge}<span style='font-weight:600'>{html.escape(p)}</span>"
                          f" &nbsp;·&nbsp; {state}")
        self.view.size_for_table()
        self._draw(a, b)

    def _update_legend(self) -> None:
        out_color, ok_color = _theme_colors()
        self.legend.setText(f"<span style='color:{out_color}'>●</span> outside the target range "
                            f"&nbsp; <span style='color:{ok_color}'>●</span> within it")

    def _filter_rows(self, *_):
        only = self.only_diff.isChecked()
        lines = self._lines
        for i, line in enumerate(lines):
            if isinstance(line, str):  # a section stays when one of its rows does
                nxt = next((k for k in range(i + 1, len(lines)) if isinstance(lines[k], str)), len(lines))
                hide = only and not any(row_differs(r) for r in lines[i + 1:nxt])
            else:
                hide = only and not row_differs(line)
            self.table.setRowHidden(i, hide)

    def out_of_range_cells(self) -> int:
        n = 0
        for r in range(self.table.rowCount()):
            for c in (COL_A, COL_B):
                it = self.table.item(r, c)
                if it is not None and it.data(ROLE) is False:
                    n += 1
        return n

    # ------------------------------------------------------------------ views
    def _draw(self, a: str, b: str) -> None:
        case = self.session.case
        cat = self.win.panels["Plan"].catalog()
        models = {n: case.get_model(n) for n in case.model_names}
        color = self.win.panels["Models"].model_color
        from surgiplan.scene.scene3d import IMPLANT_COLOR

        implants = {}
        for name in (a, b):
            plan = case.plan(name)
            implants[name] = {imp.id: cat.get(imp.catalog_id).geometry(imp.size, imp.options or None)
                              .transformed(imp.transform).merged() for imp in plan.implants.values()}
        meshes = [m for d in implants.values() for m in d.values()]
        self._bounds = {"implants": _union_bounds(meshes),
                        "bones": _union_bounds([*models.values(), *meshes])}

        for view, name in zip(self.view.views, (a, b), strict=True):
            def draw(view=view, name=name):
                p = view.plotter
                p.clear_actors()
                for n, m in models.items():
                    view.set_surface(f"model:{n}", m, color(n), opacity=0.45, render=False)
                for iid, geo in implants[name].items():
                    view.set_surface(f"implant:{iid}", geo, IMPLANT_COLOR, render=False)

            view.when_ready(draw)

        def link():
            if all(v.plotter is not None for v in self.view.views):
                self.view.link_cameras()
                QtCore.QTimer.singleShot(0, lambda: self.set_view(self._direction))

        for v in self.view.views:
            v.when_ready(link)

    def set_view(self, direction: str) -> None:
        """Look at the plans from ``direction`` (scene3d.CAMERAS key), framing the implants or
        all bones (radio buttons); both views follow (one camera)."""
        self._direction = direction
        if self.view is None or not self.view.cameras_linked():
            return
        mode = "implants" if self.fit_implants.isChecked() else "bones"
        box = self._bounds["bones"]
        if mode == "implants":
            box = implant_region(self._bounds["implants"], self._bounds["bones"])
        if box is None:
            return
        fit_camera(self.view.views[0].plotter, np.asarray(box).ravel(), direction, self.view.aspect())
        self.view.render_views()

    # ----------------------------------------------------------------- export
    def export(self, fmt: str) -> None:
        if self.comparison is None:
            self.win.status("Compare two plans first.")
            return
        f, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export comparison", str(Path(self.win.settings.last_folder or Path.home()) /
                                           f"comparison.{fmt}"), f"{fmt.upper()} (*.{fmt})")
        if f:
            self.export_to(Path(f), fmt)

    def export_to(self, path: Path, fmt: str) -> bool:
        """Write the comparison to ``path`` (never inside the open case); errors shown, not raised.

        The file dialog has already asked whether to replace an existing file.
        """
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.fileio import atomic_write_text, check_output

        try:
            check_output(path, overwrite=True,
                         protected=[self.session.case.root] if self.session.case is not None else [])
            text = self.comparison.to_csv() if fmt == "csv" else self.comparison.to_json()
            atomic_write_text(path, text)
        except SurgiplanError as exc:
            self.win.last_error = str(exc)
            self.win.show_error(str(exc))
            return False
        self.win.status(f"Wrote {path}")
        return True

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.close_plotters()


def study_value_text(v, unit: str | None) -> str:
    """A stored study result as the report and the CLI print it (core ``format_result``: 4 significant
    digits, a pressure ratio 0.9989 and a lesion drop 0.072 mmHg, not 1.0 and 0.1; the unit '1' left out)."""
    return format_result(v, unit)


def study_difference_text(row) -> str:
    """The difference of a stored study result, signed, 4 significant digits."""
    if row.difference is not None:
        return format_result_difference(row.difference, row.unit)
    return format_difference(row)
