"""The main window: workflow sidebar, the active panel, the view area, menus and status bar.

It owns what is open (scan, segmentation, case, current plan) and hands work to
the core through :class:`~surgiplan.gui.jobs.JobRunner`; panels ask the window
for these and listen to its signals.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.errors import SurgiplanError
from surgiplan.core.session import Session
from surgiplan.gui.jobs import JobRunner
from surgiplan.gui.panels.common import guard_wheel
from surgiplan.gui.settings import Settings, cases_dir
from surgiplan.gui.undo import UndoBridge
from surgiplan.gui.views.layouts import ViewLayout
from surgiplan.gui.views.slice_view import SliceView
from surgiplan.gui.views.view3d import View3D
from surgiplan.gui.views.viewer_state import ViewerState
from surgiplan.gui.workflow_sidebar import LATER, STEPS, WorkflowSidebar

SAMPLES = ("hip", "knee", "spine", "vascular", "knee_mri")
AUTOSAVE_MS = 120_000


class MainWindow(QtWidgets.QMainWindow):
    caseChanged = QtCore.Signal()
    volumeChanged = QtCore.Signal()
    segmentationChanged = QtCore.Signal()
    modelsChanged = QtCore.Signal()
    plansChanged = QtCore.Signal()

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings.load()
        self.setObjectName("surgiplan_main")
        #: What is open (core, no Qt): case, scans, segmentation, current plan, selection.
        self.session = Session()
        self.last_error = ""
        self._recover_yes: set[Path] = set()

        self.state = ViewerState(self)
        self.slice_views = {v: SliceView(self.state, v) for v in ("axial", "coronal", "sagittal")}
        self.view3d = View3D(self)
        self.layout_widget = ViewLayout({**self.slice_views, "3d": self.view3d})
        self.jobs = JobRunner(self)

        self.sidebar = WorkflowSidebar()
        self.panel_stack = QtWidgets.QStackedWidget()
        self.panel_stack.setMinimumWidth(400)
        self.panel_stack.setMaximumWidth(520)
        self.panels: dict[str, QtWidgets.QWidget] = {}
        self._make_panels()

        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        split.addWidget(self.panel_stack)
        split.addWidget(self.layout_widget)
        split.setStretchFactor(1, 1)
        split.setSizes([410, 1200])
        split.setChildrenCollapsible(False)
        central = QtWidgets.QWidget()
        h = QtWidgets.QHBoxLayout(central)
        h.setContentsMargins(0, 0, 4, 0)
        h.setSpacing(0)
        h.addWidget(self.sidebar)
        from surgiplan.gui.panels.key_strip import KeyStrip

        #: key measurements always in sight above the panel and the views (the Plan panel fills it)
        self.key_strip = KeyStrip()
        column = QtWidgets.QVBoxLayout()
        column.setContentsMargins(0, 2, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.key_strip)
        column.addWidget(split, 1)
        h.addLayout(column, 1)
        self.setCentralWidget(central)
        self.sidebar.stepChosen.connect(self.show_step)

        self.undo = UndoBridge(self, self.status)
        self._make_status_bar()
        self._make_menus()
        from surgiplan.gui.views.measure_tools import MeasureTools

        #: ruler / angle / diameter / reformat tool bar and the Measurements table (views/measure_tools.py)
        self.measure_tools = MeasureTools(self)
        self.jobs.started.connect(self._job_started)
        self.jobs.progressed.connect(self._job_progress)
        self.jobs.finished.connect(self._job_finished)
        self.jobs.finishing.connect(self._job_finishing)

        self.session.subscribe(self._session_event)

        self._autosave = QtCore.QTimer(self)
        self._autosave.setInterval(AUTOSAVE_MS)
        self._autosave.timeout.connect(self.autosave)
        self._autosave.start()
        self.resize(1600, 980)
        self.update_title()

    # ------------------------------------------------------------------ panels
    def _make_panels(self) -> None:
        from surgiplan.gui.panels.compare_panel import ComparePanel
        from surgiplan.gui.panels.data_panel import DataPanel
        from surgiplan.gui.panels.models_panel import ModelsPanel
        from surgiplan.gui.panels.plan_panel import PlanPanel
        from surgiplan.gui.panels.report_panel import ReportPanel
        from surgiplan.gui.panels.segment_panel import SegmentPanel
        from surgiplan.gui.panels.simulate_panel import SimulatePanel

        for name, cls in zip(STEPS, (DataPanel, SegmentPanel, ModelsPanel, PlanPanel, ComparePanel, ReportPanel,
                                     SimulatePanel), strict=True):
            panel = cls(self)
            guard_wheel(panel)
            panel.setObjectName(f"panel_{name}")
            self.panels[name] = panel
            self.panel_stack.addWidget(panel)

    def show_step(self, name: str) -> None:
        """Switch the workflow to ``name`` (Data, Segment, Models, Plan, Compare)."""
        panel = self.panels[name]
        self.panel_stack.setCurrentWidget(panel)
        self.sidebar.set_current(name)
        if hasattr(panel, "activated"):
            panel.activated()
        # bones see-through while planning so that implants inside them stay visible
        self.view3d.set_opacity_prefixed("model:", 0.45 if name == "Plan" else 1.0)

    # --------------------------------------------------------------- status bar
    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.status_label = QtWidgets.QLabel("Ready")
        self.progress_bar = QtWidgets.QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFixedWidth(240)
        self.progress_bar.setTextVisible(False)
        self.cancel_button = QtWidgets.QPushButton("Cancel")
        self.cancel_button.setObjectName("cancel_job")
        self.cancel_button.clicked.connect(self.jobs.cancel)
        self.cancel_button.setToolTip("Stop the running job (Esc); nothing is changed")
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.progress_bar)
        sb.addPermanentWidget(self.cancel_button)
        self.progress_bar.hide()
        self.cancel_button.hide()
        esc = QtGui.QShortcut(QtGui.QKeySequence("Esc"), self)
        esc.activated.connect(self.jobs.cancel)

    def status(self, message: str) -> None:
        self.status_label.setText(message)
        self._status_serial = getattr(self, "_status_serial", 0) + 1

    def _job_finishing(self, title: str) -> None:
        self._status_mark = getattr(self, "_status_serial", 0)

    def _job_started(self, title: str) -> None:
        self.progress_bar.setValue(0)
        self.progress_bar.show()
        self.cancel_button.show()
        self.status(f"{title}…")

    def _job_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(fraction * 1000))
        if message:
            self.status(message)

    def _job_finished(self, title: str, ok: bool, message: str) -> None:
        if not self.jobs.busy:
            self.progress_bar.hide()
            self.cancel_button.hide()
            # what the job's on_done said (e.g. "Separated pelvis: ...") outranks "<title>: done"
            said = ok and getattr(self, "_status_serial", 0) != getattr(self, "_status_mark", -1)
            if not said:
                self.status(message)
        if not ok and "cancelled" not in message:
            self.last_error = message
            self.show_error(message)
        self.update_title()

    def show_error(self, message: str) -> None:
        """A non-blocking error box (tests read ``last_error``)."""
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "surgiplan", message,
                                    QtWidgets.QMessageBox.StandardButton.Ok, self)
        box.setObjectName("error_box")
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setModal(False)
        box.show()

    def run_job(self, title, fn, on_done=None, on_partial=None):
        """Run ``fn(progress)`` in the background (see :class:`JobRunner`)."""
        return self.jobs.submit(title, fn, on_done=on_done, on_partial=on_partial)

    # ------------------------------------------------------------------- menus
    def _action(self, menu, text, slot, shortcut=None, tip=None, name=None):
        a = QtGui.QAction(text, self)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        if name:
            a.setObjectName(name)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _make_menus(self) -> None:
        mb = self.menuBar()
        data = self.panels["Data"]
        f = mb.addMenu("&File")
        self._action(f, "Open DICOM folder…", data.choose_dicom_folder, "Ctrl+O")
        self._action(f, "Open case…", data.choose_case, "Ctrl+Shift+O")
        self._action(f, "Import volume (NRRD/NIfTI)…", data.choose_volume_file, "Ctrl+I")
        samples = f.addMenu("Open sample scan")
        for s in SAMPLES:
            self._action(samples, s.replace("_", " "), lambda _=False, s=s: self.open_sample(s))
        self.recent_menu = f.addMenu("Recent cases")
        self._fill_recent()
        f.addSeparator()
        # QAction.triggered passes ``checked``: never let it reach save_case(then=...)
        self._action(f, "Save case", lambda _checked=False: self.save_case(), "Ctrl+S", name="save_case")
        self._action(f, "Save case as…", lambda _checked=False: self.choose_save_as(), "Ctrl+Shift+S",
                     "Write the whole case (scan, segmentation, models, plans) to a new folder",
                     name="save_case_as")
        f.addSeparator()
        self._action(f, "Quit", self.close, "Ctrl+Q")

        e = mb.addMenu("&Edit")
        e.addAction(self.undo.undo_action)
        e.addAction(self.undo.redo_action)

        v = mb.addMenu("&View")
        for i, mode in enumerate(("1-up", "2-up", "4-up")):
            self._action(v, f"Layout {mode}", lambda _=False, m=mode: self.layout_widget.set_layout(m),
                         f"Ctrl+Alt+{(1, 2, 4)[i]}")
        v.addSeparator()
        wl = v.addMenu("Window/level preset")
        from surgiplan.scene.window_presets import CT_WINDOWS

        for i, name in enumerate(CT_WINDOWS):
            self._action(wl, name, lambda _=False, n=name: self.set_window_preset(n), f"F{i + 2}")
        self._action(wl, "automatic", lambda: self.set_window_preset("auto"), "F7")
        vr = v.addMenu("3D volume rendering")
        for name in ("bone", "soft tissue", "vessel", "mip", "off"):
            self._action(vr, name.upper() if name == "mip" else name,
                         lambda _=False, n=name: self.show_volume_rendering(n))
        cams = v.addMenu("3D camera")
        for name in ("anterior", "posterior", "left", "right", "superior", "inferior"):
            self._action(cams, name, lambda _=False, n=name: self.view3d.set_camera(n))
        v.addSeparator()
        theme = v.addMenu("Theme")
        for t in ("dark", "light"):
            self._action(theme, t, lambda _=False, t=t: self.set_theme(t))

        w = mb.addMenu("&Workflow")
        for i, step in enumerate(STEPS):
            self._action(w, step, lambda _=False, s=step: self.show_step(s), f"Ctrl+{i + 1}")
        for later in LATER:
            a = self._action(w, f"{later} (later version)", lambda: None)
            a.setEnabled(False)

        hm = mb.addMenu("&Help")
        self._action(hm, "Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(hm, "Open log folder", self.open_log_folder)
        self._action(hm, "About surgiplan", self.show_about)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self.settings.recent_cases:
            self._action(self.recent_menu, p, lambda _=False, p=p: self.panels["Data"].open_case(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_cases))

    def show_shortcuts(self) -> None:
        text = (
            "<b>Views</b><br>Left click/drag: move the crosshair · Right drag: window/level · "
            "Wheel: scroll slices (Shift ×10) · Ctrl+wheel: zoom · Middle drag: pan · "
            "Double click: maximise · R: reset zoom<br>F2–F6: bone, soft tissue, lung, brain, "
            "vessel window · F7: automatic<br>Ctrl+Alt+1/2/4: layouts<br><br><b>Workflow</b><br>"
            "Ctrl+1…5: Data, Segment, Models, Plan, Compare<br>Ctrl+Z / Ctrl+Shift+Z: undo / redo · "
            "Ctrl+S: save · Ctrl+Shift+S: save as · Esc: cancel the running job<br><br><b>Plan</b><br>"
            "Arrow keys, Page Up/Down:"
            " move the implant 1 mm (Shift 0.1 mm) · with Alt: rotate 1° (Shift 0.1°)"
        )
        QtWidgets.QMessageBox.information(self, "Keyboard shortcuts", text)

    def about_text(self) -> str:
        """Help > About: version, build (commit, date), Python and platform, log folder."""
        from html import escape

        from surgiplan.core.appdirs import log_dir
        from surgiplan.core.appinfo import build_info

        b = build_info()
        build = escape(b["kind"] + (f", commit {b['commit']}" if b["commit"] else "")
                       + (f", built {b['date']}" if b["date"] else ""))
        return (f"<b>surgiplan {escape(b['version'])}</b><br>3D surgical planning workstation.<br>"
                f"Build: {build}<br>Python {escape(b['python'])} on {escape(b['platform'])}<br>"
                f"Log folder: {escape(str(log_dir()))}<br>"
                "Not a medical device: for research and education.")

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "About surgiplan", self.about_text())

    def open_log_folder(self) -> None:
        """Help > Open log folder: the folder of surgiplan.log in the file manager."""
        from PySide6 import QtCore, QtGui

        from surgiplan.core.appdirs import log_dir, setup_logging

        setup_logging("gui")
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        if not QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(folder))):
            QtWidgets.QMessageBox.information(self, "Log folder", f"The log files are in {folder}")

    def set_theme(self, theme: str) -> None:
        from surgiplan.gui.app import apply_theme

        apply_theme(QtWidgets.QApplication.instance(), theme)
        self.settings.theme = theme
        self.settings.save()

    def show_volume_rendering(self, preset: str) -> None:
        """Volume-render the scan in the 3D view with a preset of
        :mod:`surgiplan.scene.volume_rendering` (bone, soft tissue, vessel, mip) or "off"."""
        volume = self.state.volume
        if volume is None or preset == "off":
            self.view3d.show_volume(volume, "off")
            return

        def do() -> None:
            from surgiplan.scene.volume_rendering import add_volume_rendering

            add_volume_rendering(self.view3d.plotter, volume, preset)
            self.view3d.plotter.render()

        self.view3d.when_ready(do)
        self.status(f"3D: {preset} volume rendering")

    def set_window_preset(self, name: str) -> None:
        from surgiplan.scene.window_presets import CT_WINDOWS, auto_window

        if self.state.volume is None:
            return
        c, w = auto_window(self.state.volume) if name == "auto" else CT_WINDOWS[name]
        self.state.set_window(c, w)
        self.status(f"Window {name}: W {w:.0f} L {c:.0f}")

    # ------------------------------------------------------------ what is open
    @property
    def volume(self):
        return self.state.volume

    def set_volume(self, volume, *, partial: bool = False, fraction: float = 1.0) -> None:
        """Show a scan. ``partial`` while slices are still arriving (keeps the crosshair)."""
        first = self.state.volume is None or not self.state.volume.same_grid(volume)
        self.state.loaded_fraction = fraction if partial else 1.0
        self.state.set_volume(volume, keep_crosshair=not first)
        if not partial:
            self.session.set_volume(volume, self.scan_name, saved=self.scan_saved)
            self.view3d.show_volume(volume)
            self.volumeChanged.emit()

    # the session's state, as the panels read it (they may also use ``win.session``)
    case = property(lambda self: self.session.case)
    segmentation = property(lambda self: self.session.segmentation)

    @property
    def current_plan(self) -> str | None:
        return self.session.current_plan

    @current_plan.setter
    def current_plan(self, name: str | None) -> None:
        self.session.current_plan = name

    @property
    def scan_name(self) -> str:
        return self.session.scan_name

    @scan_name.setter
    def scan_name(self, name: str) -> None:
        self.session.scan_name = name

    @property
    def scan_saved(self) -> bool:
        return self.session.scan_saved

    @scan_saved.setter
    def scan_saved(self, saved: bool) -> None:
        self.session.scan_saved = saved

    def set_segmentation(self, seg) -> None:
        self.session.set_segmentation(seg)

    def set_case(self, case, plan: str | None = None) -> None:
        self.session.set_case(case, plan)

    def _session_event(self, event) -> None:
        """Map the session's events to the window's Qt signals and redraws."""
        from surgiplan.core import session as S

        if event.kind == S.CASE:
            self.undo.set_case(self.session.case)
            self.caseChanged.emit()
        elif event.kind == S.PLANS:
            with self.view3d.batch():  # every panel redraws its part; the 3D view renders once
                self.plansChanged.emit()
            if self.segmentation is not None:
                self.state.segmentation_changed()
        elif event.kind == S.SEGMENTATION:
            self.state.set_segmentation(self.segmentation)
            self.segmentationChanged.emit()
        elif event.kind == S.MODELS:
            self.modelsChanged.emit()
        elif event.kind == S.DIRTY:
            self.update_title()

    def ensure_case(self):
        """The open case; a new in-memory one (core ``Session.ensure_case``) when none is open.

        Nothing is written until the user saves; the folder is reserved under the cases folder.
        """
        if self.case is None:
            case = self.session.ensure_case(cases_dir())
            self.status(f"New case {case.root.name} (saved to {case.root.parent} when you save)")
        return self.case

    def is_modified(self) -> bool:
        return self.session.dirty or (self.state.volume is not None and not self.scan_saved)

    def update_title(self) -> None:
        name = self.case.model.name if self.case is not None else None
        if name is None and self.state.volume is not None:
            name = str(self.state.volume.metadata.get("series_description") or "untitled")
        self.setWindowTitle(f"surgiplan — {name}[*]" if name else "surgiplan")
        self.setWindowModified(self.is_modified())

    # ------------------------------------------------------------------ actions
    def open_path(self, path: str | Path) -> None:
        """Open a case folder, a DICOM folder or a volume file."""
        self.panels["Data"].open_path(Path(path))

    def open_sample(self, name: str) -> None:
        self.show_step("Data")
        self.panels["Data"].open_sample(name)

    def save_case(self, then=None) -> None:
        """Save the case (creating it if needed); the scan and segmentation go into scans/."""
        if self.state.volume is None:
            self.status("Nothing to save: open a scan first.")
            return
        try:
            self.ensure_case()
        except SurgiplanError as exc:  # e.g. the cases folder is full or read-only
            self.last_error = str(exc)
            self.show_error(str(exc))
            return
        session = self.session

        def job(progress):  # core Session.save: the scan when new, its segmentation, the case
            return session.save(progress, notify=False)  # no events from the worker thread

        def done(root):
            from surgiplan.core.case.autosave import discard_autosave

            discard_autosave(root)
            session.emit("dirty", dirty=session.dirty)
            self.settings.add_recent(root)
            self.settings.save()
            self._fill_recent()
            self.status(f"Saved {root}")
            self.update_title()
            if then is not None:
                then()

        self.run_job("Saving the case", job, done)

    def choose_save_as(self) -> None:
        """File > Save case as…: ask for a new folder, then :meth:`save_case_as`."""
        if self.state.volume is None and self.case is None:
            self.status("Nothing to save: open a scan first.")
            return
        name = self.case.model.name if self.case is not None else "case"
        start = str((Path(self.settings.last_folder) if self.settings.last_folder else cases_dir())
                    / f"{name}-copy")
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Save the case in a new folder", start, "Case folder (*)",
            options=QtWidgets.QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.save_case_as(Path(path))

    def save_case_as(self, root: str | Path, then=None) -> None:
        """Write the whole case to the new folder ``root`` (core ``Session.save_as``) and work there.

        The folder must be new or empty and outside the case; the old folder is not touched.
        """
        if self.state.volume is None and self.case is None:
            self.status("Nothing to save: open a scan first.")
            return
        try:
            self.ensure_case()
            self.case.check_new_location(root)  # refuse before starting a job
        except SurgiplanError as exc:
            self.last_error = str(exc)
            self.show_error(str(exc))
            return
        session, old_root = self.session, self.case.root

        def job(progress):
            return session.save_as(root, progress, notify=False)  # no events from the worker thread

        def done(new_root):
            from surgiplan.core.case.autosave import discard_autosave

            for r in (old_root, new_root):
                discard_autosave(r)
            session.emit("dirty", dirty=session.dirty)
            self.settings.add_recent(new_root)
            self.settings.last_folder = str(Path(new_root).parent)
            self.settings.save()
            self._fill_recent()
            self.status(f"Saved as {new_root}")
            self.update_title()
            if then is not None:
                then()

        self.run_job("Saving the case in a new folder", job, done)

    def autosave(self) -> Path | None:
        """Snapshot the unsaved case (core ``Session.autosave``; every ``AUTOSAVE_MS``).

        A scan not yet saved goes with it (volume once, segmentation when changed), in the
        user's autosave folder, never in the case.
        """
        if self.case is None or not self.session.dirty or self.jobs.busy:
            return None
        try:
            path = self.session.autosave()
        except Exception as exc:  # noqa: BLE001 - autosave must never disturb the user
            self.status(f"Autosave failed: {exc}")
            return None
        self.status(f"Autosaved at {time.strftime('%H:%M:%S')} (offered for recovery if the "
                    "window closes without saving)")
        return path

    def ask_recover(self, info) -> bool:
        """Ask whether to recover an autosave (``info``: core AutosaveInfo). Tests set
        ``_auto_recover`` to True/False to answer without the dialog."""
        root = Path(info.case_root).resolve()
        if root in self._recover_yes:
            self._recover_yes.discard(root)
            return True
        answer = getattr(self, "_auto_recover", None)
        if answer is None:
            if (root / "case.json").is_file():
                text = (f"The case {root.name} has an autosave from {info.saved_at} that is newer than "
                        "the saved case (the window was closed without saving). Recover it?")
            else:
                text = (f"The case {root.name} was never saved; an autosave from {info.saved_at} holds "
                        "its scan, segmentation and plans (the window was closed without saving). "
                        "Recover it?")
            r = QtWidgets.QMessageBox.question(self, "Recover autosave", text)
            answer = r == QtWidgets.QMessageBox.StandardButton.Yes
        if not answer:
            from surgiplan.core.case.autosave import discard_autosave

            discard_autosave(root)
        return bool(answer)

    def recover_at_start(self) -> bool:
        """On a start without a path: offer the most recent case that has an autosave, then
        every case that was never saved, newest first (its scan and segmentation come back),
        until one is accepted; a declined autosave is discarded."""
        from surgiplan.core.case.autosave import find_autosave, list_autosaves

        for p in self.settings.recent_cases[:8]:
            info = find_autosave(p) if Path(p).is_dir() else None
            if info is not None:
                if self.ask_recover(info):
                    self._recover_yes.add(Path(p).resolve())
                    self.open_path(p)
                    return True
                break
        for info in list_autosaves():
            if self.ask_recover(info):
                self._recover_yes.add(Path(info.case_root).resolve())
                self.panels["Data"].open_case(info.case_root)
                return True
        return False

    # ---------------------------------------------------------------- closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802
        if self.is_modified() and not getattr(self, "_skip_prompt", False):
            r = QtWidgets.QMessageBox.question(
                self, "Unsaved changes",
                "The case has unsaved changes. Save them before closing?",
                QtWidgets.QMessageBox.StandardButton.Save | QtWidgets.QMessageBox.StandardButton.Discard
                | QtWidgets.QMessageBox.StandardButton.Cancel)
            if r == QtWidgets.QMessageBox.StandardButton.Cancel:
                event.ignore()
                return
            if r == QtWidgets.QMessageBox.StandardButton.Save:
                event.ignore()
                self.save_case(then=self._close_now)
                return
        self._shutdown()
        event.accept()

    def _close_now(self) -> None:
        self._skip_prompt = True
        self.close()

    def _shutdown(self) -> None:
        self.jobs.cancel()
        self.jobs.wait(30000)
        self._autosave.stop()
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode()
        self.settings.layout = self.layout_widget.mode
        try:
            self.settings.save()
        except OSError:
            pass
        self.view3d.close_plotter()
        for p in self.panels.values():
            if hasattr(p, "shutdown"):
                p.shutdown()
