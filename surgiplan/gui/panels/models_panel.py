"""Models: build surface models of chosen segments (smooth, decimate), the watertight
report, export (STL/OBJ/PLY/3MF/VTP, LPS or RAS) and import of STL/OBJ/PLY."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.gui.panels.common import Panel, button, hint, row

#: Formats the Models step exports (core ``mesh_io.MESH_FORMATS``), with their dialog labels.
EXPORT_FORMATS = {"stl": "STL", "obj": "OBJ", "ply": "PLY", "3mf": "3MF", "vtp": "VTK PolyData"}


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
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.ExtendedSelection)
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
        self.fmt = QtWidgets.QComboBox()
        self.fmt.setObjectName("export_format")
        self.fmt.addItems(list(EXPORT_FORMATS))
        self.fmt.setToolTip("File format of the exported models")
        g.addLayout(row(button("Export…", self.export, "Write the selected models (Ctrl/Shift-click to "
                               "select several), one file each", name="export_model"), self.fmt, self.frame,
                        button("Import…", self.import_mesh, "Add an STL/OBJ/PLY surface as a model",
                               name="import_model")))
        self.finish()
        self.reports: dict[str, object] = {}
        self.debris: dict[str, object] = {}
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
            return {m.name: (m.mesh, m.report, m.debris) for m in built}

        def done(out):
            case = self.win.ensure_case()
            for name, (mesh, rep, debris) in out.items():
                case.add_model(name, mesh, scan=self.session.scan_name, segment=name)
                self.reports[name] = rep
                self.debris[name] = debris
            self.win.modelsChanged.emit()
            self.win.update_title()
            removed = {n: d.shells_removed for n, (_, _, d) in out.items() if d is not None and d.shells_removed}
            text = f"Built {len(out)} model(s)"
            if removed:
                text += "; debris shells removed: " + ", ".join(f"{n} {k}" for n, k in removed.items())
            self._status_after_job(text)

        self.win.run_job("Building models", job, done)

    def _status_after_job(self, text: str) -> None:
        """Show ``text`` once the job runner has written its "<title>: done" line."""
        QtCore.QTimer.singleShot(0, lambda: self.win.status(text))

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
        text = (f"{rep.n_points:,} points, {rep.components} piece(s), area {rep.area_mm2 / 100:.1f} cm², "
                f"{rep.boundary_edges} open edges, {rep.non_manifold_edges} non-manifold edges, "
                f"{rep.degenerate_triangles} degenerate triangles")
        debris = self.debris.get(it.text())
        if debris is not None and debris.shells_removed:
            text += (f"; {debris.shells_removed} debris shell(s) under "
                     f"{debris.removed_volume_mm3:.1f} mm³ in all removed")
        self.report_label.setText(text)

    # ------------------------------------------------------------ export/import
    def _selected(self) -> str | None:
        r = self.table.currentRow()
        return self.table.item(r, 0).text() if r >= 0 and self.table.item(r, 0) else None

    def selected_models(self) -> list[str]:
        """The names of the selected rows, top to bottom (the current row when none is selected)."""
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        names = [self.table.item(r, 0).text() for r in rows if self.table.item(r, 0)]
        if not names and self._selected():
            names = [self._selected()]
        return names

    @property
    def last_export_folder(self) -> Path | None:
        """Where the last export went; the next export dialog starts there (kept in the settings,
        so a new session starts there too)."""
        s = self.win.settings.last_export_folder
        return Path(s) if s else None

    @last_export_folder.setter
    def last_export_folder(self, folder: Path | None) -> None:
        self.win.settings.last_export_folder = "" if folder is None else str(folder)
        self.win.settings.save()

    def _source_folders(self) -> list[Path]:
        """Folders the scan was read from (DICOM / volume file folder): never an export start."""
        return [Path(self.win.settings.last_folder)] if self.win.settings.last_folder else []

    def export_start_folder(self) -> Path:
        """Where the export dialog opens: the last export folder, else the case folder's parent,
        else home; never the (often read-only) folder the scan came from, nor inside the case."""
        case = self.session.case
        avoid = self._source_folders() + ([case.root] if case is not None else [])
        candidates = [self.last_export_folder, case.root.parent if case is not None else None, Path.home()]
        for c in candidates:
            if c is None or not Path(c).is_dir():
                continue
            real = Path(c).resolve()
            if any(real.is_relative_to(a.resolve()) for a in avoid):
                continue
            return Path(c)
        return Path.home()

    def _confirm(self, text: str) -> bool:
        """Ask Yes/No (No is the default); tests override this method."""
        QMB = QtWidgets.QMessageBox
        answer = QMB.question(self, "Replace files?", text, QMB.StandardButton.Yes | QMB.StandardButton.No,
                              QMB.StandardButton.No)
        return answer == QMB.StandardButton.Yes

    def _choose_file(self, start: Path, name: str, fmt: str) -> Path | None:
        filters = ";;".join(f"{label} (*.{f})" for f, label in EXPORT_FORMATS.items())
        f, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export model", str(start / f"{name}.{fmt}"),
                                                     filters, f"{EXPORT_FORMATS[fmt]} (*.{fmt})")
        return Path(f) if f else None

    def _choose_folder(self, start: Path, n: int) -> Path | None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, f"Export {n} models to a folder", str(start))
        return Path(d) if d else None

    def export(self) -> None:
        """Export the selected models: one to a file the user names, several to a folder
        (one file each, named after the model); existing files are replaced only if the
        user says so."""
        names = self.selected_models()
        if not names or self.session.case is None:
            self.win.status("Build or import a model first.")
            return
        fmt, frame, start = self.fmt.currentText(), self.frame.currentText(), self.export_start_folder()
        if len(names) == 1:
            path = self._choose_file(start, names[0], fmt)
            if path is None:
                return
            if path.suffix.lower().lstrip(".") not in EXPORT_FORMATS:
                path = path.with_name(path.name + f".{fmt}")
            # the file dialog itself asks before replacing a file
            self.export_to(names[0], path, frame, overwrite=True)
            return
        folder = self._choose_folder(start, len(names))
        if folder is not None:
            self.export_all(names, folder, fmt, frame)

    def export_all(self, names: list[str], folder: Path, fmt: str = "stl", frame: str = "LPS",
                   overwrite: bool | None = None) -> None:
        """Write each of ``names`` to ``folder/<name>.<fmt>`` (a background job); asks before
        replacing existing files unless ``overwrite`` is given."""
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.surfaces.export import model_files

        try:
            files = model_files(names, folder, fmt)
        except SurgiplanError as exc:
            self.win.show_error(str(exc))
            return
        exist = [f.name for f in files.values() if f.exists()]
        if overwrite is None:
            overwrite = False
            if exist:
                more = f" and {len(exist) - 5} more" if len(exist) > 5 else ""
                if not self._confirm(f"{folder} already holds {', '.join(exist[:5])}{more}.\n\nReplace them?"):
                    self.win.status("Nothing exported.")
                    return
                overwrite = True
        case = self.session.case
        meshes = {n: case.get_model(n) for n in names}

        def job(progress):  # the core export: one checked, atomic file per model
            from surgiplan.core.surfaces.export import export_meshes

            return export_meshes(meshes, folder, fmt=fmt, frame=frame, overwrite=overwrite,
                                 protected=[case.root], progress=progress)

        def done(paths):
            self.last_export_folder = folder
            self._status_after_job(f"Wrote {len(paths)} models to {folder} ({fmt.upper()}, {frame})")

        self.win.run_job(f"Exporting {len(names)} models", job, done)

    def export_to(self, name: str, path: Path, frame: str = "LPS", overwrite: bool = False) -> None:
        """Write model ``name`` to the file ``path`` (a background job; refused inside the case)."""
        case = self.session.case
        mesh = case.get_model(name)
        folder = path.parent

        def job(progress):
            from surgiplan.core.fileio import check_output
            from surgiplan.core.surfaces import write_mesh

            check_output(path, overwrite=overwrite, protected=[case.root])
            return write_mesh(mesh, path, frame=frame, name=name)

        def done(p):
            self.last_export_folder = folder
            self._status_after_job(f"Wrote {p} ({frame})")

        self.win.run_job(f"Exporting {name}", job, done)

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
