"""Data: the DICOM browser (patient / study / series with thumbnail, modality, slice
count, spacing and the importer's warnings), open folder/case/volume file, sample scans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.imaging.describe import dicom_date, first_attr, person_name, series_warnings
from surgiplan.core.imaging.describe import spacing_text as _spacing_text
from surgiplan.gui.panels.common import Panel, button, hint, row

SAMPLE_LABELS = {"hip": "Hip (CT)", "knee": "Knee (CT)", "spine": "Lumbar spine (CT)",
                 "vascular": "Abdominal aorta (CTA)", "knee_mri": "Knee (MR, sagittal)"}
SERIES_ROLE = QtCore.Qt.ItemDataRole.UserRole + 1


class DataPanel(Panel):
    """Open scans and cases; browse DICOM series and load one."""

    def __init__(self, win) -> None:
        super().__init__(win, "Data", "Open a DICOM folder, a case, a volume file or a sample scan.")
        g = self.group("Open")
        g.addLayout(row(button("DICOM folder…", self.choose_dicom_folder, "Browse a folder of DICOM "
                                "files (Ctrl+O)", name="open_dicom"),
                        button("Case…", self.choose_case, "Open a surgiplan case folder (Ctrl+Shift+O)",
                               name="open_case"),
                        button("NRRD/NIfTI…", self.choose_volume_file,
                               "Import a .nrrd, .nii, .nii.gz or .mha volume (Ctrl+I)",
                               name="import_volume")))
        self.sample_combo = QtWidgets.QComboBox()
        self.sample_combo.setObjectName("sample_combo")
        for key, label in SAMPLE_LABELS.items():
            self.sample_combo.addItem(label, key)
        g.addLayout(row(QtWidgets.QLabel("Sample scan"), self.sample_combo,
                        button("Open", lambda: self.open_sample(self.sample_combo.currentData()),
                               "Generate (first time) and open a synthetic patient scan",
                               name="open_sample")))

        g = self.group("DICOM browser")
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setObjectName("dicom_tree")
        self.tree.setHeaderLabels(["Patient / study / series", "Modality", "Slices", "Spacing (mm)"])
        for c, tip in enumerate(("Patient, study and series; hover for the full text",
                                 "Modality", "Number of slices (frames)",
                                 "Pixel spacing (row, column) × slice spacing, mm")):
            self.tree.headerItem().setToolTip(c, tip)
        self.tree.setIconSize(QtCore.QSize(56, 56))
        self.tree.setIndentation(14)
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setMinimumHeight(220)
        self.tree.setTextElideMode(QtCore.Qt.TextElideMode.ElideMiddle)
        hdr = self.tree.header()
        hdr.setStretchLastSection(False)
        hdr.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for c in (1, 2, 3):
            hdr.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
            self.tree.setColumnHidden(c, True)  # shown in each series' card (first column)
        self.tree.currentItemChanged.connect(self._series_selected)
        self.tree.itemDoubleClicked.connect(lambda *_: self.load_selected())
        g.addWidget(self.tree)
        self.series_info = QtWidgets.QLabel("")
        self.series_info.setWordWrap(True)
        self.series_info.setObjectName("series_warnings")
        g.addWidget(self.series_info)
        self.skipped_label = hint("")
        g.addWidget(self.skipped_label)
        self.load_button = button("Load series", self.load_selected, "Load the selected series "
                                  "(double-click does the same)", primary=True, name="load_series")
        self.load_button.setEnabled(False)
        g.addLayout(row(None, self.load_button))

        g = self.group("Loaded scan")
        self.scan_label = QtWidgets.QLabel("No scan loaded.")
        self.scan_label.setObjectName("scan_label")
        self.scan_label.setWordWrap(True)
        self.scan_label.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        g.addWidget(self.scan_label)
        from surgiplan.gui.panels.timeline import TimelineGroup

        self.timeline = TimelineGroup(win, self.group("Timeline"))
        self.finish()
        self.discovery = None
        self.win.volumeChanged.connect(self._describe_volume)

    # ---------------------------------------------------------------- choosing
    def _start_dir(self) -> str:
        return self.win.settings.last_folder or str(Path.home())

    def choose_dicom_folder(self) -> None:
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a DICOM folder", self._start_dir())
        if d:
            self.win.settings.last_folder = d
            self.browse_dicom(Path(d))

    def choose_case(self) -> None:
        from surgiplan.gui.settings import cases_dir

        start = str(cases_dir()) if cases_dir().is_dir() else self._start_dir()
        d = QtWidgets.QFileDialog.getExistingDirectory(self, "Open a case folder", start)
        if d:
            self.open_case(Path(d))

    def choose_volume_file(self) -> None:
        f, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Import a volume", self._start_dir(),
            "Volumes (*.nrrd *.nhdr *.nii *.nii.gz *.mha *.mhd);;All files (*)")
        if f:
            self.win.settings.last_folder = str(Path(f).parent)
            self.open_volume_file(Path(f))

    def open_path(self, path: Path) -> None:
        """A case folder, a DICOM folder or a volume file, whichever ``path`` is."""
        if path.is_dir() and (path / "case.json").is_file() or path.name == "case.json":
            self.open_case(path)
        elif path.is_dir():
            self.browse_dicom(path)
        else:
            self.open_volume_file(path)

    # ------------------------------------------------------------------- jobs
    def open_sample(self, name: str) -> None:
        """Get (generating on first use) the sample scan ``name`` and browse its DICOM folder."""
        def job(progress):
            from surgiplan.core.samples import sample_path

            return sample_path(name, progress=progress)

        self.win.run_job(f"Preparing the {name} sample scan", job,
                         lambda paths: self.browse_dicom(Path(paths.dicom_dir), auto_load=True,
                                                         sample=name))

    def browse_dicom(self, folder: Path, auto_load: bool = False, sample: str | None = None) -> None:
        """Discover the series under ``folder`` and list them (loading the largest if ``auto_load``)."""
        def job(progress):
            from surgiplan.core.imaging import discover
            from surgiplan.core.imaging.progressive import series_files, thumbnail
            from surgiplan.core.jobs import sub_progress

            disc = discover(folder, progress=sub_progress(progress, 0, 0.9))
            thumbs = []
            for s in disc.series:
                files = series_files(s) or []
                try:
                    thumbs.append(thumbnail(files[len(files) // 2]) if files else None)
                except Exception:  # noqa: BLE001 - a thumbnail is optional
                    thumbs.append(None)
            return disc, thumbs

        def done(result):
            disc, thumbs = result
            self.show_discovery(disc, thumbs, folder)
            if auto_load and disc.series:
                self.load_series(self._largest(disc), sample=sample)

        self.win.run_job(f"Reading DICOM headers in {folder.name}", job, done)

    @staticmethod
    def _largest(disc):
        pool = [s for s in disc.series if getattr(s, "is_image_series", True)] or disc.series
        return max(pool, key=lambda s: int(first_attr(s, "n_slices", "num_slices", default=0) or 0))

    def show_discovery(self, disc, thumbs, folder: Path) -> None:
        self.discovery = disc
        self.tree.clear()
        patients: dict[str, QtWidgets.QTreeWidgetItem] = {}
        studies: dict[str, QtWidgets.QTreeWidgetItem] = {}
        first = None
        for s, th in zip(disc.series, thumbs, strict=True):
            pname = str(first_attr(s, "patient_name", default="") or "")
            pid = str(first_attr(s, "patient_id", default="") or "")
            pkey = f"{pname}|{pid}"
            if pkey not in patients:
                text = person_name(pname) if pname else "(no name)"
                it = QtWidgets.QTreeWidgetItem([text + (f"   ID {pid}" if pid else "")])
                it.setToolTip(0, f"Patient: {text}\nPatient ID: {pid or '(none)'}")
                f = it.font(0)
                f.setBold(True)
                it.setFont(0, f)
                it.setSizeHint(0, QtCore.QSize(0, self.tree.fontMetrics().height() + 10))
                self.tree.addTopLevelItem(it)
                it.setFirstColumnSpanned(True)  # names use the whole width, not the first column
                patients[pkey] = it
            skey = str(first_attr(s, "study_uid", default="")) or pkey
            if skey not in studies:
                desc = str(first_attr(s, "study_description", default="") or "Study")
                date = dicom_date(first_attr(s, "study_date", default="") or "")
                it = QtWidgets.QTreeWidgetItem([f"{desc}   {date}".strip()])
                it.setToolTip(0, f"Study: {desc}\nDate: {date or '(none)'}\nStudy UID: "
                              f"{first_attr(s, 'study_uid', default='') or '(none)'}")
                it.setSizeHint(0, QtCore.QSize(0, self.tree.fontMetrics().height() + 8))
                patients[pkey].addChild(it)
                it.setFirstColumnSpanned(True)
                studies[skey] = it
            n = first_attr(s, "n_slices", "num_slices", default="")
            sp_txt = _spacing_text(s)
            num = first_attr(s, "series_number", default="")
            mod = str(first_attr(s, "modality", default=""))
            desc = str(first_attr(s, "series_description", "description", default="") or "(no description)")
            # a card beside the thumbnail: description / series, modality, slices / spacing
            # (the narrow panel has no room for columns; they keep the values, hidden)
            lines = [desc, " · ".join(x for x in (f"Series {num}" if num not in ("", None) else "",
                                                  mod, f"{n} slices") if x)]
            if sp_txt:
                lines.append(f"{sp_txt} mm")
            item = QtWidgets.QTreeWidgetItem(["\n".join(lines), mod, str(n), sp_txt])
            item.setData(0, SERIES_ROLE, s)
            tip = (f"Series {num}: {desc}\n{mod}, {n} slices" + (f", spacing {sp_txt} mm" if sp_txt else ""))
            for c in range(4):
                item.setToolTip(c, tip)
            for c in (1, 2):
                item.setTextAlignment(c, QtCore.Qt.AlignmentFlag.AlignCenter)
            if th is not None:
                g = np.ascontiguousarray(th)
                img = QtGui.QImage(g.data, g.shape[1], g.shape[0], g.strides[0],
                                   QtGui.QImage.Format.Format_Grayscale8).copy()
                item.setIcon(0, QtGui.QIcon(QtGui.QPixmap.fromImage(img)))
            warns = series_warnings(s)
            if warns:
                item.setForeground(0, QtGui.QColor("#e0a030"))
                item.setToolTip(0, tip + "\n\n" + "\n".join(f"⚠ {w}" for w in warns))
            studies[skey].addChild(item)
            first = first or item
        self.tree.expandAll()
        if first is not None:
            self.tree.setCurrentItem(first)
        skipped = list(getattr(disc, "skipped", []) or [])
        self.skipped_label.setText(
            f"{len(disc.series)} series in {folder}" + (f"; {len(skipped)} files skipped "
                                                         "(hover for reasons)" if skipped else ""))
        self.skipped_label.setToolTip("\n".join(f"{Path(getattr(k, 'path', '')).name}: "
                                                f"{getattr(k, 'reason', '')}" for k in skipped[:40]))

    def _selected_series(self):
        it = self.tree.currentItem()
        return None if it is None else it.data(0, SERIES_ROLE)

    def _series_selected(self, *_):
        s = self._selected_series()
        self.load_button.setEnabled(s is not None)
        if s is None:
            self.series_info.setText("")
            return
        warns = series_warnings(s)
        parts = []
        m = getattr(s, "matrix", None)
        if m:
            parts.append(f"{m[0]} × {m[1]} pixels × {getattr(s, 'n_slices', '?')} slices, "
                         f"{_spacing_text(s) or '?'} mm")
        if warns:
            parts.append("<span style='color:#e0a030'>⚠ " + "<br>⚠ ".join(warns) + "</span>")
        self.series_info.setText("<br>".join(parts) or "No warnings for this series.")

    def load_selected(self) -> None:
        s = self._selected_series()
        if s is not None:
            self.load_series(s)

    def load_series(self, series, sample: str | None = None) -> None:
        """Load ``series``: its middle slices first (preview), then the whole series."""
        win = self.win

        def job(progress):
            from surgiplan.core.imaging import load_series
            from surgiplan.core.imaging.progressive import preview_volume, series_files
            from surgiplan.core.jobs import sub_progress

            files = series_files(series)
            if files:
                try:
                    prev = preview_volume(files, progress=sub_progress(progress, 0.0, 0.05))
                except Exception:  # noqa: BLE001 - the preview is a nicety; the full load decides
                    prev = None
                if prev is not None:
                    progress.partial(prev)
            return load_series(series, progress=sub_progress(progress, 0.05, 1.0))

        def partial(vol):
            win.set_volume(vol, partial=True, fraction=0.05)

        def done(vol):
            if sample:
                vol.metadata.setdefault("sample", sample)
            self._new_scan(vol)

        win.run_job("Loading the series", job, done, on_partial=partial)

    def _new_scan(self, vol) -> None:
        win = self.win
        win.set_case(None)
        win.set_segmentation(None)
        win.scan_saved = False
        win.state.clear_outlines()
        win.set_volume(vol)
        win.update_title()

    def open_volume_file(self, path: Path) -> None:
        def job(progress):
            from surgiplan.core.imaging import read_volume

            return read_volume(path)

        self.win.run_job(f"Reading {path.name}", job, self._new_scan)

    def open_case(self, path: Path) -> None:
        """Open a case folder: its planning scan, segmentation, models and plans (a case that
        was never saved but has an autosave is offered for recovery)."""
        win = self.win
        path = Path(path)
        if not (path / "case.json").is_file() and path.name != "case.json":
            from surgiplan.core.case.autosave import find_autosave

            info = find_autosave(path)
            if info is not None:
                if win.ask_recover(info):
                    self.recover_unsaved(path)
                else:
                    win.status(f"The autosave of {path.name} was discarded.")
                return

        def job(progress):
            from surgiplan.core.case import Case
            from surgiplan.core.case.autosave import find_autosave
            from surgiplan.core.imaging import read_volume

            case = Case.open(path)
            vol = seg = None
            if case.model.scans:
                scan = case.model.scans[0]
                progress.update(0.2, f"reading scan {scan.name}")
                vol = read_volume(case.root / scan.volume)
                if scan.segmentation:
                    progress.update(0.7, "reading the segmentation")
                    seg = case.segmentation(scan.name)  # the case's own: one owner
            for i, name in enumerate(case.model_names):
                progress.update(0.8 + 0.2 * i / max(1, len(case.model_names)), f"reading model {name}")
                case.get_model(name)
            return case, vol, seg, find_autosave(case.root)

        def done(result):
            case, vol, seg, autosave = result
            if autosave is not None and win.ask_recover(autosave):
                from surgiplan.core.case.autosave import recover_autosave

                case = recover_autosave(case.root)
                if vol is not None and case.model.scans and case.model.scans[0].segmentation:
                    seg = case.segmentation(case.model.scans[0].name)  # the autosaved one, if edited
            win.set_case(None)
            if vol is not None:
                win.set_volume(vol)
            win.scan_name = case.model.scans[0].name if case.model.scans else "planning"
            win.scan_saved = True
            win.set_segmentation(seg)
            win.set_case(case)
            win.modelsChanged.emit()
            win.settings.add_recent(case.root)
            win.settings.save()
            win._fill_recent()

        win.run_job(f"Opening case {path.name}", job, done)

    def recover_unsaved(self, path: Path) -> None:
        """Bring back a case that was never saved from its autosave: scan, segmentation, models
        and plans, all unsaved (core ``recover_unsaved``)."""
        win = self.win

        def job(progress):
            from surgiplan.core.case.autosave import recover_unsaved

            progress.update(0.1, "reading the autosave")
            return recover_unsaved(path)

        def done(rec):
            win.set_case(None)
            win.set_segmentation(None)
            win.state.clear_outlines()
            name, (vol, seg) = next(iter(rec.scans.items()), ("planning", (None, None)))
            win.scan_name = name
            win.scan_saved = False
            if vol is not None:
                win.set_volume(vol)
            win.set_segmentation(seg)
            win.set_case(rec.case)
            win.modelsChanged.emit()
            win.status(f"Recovered the unsaved case {rec.case.root.name}: save it to keep it")
            win.update_title()

        win.run_job(f"Recovering {path.name}", job, done)

    def _describe_volume(self) -> None:
        v = self.win.state.volume
        if v is None:
            self.scan_label.setText("No scan loaded.")
            return
        from surgiplan.core.imaging import orientation_labels

        md = v.metadata
        lines = [f"<b>{md.get('series_description') or md.get('source') or 'scan'}</b>",
                 v.describe(),
                 "axes i, j, k point " + ", ".join(orientation_labels(v.direction))]
        if md.get("patient_name"):
            lines.insert(1, f"Patient: {person_name(md.get('patient_name'))} {md.get('patient_id', '')}")
        for w in v.warnings:
            lines.append(f"<span style='color:#e0a030'>⚠ {w}</span>")
        self.scan_label.setText("<br>".join(lines))
