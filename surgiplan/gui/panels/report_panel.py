"""Report: preview the OR plan report's pages, then export the PDF.

The panel picks the plan (and optionally a second plan for the comparison page), the
de-identification and the paper; *Preview* makes the PDF in the background with the same
core call as ``surgiplan report`` (:func:`surgiplan.core.report.render_report`, images by
:class:`surgiplan.scene.report_figures.SceneFigures`) and shows its pages, rendered by Qt's
own PDF module, in place of the view area. *Export PDF…* writes the previewed bytes (what was
looked at is what is written) through :func:`surgiplan.core.report.make_report`'s checks
(``CASE/reports/<plan>.pdf`` by default, never over an input). The plan's approval (lock) is
shown here and printed in the report.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.gui.panels.common import Panel, button, hint, row

NO_COMPARE = "(none)"
#: Preview page width in pixels (A4 at about 100 dpi).
PAGE_PX = 820


class ReportPreview(QtWidgets.QScrollArea):
    """The report's pages one under the other, each a picture of the PDF page."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("report_preview")
        self.setWidgetResizable(True)
        self.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        inner = QtWidgets.QWidget()
        inner.setStyleSheet("background: #5a5f66;")
        self.lay = QtWidgets.QVBoxLayout(inner)
        self.lay.setSpacing(14)
        self.lay.setContentsMargins(14, 14, 14, 14)
        self.lay.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
        self.setWidget(inner)
        self.pages: list[QtWidgets.QLabel] = []

    def show_pages(self, images: list[QtGui.QImage]) -> None:
        for lab in self.pages:
            lab.deleteLater()
        self.pages = []
        for i, img in enumerate(images):
            lab = QtWidgets.QLabel()
            lab.setObjectName(f"report_page_{i + 1}")
            lab.setPixmap(QtGui.QPixmap.fromImage(img))
            lab.setToolTip(f"Page {i + 1} of {len(images)}")
            self.lay.addWidget(lab)
            self.pages.append(lab)


def pdf_page_images(data: bytes, width_px: int = PAGE_PX) -> list[QtGui.QImage]:
    """Every page of the PDF ``data`` as a QImage ``width_px`` wide (QtPdf)."""
    from PySide6.QtPdf import QPdfDocument

    doc = QPdfDocument()
    buf = QtCore.QBuffer()
    buf.setData(QtCore.QByteArray(data))
    buf.open(QtCore.QIODevice.OpenModeFlag.ReadOnly)
    doc.load(buf)
    out = []
    for i in range(doc.pageCount()):
        size = doc.pagePointSize(i)
        h = int(round(width_px * size.height() / max(size.width(), 1.0)))
        page = doc.render(i, QtCore.QSize(width_px, h))  # transparent where the PDF draws nothing
        paper = QtGui.QImage(page.size(), QtGui.QImage.Format.Format_RGB32)
        paper.fill(QtGui.QColor("white"))
        painter = QtGui.QPainter(paper)
        painter.drawImage(0, 0, page)
        painter.end()
        out.append(paper)
    doc.close()
    return out


class ReportPanel(Panel):
    """The Report step (see module docstring)."""

    def __init__(self, win) -> None:
        super().__init__(win, "Report", "The OR plan report (PDF): implants and sizes first, images, "
                                        "measurements, simulations, sign-off. Preview it, then export.")
        g = self.group("Plan")
        self.plan = QtWidgets.QComboBox()
        self.plan.setObjectName("report_plan")
        self.compare = QtWidgets.QComboBox()
        self.compare.setObjectName("report_compare")
        form = QtWidgets.QFormLayout()
        form.addRow("Plan", self.plan)
        form.addRow("Compare with", self.compare)
        g.addLayout(form)
        self.approval = hint("")
        self.approval.setObjectName("report_approval")
        g.addWidget(self.approval)
        self.plan.currentTextChanged.connect(self._plan_changed)

        o = self.group("Options")
        self.deidentify = QtWidgets.QCheckBox("De-identify (case label, no patient name or ID)")
        self.deidentify.setObjectName("report_deidentify")
        self.deidentify.setChecked(True)
        self.paper = QtWidgets.QComboBox()
        self.paper.setObjectName("report_paper")
        self.paper.addItems(["A4", "Letter"])
        o.addWidget(self.deidentify)
        o.addLayout(row(QtWidgets.QLabel("Paper"), self.paper, None))

        self.body.addLayout(row(button("Preview", lambda: self.preview(), "Make the report and show its pages.", True,
                                       "report_preview_button"),
                                button("Export PDF…", self.export, "Write the previewed report to a file.",
                                       name="report_export")))
        self.info = hint("")
        self.info.setObjectName("report_info")
        self.body.addWidget(self.info)
        self.finish()
        self.view: ReportPreview | None = None
        self.pdf: bytes | None = None
        self.pdf_settings: tuple | None = None
        self._panel_width = 0
        win.plansChanged.connect(self._fill_plans)
        win.panel_stack.currentChanged.connect(self._panel_changed)

    # ----------------------------------------------------------------- plans
    def _fill_plans(self) -> None:
        case = self.session.case
        names = list(case.plans) if case is not None else []
        cur = self.plan.currentText() or (self.session.current_plan or "")
        self.plan.blockSignals(True)
        self.plan.clear()
        self.plan.addItems(names)
        if cur in names:
            self.plan.setCurrentText(cur)
        self.plan.blockSignals(False)
        self._plan_changed()

    def _plan_changed(self, *_):
        case = self.session.case
        name = self.plan.currentText()
        cur = self.compare.currentText()
        self.compare.clear()
        others = [n for n in (case.plans if case is not None else []) if n != name]
        self.compare.addItems([NO_COMPARE, *others])
        if cur in others:
            self.compare.setCurrentText(cur)
        if case is None or name not in case.plans:
            self.approval.setText("Open a case with a plan first.")
            return
        lock = case.plans[name].locked
        self.approval.setText(f"Approved: locked by {lock.by} at {lock.at}" if lock is not None
                              else "Not approved: a draft plan (the report says so on every page). "
                                   "Lock the plan in the Plan step to approve it.")

    def settings(self) -> tuple:
        """(plan, compare or None, deidentify, paper) as chosen."""
        cmp = self.compare.currentText()
        return (self.plan.currentText(), None if cmp in ("", NO_COMPARE) else cmp,
                self.deidentify.isChecked(), self.paper.currentText().lower())

    def activated(self) -> None:
        self._fill_plans()
        self._show_view(True)

    def _panel_changed(self, *_):
        if self.win.panel_stack.currentWidget() is not self:
            self._show_view(False)

    def _show_view(self, on: bool) -> None:
        """The page preview in place of the view area while this step shows (as Compare does)."""
        lw = self.win.layout_widget
        split = lw.parentWidget()
        if on:
            if self.view is None:
                self.view = ReportPreview()
                pol = self.view.sizePolicy()
                pol.setHorizontalStretch(1)
                self.view.setSizePolicy(pol)
                split.insertWidget(1, self.view)
            if self.view.isHidden() or lw.isVisible():
                self._panel_width = split.sizes()[0]
                total = sum(split.sizes())
                lw.hide()
                self.view.show()
                sizes = [0] * split.count()
                sizes[0], sizes[split.indexOf(self.view)] = self._panel_width, total - self._panel_width
                split.setSizes(sizes)
        elif self.view is not None and not self.view.isHidden():
            self.view.hide()
            lw.show()

    # ---------------------------------------------------------------- make it
    def preview(self, on_ready=None) -> None:
        """Make the report in the background and show its pages; then ``on_ready()``."""
        case = self.session.case
        plan, compare, deidentify, paper = settings = self.settings()
        if case is None or not plan:
            self.win.status("Open a case with a plan first.")
            return

        def job(progress):
            from surgiplan.core.report import render_report
            from surgiplan.scene.report_figures import SceneFigures

            data = render_report(case, plan, compare=compare, deidentify=deidentify, paper=paper,
                                 figures=SceneFigures(), progress=progress)
            return data, pdf_page_images(data)

        def done(result):
            self.pdf, images = result
            self.pdf_settings = settings
            self._show_view(True)
            self.view.show_pages(images)
            unsaved = " The case has unsaved changes: save it so that the report's checksum names the " \
                      "saved plan file." if case.dirty else ""
            self.info.setText(f"{len(images)} pages, {len(self.pdf) / 1e6:.1f} MB.{unsaved}")
            if on_ready is not None:
                on_ready()

        self.win.run_job("Making the OR plan report", job, done)

    def export(self) -> None:
        case = self.session.case
        if case is None or not self.plan.currentText():
            self.win.status("Open a case with a plan first.")
            return
        from surgiplan.core.report import default_report_path

        f, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export OR plan report", str(default_report_path(case, self.plan.currentText())), "PDF (*.pdf)")
        if f:
            self.export_to(Path(f))

    def export_to(self, path: Path) -> bool:
        """Write the report of the chosen settings to ``path`` (made first when the preview is
        missing or was made with other settings); errors shown, not raised. The file dialog has
        already asked whether to replace an existing file."""
        if self.pdf is None or self.pdf_settings != self.settings():
            self.preview(on_ready=lambda: self.export_to(path))
            return False
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.fileio import atomic_write_bytes, ensure_folder
        from surgiplan.core.report import check_report_output

        try:
            check_report_output(self.session.case, path, overwrite=True)
            ensure_folder(path.parent)
            atomic_write_bytes(path, self.pdf)
        except SurgiplanError as exc:
            self.win.last_error = str(exc)
            self.win.show_error(str(exc))
            return False
        self.win.status(f"Wrote {path}")
        self.info.setText(f"Wrote {path}")
        return True

    def shutdown(self) -> None:
        if self.view is not None:
            self.view.hide()
