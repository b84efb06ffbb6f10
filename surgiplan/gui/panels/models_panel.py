"""Models: build surface models of chosen segments (smooth, decimate), the watertight
report, export (STL/OBJ/PLY/3MF/VTP, LPS or RAS) and import of STL/OBJ/PLY."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.gui.panels.common import Panel, button, hint, row


class ModelsPanel(Panel):
    def __init__(self, win) -> None:
        super().__init__(win, "Models", "Turn segments into watertight surface models (LPS mm).")
        g = self.group("Build")
        self.seg_list = QtWidgets.QListWidget()
        self.seg_list.setObjectName("model_segments")
        self.seg_list.setMaximumHeight(120)
        g.addWidget(self.seg_list)
        self.smooth = QtWidgets.QCheckBox("Smooth (volume-preserving)")
        self.smooth.setChecked(True)
        self.target = QtWidgets.QSpinBox()
        self.target.setRange(0, 2_000_000)
        self.target.setSingleStep(10_000)
        self.target.setValue(200_000)
        self.target.setSpecialValueText("no decimation")
        self.target.setSuffix(" triangles")
        g.addWidget(self.smooth)
        g.addLayout(row(QtWidgets.QLabel("At most"), self.target))
        g.addLayout(row(None, button("Build models", self.build, "Build a surface model of each "
                                     "ticked segment (background job)", primary=True,
                                     name="build_models")))

        g = self.group("Models")
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setObjectName("models_table")
        self.table.setHorizontalHeaderLabels(["Model", "Triangles", "Volume", "Watertight"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            hh.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(140)
        g.addWidget(self.table)
        self.report_label = hint("")
        g.addWidget(self.report_label)
        self.table.currentCellChanged.connect(self._show_report)
        self.frame = QtWidgets.QComboBox()
        self.frame.addItems(["LPS", "RAS"])
        self.frame.setToolTip("Coordinate frame written into the file (3D Slicer uses LPS)")
        g.addLayout(row(button("Export…", self.export, "Write the selected model as STL, OBJ, PLY, "
                               "3MF or VTP", name="export_model"), self.frame,
                        button("Import…", self.import_mesh, "Add an STL/OBJ/PLY surface as a model",
                               name="import_model")))
        self.finish()
        self.reports: dict[str, object] = {}
        win.segmentationChanged.connect(self._fill_segments)
        win.modelsChanged.connect(self.refresh)
        win.caseChanged.connect(self.refresh)

    def activated(self) -> None:
        self._fill_segments()
        self.refresh()

    def _fill_segments(self) -> None:
        self.seg_list.clear()
        seg = self.session.segmentation
        for s in (seg.segments if seg is not None else []):
            it = QtWidgets.QListWidgetItem(s.name)
            it.setFlags(it.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(QtCore.Qt.CheckState.Checked)
            pm = QtGui.QPixmap(12, 12)
            pm.fill(QtGui.QColor.fromRgbF(*s.color))
            it.setIcon(QtGui.QIcon(pm))
            self.seg_list.addItem(it)

    def chosen_segments(self) -> list[str]:
        return [self.seg_list.item(i).text() for i in range(self.seg_list.count())
                if self.seg_list.item(i).checkState() == QtCore.Qt.CheckState.Checked]

    # ------------------------------------------------------------------ build
    def build(self) -> None:
        seg = self.session.segmentation
        names = self.chosen_segments()
        if seg is None or not names:
            self.win.status("Segment the scan first (Segment), then tick the segments to model.")
            return
        smooth, target = self.smooth.isChecked(), self.target.value()

        def job(progress):  # the core loop of `surgiplan model` (surfaces/models.py)
            from surgiplan.core.surfaces.models import build_models

            built = build_models(seg, names, smooth=smooth, decimate_to=target or None, progress=progress)
            return {m.name: (m.mesh, m.report) for m in built}

        def done(out):
            case = self.win.ensure_case()
            for name, (mesh, rep) in out.items():
                case.add_model(name, mesh, scan=self.session.scan_name, segment=name)
                self.reports[name] = rep
            self.win.modelsChanged.emit()
            self.win.update_title()

        self.win.run_job("Building models", job, done)

    # ------------------------------------------------------------------ table
    def model_color(self, name: str):
        seg = self.session.segmentation
        if seg is not None and name in seg.names:
            return seg.segment(name).color
        from surgiplan.scene.scene3d import BONE_COLOR

        return BONE_COLOR

    def refresh(self) -> None:
        case = self.session.case
        names = case.model_names if case is not None else []
        self.table.setRowCount(0)
        v3 = self.win.view3d
        v3.remove_prefixed("model:")
        self.win.state.clear_outlines("model:")
        for name in names:
            mesh = case.get_model(name)
            rep = self.reports.get(name)
            if rep is None:
                from surgiplan.core.surfaces import watertight_report

                rep = self.reports[name] = watertight_report(mesh)
            r = self.table.rowCount()
            self.table.insertRow(r)
            wt = "yes" if rep.watertight else f"no ({rep.boundary_edges} open edges)"
            vals = [name, f"{rep.n_triangles:,}", f"{rep.volume_mm3 / 1000:.1f} mL", wt]
            for c, v in enumerate(vals):
                it = QtWidgets.QTableWidgetItem(v)
                if c == 3 and not rep.watertight:
                    it.setForeground(QtGui.QColor("#e0a030"))
                self.table.setItem(r, c, it)
            color = self.model_color(name)
            v3.set_surface(f"model:{name}", mesh, color, render=False)
            self.win.state.set_outline(f"model:{name}", mesh, color)
        if names:
            v3.show_volume(self.win.state.volume, "off")
            self.table.selectRow(0)

    def _show_report(self, r: int, *_) -> None:
        it = self.table.item(r, 0) if r >= 0 else None
        rep = self.reports.get(it.text()) if it else None
        if rep is None:
            self.report_label.setText("")
            return
        self.report_label.setText(
            f"{rep.n_points:,} points, {rep.components} piece(s), area {rep.area_mm2 / 100:.1f} cm², "
            f"{rep.boundary_edges} open edges, {rep.non_manifold_edges} non-manifold edges, "
            f"{rep.degenerate_triangles} degenerate triangles")

    # ------------------------------------------------------------ export/import
    def _selected(self) -> str | None:
        r = self.table.currentRow()
        return self.table.item(r, 0).text() if r >= 0 and self.table.item(r, 0) else None

    def export(self) -> None:
        name = self._selected()
        if name is None or self.session.case is None:
            self.win.status("Build or import a model first.")
            return
        f, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export model", str(Path(self.win.settings.last_folder or Path.home()) / f"{name}.stl"),
            "STL (*.stl);;OBJ (*.obj);;PLY (*.ply);;3MF (*.3mf);;VTK PolyData (*.vtp)")
        if f:
            self.export_to(name, Path(f), self.frame.currentText())

    def export_to(self, name: str, path: Path, frame: str = "LPS") -> None:
        mesh = self.session.case.get_model(name)

        def job(progress):
            from surgiplan.core.surfaces import write_mesh

            return write_mesh(mesh, path, frame=frame, name=name)

        self.win.run_job(f"Exporting {name}", job, lambda p: self.win.status(f"Wrote {p} ({frame})"))

    def import_mesh(self) -> None:
        f, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Import a surface", self.win.settings.last_folder or str(Path.home()),
            "Surfaces (*.stl *.obj *.ply *.vtp *.3mf);;All files (*)")
        if f:
            self.import_from(Path(f))

    def import_from(self, path: Path) -> None:
        def job(progress):  # checked as `surgiplan import-model` checks it: closed and manifold
            from surgiplan.core.surfaces import import_model

            return import_model(path)

        def done(res):
            mesh, rep = res
            name = "".join(c if c.isalnum() or c in "-_" else "_" for c in path.stem) or "model"
            if self.win.state.volume is None:
                self.win.status("Open a scan before importing models.")
                return
            self.win.ensure_case().add_model(name, mesh)
            self.reports[name] = rep
            self.win.modelsChanged.emit()

        self.win.run_job(f"Importing {path.name}", job, done)
