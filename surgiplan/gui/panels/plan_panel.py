"""Plan: plan list (new, copy, rename, lock), landmarks (slices or a click on a 3D model),
the implant catalog, placing an implant, moving it (numeric fields, keyboard nudges, 3D
handles), knee resection planes, and measurements with interference that follow a drag
live (throttled to one update per ``LIVE_MS``; one undo step per drag)."""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.planning.anatomy import ANATOMIES, anatomy_of_models
from surgiplan.core.planning.names import human_name, key_of
from surgiplan.core.planning.operations import preview_pose
from surgiplan.gui.panels.common import Panel, button, hint, row
from surgiplan.gui.panels.plan_hip import HipSection
from surgiplan.gui.panels.plan_resection import ResectionSection
from surgiplan.gui.panels.plan_spine import SpineSection
from surgiplan.gui.panels.wrap_delegate import WrapDelegate

IMPLANT_COLOR = (0.70, 0.78, 0.90)
LANDMARK_COLOR = (1.0, 0.35, 0.75)
SELECTED_LANDMARK_COLOR = (1.0, 0.86, 0.30)  # the landmark chosen in the panel: labelled, larger
LIVE_MS = 50  # at most one measurement update per 50 ms while dragging


LABEL_OFFSET_MAX_MM = 8.0  # a label never stands further than this from its landmark (per axis)


def label_anchor(plotter, lps, px: float) -> np.ndarray:
    """A point ``px`` screen pixels up and right of ``lps`` (LPS mm) in the current camera, so
    that a name written there does not hide the landmark's sphere. The offset is at most
    ``LABEL_OFFSET_MAX_MM`` along each screen axis: before the view is laid out (a window a
    few pixels high, the default camera) the pixel scale is meaningless and an unclamped
    offset sent the name off the screen."""
    cam = plotter.camera
    pos, focal = np.asarray(cam.position, float), np.asarray(cam.focal_point, float)
    up = np.asarray(cam.up, float)
    dop = (focal - pos) / max(np.linalg.norm(focal - pos), 1e-9)
    up = up - (up @ dop) * dop
    up /= max(np.linalg.norm(up), 1e-9)
    right = np.cross(dop, up)
    h = max(plotter.window_size[1], 1)
    if cam.parallel_projection:
        mm_per_px = 2 * cam.parallel_scale / h
    else:
        mm_per_px = 2 * ((np.asarray(lps) - pos) @ dop) * np.tan(np.radians(cam.view_angle) / 2) / h
    return np.asarray(lps, float) + (right + up) * min(px * abs(mm_per_px), LABEL_OFFSET_MAX_MM)


class KeyCombo(QtWidgets.QComboBox):
    """A combo box of human names whose items carry machine keys (``itemData``).

    ``setCurrentText`` also accepts a key (``"acetabular_centre_left"`` selects
    "Acetabular centre (left)"); :meth:`current_key` is the chosen item's key, or for an
    editable combo the typed text as a key (core ``key_of``).
    """

    def set_keys(self, keys) -> None:
        keys = list(keys)
        if [self.itemData(i) for i in range(self.count())] == keys:
            return
        self.blockSignals(True)
        self.clear()
        for k in keys:
            self.addItem(human_name(k), k)
        self.blockSignals(False)

    def keys(self) -> list[str]:
        return [self.itemData(i) for i in range(self.count())]

    def setCurrentText(self, text: str) -> None:  # noqa: N802 - Qt API
        i = self.findData(text)
        if i >= 0:
            self.setCurrentIndex(i)
            if self.isEditable():
                self.setEditText(self.itemText(i))
            return
        super().setCurrentText(text)

    def current_key(self) -> str:
        text = self.currentText().strip()
        if not text:
            return ""
        i = self.currentIndex()
        if i >= 0 and self.itemText(i) == text:
            return self.itemData(i)
        return key_of(text, self.keys())


class PlanPanel(Panel):
    def __init__(self, win) -> None:
        super().__init__(win, "Plan", "Place implants from the catalog and check the measurements.")
        self._catalog = None
        # ------------------------------------------------------------ plans
        g = self.group("Plans")
        self.plan_combo = QtWidgets.QComboBox()
        self.plan_combo.setObjectName("plan_combo")
        self.plan_combo.activated.connect(self._plan_chosen)
        self.lock_label = hint("")
        g.addLayout(row(self.plan_combo, button("New", self.new_plan, "Add an empty plan",
                                                name="new_plan"),
                        button("Copy", self.copy_plan, "Duplicate the current plan", name="copy_plan")))
        g.addLayout(row(button("Rename…", self.rename_plan), button("Lock…", self.lock_plan,
                        "Approve and lock the plan (who and when are recorded)", name="lock_plan"),
                        button("Unlock", self.unlock_plan), None))
        g.addWidget(self.lock_label)
        # -------------------------------------------------------- landmarks
        g = self.group("Landmarks")
        self.lm_combo = KeyCombo()
        self.lm_combo.setObjectName("landmark_combo")
        self.lm_combo.setEditable(True)
        self.lm_combo.set_keys(ANATOMIES["hip"].landmarks)
        self.lm_combo.currentTextChanged.connect(lambda *_: self._draw_landmarks(self._lms, render=True))
        self._lms: dict = {}
        g.addLayout(row(self.lm_combo, button("Set at crosshair", self.set_landmark,
                                              "Put this landmark where the slice crosshair is "
                                              "(click a slice to move it)", name="set_landmark")))
        self.pick3d = QtWidgets.QCheckBox("Click on a model in 3D places this landmark")
        self.pick3d.setObjectName("pick_landmark_3d")
        self.pick3d.setToolTip("A click (without dragging) on a bone surface in the 3D view puts or "
                               "moves the landmark chosen above there; dragging still turns the view")
        self.pick3d.toggled.connect(self._pick_toggled)
        g.addWidget(self.pick3d)
        self.fit_button = button(ANATOMIES["hip"].fit_label, self.fit_landmarks, ANATOMIES["hip"].fit_tooltip,
                                 name="fit_landmarks")  # label follows the case's anatomy
        g.addWidget(self.fit_button)
        self.gt_button = button("Take landmarks from the sample's ground truth", self.sample_landmarks,
                                "Sample scans come with their true landmarks", name="sample_landmarks")
        g.addWidget(self.gt_button)
        self.lm_label = hint("No landmarks yet.")
        g.addWidget(self.lm_label)
        # ---------------------------------------------------------- catalog
        g = self.group("Implant catalog")
        self.cat_tree = QtWidgets.QTreeWidget()
        self.cat_tree.setObjectName("catalog_tree")
        self.cat_tree.setHeaderLabels(["Implant"])
        self.cat_tree.setHeaderHidden(True)
        WrapDelegate(self.cat_tree)  # full names, on two lines where the panel is narrow
        self.cat_tree.setMinimumHeight(150)
        self.cat_tree.setMaximumHeight(230)
        self.cat_tree.header().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.cat_tree.currentItemChanged.connect(self._implant_chosen)
        g.addWidget(self.cat_tree)
        self.size_combo = QtWidgets.QComboBox()
        self.size_combo.setObjectName("size_combo")
        self.side_combo = QtWidgets.QComboBox()
        self.side_combo.setObjectName("side_combo")
        self.side_combo.addItems(["right", "left", "none"])
        g.addLayout(row(QtWidgets.QLabel("Size"), self.size_combo, QtWidgets.QLabel("Side"),
                        self.side_combo))
        g.addLayout(row(None, button("Place implant", self.place, "Add the implant to the plan "
                                     "(starts at the anatomical landmarks, or at the crosshair)",
                                     primary=True, name="place_implant")))
        # ------------------------------------------------- hip sizes, neck cut
        g_sizes = self.group("Sizes and neck cut (hip)")
        self.hip_sizes_box = g_sizes.parentWidget()
        # ------------------------------------------------------- hip angles
        g_angles = self.group("Cup and stem angles (hip)")
        self.hip_angles_box = g_angles.parentWidget()
        # ------------------------------------------------------------- move
        g = self.group("Position")
        self.implant_combo = KeyCombo()
        self.implant_combo.setObjectName("implant_combo")
        self.implant_combo.activated.connect(lambda *_: self._show_pose())
        g.addLayout(row(QtWidgets.QLabel("Implant"), self.implant_combo,
                        button("Remove…", self.remove_implant, "Remove this implant from the plan "
                               "(asks first; Ctrl+Z brings it back)", name="remove_implant")))
        self.pos = []
        grid = QtWidgets.QGridLayout()
        for c, axis in enumerate(("L", "P", "S")):
            sb = QtWidgets.QDoubleSpinBox()
            sb.setObjectName(f"pos_{axis}")
            sb.setRange(-2000, 2000)
            sb.setDecimals(1)
            sb.setSingleStep(1.0)
            sb.setSuffix(" mm")
            sb.setKeyboardTracking(False)
            sb.valueChanged.connect(self._position_edited)
            grid.addWidget(QtWidgets.QLabel(axis), 0, 2 * c)
            grid.addWidget(sb, 0, 2 * c + 1)
            self.pos.append(sb)
        g.addLayout(grid)
        self.rot_axis = QtWidgets.QComboBox()
        self.rot_axis.addItems(["about L", "about P", "about S"])
        self.rot_step = QtWidgets.QDoubleSpinBox()
        self.rot_step.setRange(0.1, 90)
        self.rot_step.setValue(1.0)
        self.rot_step.setSuffix(" °")
        g.addLayout(row(QtWidgets.QLabel("Rotate"), self.rot_axis, self.rot_step,
                        button("−", lambda: self.rotate(-1)), button("+", lambda: self.rotate(1))))
        self.handles = QtWidgets.QCheckBox("3D handles (arrows and rings)")
        self.handles.toggled.connect(self._handles_toggled)
        g.addWidget(self.handles)
        g.addWidget(hint("Keys in this panel: arrows / Page Up/Down move 1 mm along L/P/S "
                         "(Shift 0.1 mm); with Alt they rotate 1° (Shift 0.1°)."))
        self.hip = HipSection(self, g_angles, g_sizes)
        # ----------------------------------------------------- spine screws
        g = self.group("Pedicle screws (spine)")
        self.spine_box = g.parentWidget()
        self.spine = SpineSection(self, g)
        # ------------------------------------------------------- resections
        g = self.group("Resections (knee)")
        self.resection_box = g.parentWidget()  # shown for knee cases only (anatomy registry)
        self.resections = ResectionSection(self, g)
        # ----------------------------------------------------- measurements
        g = self.group("Measurements")
        self.meas = QtWidgets.QTableWidget(0, 2)
        self.meas.setObjectName("measurements_table")
        self.meas.setHorizontalHeaderLabels(["Measurement", "Value"])
        self.meas.verticalHeader().hide()
        self.meas.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.meas.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.meas.horizontalHeader().setSectionResizeMode(
            1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.meas.setMinimumHeight(220)
        g.addWidget(self.meas)
        self.finish()
        self._meas_timer = QtCore.QTimer(self)
        self._meas_timer.setSingleShot(True)
        self._meas_timer.setInterval(60)
        self._meas_timer.timeout.connect(self.refresh_measurements)
        self._updating = False
        self._widget = None
        self._drag: dict | None = None
        self._live_timer = QtCore.QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_MS)
        self._live_timer.timeout.connect(self._live_update)
        self.live_updates = 0
        self.live_ms: list[float] = []
        self._preparing: set[str] = set()
        self._failed_fields: set[str] = set()
        self._measure_ms = 0.0  # duration of the last measure_plan (ms)
        self._last_rows = None
        win.plansChanged.connect(self.refresh)
        win.caseChanged.connect(self.refresh)
        win.volumeChanged.connect(self._sample_button)

    # ------------------------------------------------------------- helpers
    def catalog(self):
        if self._catalog is None:
            from surgiplan.core.planning.catalog import default_catalog

            self._catalog = default_catalog()
        return self._catalog

    def _plan(self) -> str | None:
        return self.session.current_plan

    def _need_plan(self) -> str | None:
        if self.win.state.volume is None:
            self.win.status("Open a scan first (Data).")
            return None
        case = self.win.ensure_case()
        if not case.plans:
            case.new_plan("Plan A")
            self.session.current_plan = "Plan A"
        if self.session.current_plan not in case.plans:
            self.session.current_plan = next(iter(case.plans))
        return self.session.current_plan

    def _guard(self, fn, *a, **kw):
        """Call a core edit; show its message (e.g. plan locked) instead of raising."""
        from surgiplan.core.errors import SurgiplanError

        try:
            return fn(*a, **kw)
        except SurgiplanError as exc:
            self.win.status(str(exc))
            self.win.show_error(str(exc))
            return None

    def activated(self) -> None:
        if self.cat_tree.topLevelItemCount() == 0:
            self._fill_catalog()
        self._sample_button()
        self.refresh()

    def _sample_button(self) -> None:
        v = self.win.state.volume
        self.gt_button.setVisible(v is not None and bool(v.metadata.get("sample")))
        anat = ANATOMIES[self._fit_anatomy()]  # the case's anatomy (core registry)
        self.lm_combo.set_keys(anat.landmarks)  # human names, keys as item data
        self.fit_button.setVisible(bool(anat.fit_label))  # no automatic fit for vessels
        self.resection_box.setVisible(anat.name == "knee")  # knee cuts do not belong in a hip plan
        self.hip_angles_box.setVisible(anat.name == "hip")  # nor cup angles in a knee or spine plan
        self.hip_sizes_box.setVisible(anat.name == "hip")
        self.spine_box.setVisible(anat.name == "spine")
        self.spine.draw_levels(anat.name == "spine")
        # the catalog opens on the case's anatomy; the others stay one click away (a plate in a hip case)
        for i in range(self.cat_tree.topLevelItemCount()):
            it = self.cat_tree.topLevelItem(i)
            it.setExpanded(it.text(0).lower() == anat.name)
        self.fit_button.setText(anat.fit_label)
        self.fit_button.setToolTip(anat.fit_tooltip)

    def _fit_anatomy(self) -> str:
        """The case's anatomy (core ``anatomy_of_models``: sample name, else models)."""
        v = self.win.state.volume
        sample = str(v.metadata.get("sample", "")) if v is not None else ""
        return anatomy_of_models(self.session.case.model_names if self.session.case is not None else (), sample)

    def _fill_catalog(self) -> None:
        cat = self.catalog()
        by_anat: dict[str, QtWidgets.QTreeWidgetItem] = {}
        for cid, spec in cat.specs.items():
            a = spec.model.anatomy
            if a not in by_anat:
                it = QtWidgets.QTreeWidgetItem([a.capitalize()])
                self.cat_tree.addTopLevelItem(it)
                by_anat[a] = it
            child = QtWidgets.QTreeWidgetItem([spec.model.name])
            child.setData(0, QtCore.Qt.ItemDataRole.UserRole, cid)
            child.setToolTip(0, f"<b>{spec.model.name}</b><br>{spec.model.kind.replace('_', ' ')} "
                                f"({cid}), {spec.model.material}<br>sizes {', '.join(spec.sizes)}")
            by_anat[a].addChild(child)
        self.cat_tree.expandAll()

    def select_catalog(self, catalog_id: str) -> None:
        if self.cat_tree.topLevelItemCount() == 0:
            self._fill_catalog()
        it = QtWidgets.QTreeWidgetItemIterator(self.cat_tree)
        while it.value():
            if it.value().data(0, QtCore.Qt.ItemDataRole.UserRole) == catalog_id:
                self.cat_tree.setCurrentItem(it.value())
                return
            it += 1

    def _implant_chosen(self, item, *_):
        cid = item.data(0, QtCore.Qt.ItemDataRole.UserRole) if item else None
        self.size_combo.clear()
        if cid:
            spec = self.catalog().get(cid)
            self.size_combo.addItems(spec.sizes)
            self.size_combo.setCurrentIndex(len(spec.sizes) // 2)

    # --------------------------------------------------------------- plans
    def refresh(self) -> None:
        with self.win.view3d.batch():  # implants, landmarks, handles and cuts: one render
            self._refresh()

    def _refresh(self) -> None:
        case = self.session.case
        self.plan_combo.blockSignals(True)
        self.plan_combo.clear()
        if case is not None:
            self.plan_combo.addItems(list(case.plans))
            if self.session.current_plan not in case.plans:
                self.session.current_plan = next(iter(case.plans), None)
            if self.session.current_plan:
                self.plan_combo.setCurrentText(self.session.current_plan)
        self.plan_combo.blockSignals(False)
        plan = case.plans.get(self.session.current_plan) if case is not None and self.session.current_plan else None
        self.lock_label.setText("" if plan is None or plan.locked is None else
                                f"🔒 approved by {plan.locked.by} at {plan.locked.at}")
        lms = case.all_landmarks(self.session.current_plan if plan else None) if case is not None else {}
        names = ", ".join(human_name(k) for k in sorted(lms))
        # a long list (45 spine landmarks) would push the panel down: its count, the names on hover
        self.lm_label.setText("No landmarks yet." if not lms else f"{len(lms)} landmarks: {names}" if len(lms) <= 20
                              else f"{len(lms)} landmarks (hover for the list)")
        self.lm_label.setToolTip(names)
        cur = self.implant_combo.currentData()
        self.implant_combo.blockSignals(True)
        self.implant_combo.clear()
        if plan is not None:
            for iid in plan.implants:
                self.implant_combo.addItem(human_name(iid), iid)
            if cur in plan.implants:
                self.implant_combo.setCurrentText(cur)
            else:
                self.implant_combo.setCurrentIndex(self.implant_combo.count() - 1)
        self.implant_combo.blockSignals(False)
        self._draw_implants()
        self._draw_landmarks(lms)
        self._show_pose()
        self.resections.refresh()
        self._meas_timer.start()

    def _plan_chosen(self) -> None:
        self.session.current_plan = self.plan_combo.currentText() or None
        self.refresh()

    def new_plan(self) -> None:
        if self.win.state.volume is None:
            self.win.status("Open a scan first (Data).")
            return
        case = self.win.ensure_case()
        n = len(case.plans) + 1
        name = f"Plan {chr(64 + n)}" if n <= 26 else f"Plan {n}"
        if self._guard(case.new_plan, name) is not None:
            self.session.current_plan = name
            self.win.plansChanged.emit()

    def copy_plan(self) -> None:
        src = self._plan()
        case = self.session.case
        if case is None or src is None:
            return self.new_plan()
        n = 2
        while f"{src} copy {n}".lower() in {p.lower() for p in case.plans}:
            n += 1
        name = f"{src} copy {n}" if n > 2 else f"{src} copy"
        if name.lower() in {p.lower() for p in case.plans}:
            name = f"{src} copy {n}"
        if self._guard(case.copy_plan, src, name) is not None:
            self.session.current_plan = name
            self.win.plansChanged.emit()

    def rename_plan(self) -> None:
        old = self._plan()
        if old is None:
            return
        new, ok = QtWidgets.QInputDialog.getText(self, "Rename plan", "New name:", text=old)
        if ok and new and new != old:
            self._guard(self.session.case.rename_plan, old, new)
            if new in self.session.case.plans:
                self.session.current_plan = new
            self.win.plansChanged.emit()

    def lock_plan(self) -> None:
        name = self._plan()
        if name is None:
            return
        note, ok = QtWidgets.QInputDialog.getText(self, "Approve and lock",
                                                  f"Approve '{name}'. Note (optional):")
        if ok:
            self._guard(self.session.case.lock_plan, name, note)

    def unlock_plan(self) -> None:
        if self._plan():
            self._guard(self.session.case.unlock_plan, self._plan())

    # ----------------------------------------------------------- landmarks
    def set_landmark(self) -> None:
        name = self.lm_combo.current_key()
        if not name or self._need_plan() is None:
            return
        pos = self.win.state.crosshair_world()
        self._guard(self.session.case.set_landmark, name, pos, source="manual")
        self.win.status(f"Landmark {human_name(name)} at ({pos[0]:.1f}, {pos[1]:.1f}, {pos[2]:.1f}) mm LPS")

    def _pick_toggled(self, on: bool) -> None:
        if on and self.spine.pick.isChecked():
            self.spine.pick.setChecked(False)  # one click action at a time
        self.win.view3d.set_click_callback(self.landmark_picked if on else None)
        if on:
            self.win.status("Click on a bone in the 3D view to place "
                            f"{self.lm_combo.currentText().strip() or 'the landmark'}.")

    def landmark_picked(self, lps, actor_name: str) -> None:
        """A click on a model in 3D: put (or move) the chosen landmark there (one undo step)."""
        name = self.lm_combo.current_key()
        if not name or self._need_plan() is None:
            return
        model = actor_name.split(":", 1)[-1]
        old = self.session.case.landmarks.get(name)
        direction = old.direction if old is not None else None
        definition = (old.definition if old is not None and old.definition else
                      f"clicked on the {model} surface in the 3D view")
        if self._guard(self.session.case.set_landmark, name, lps, direction, source="manual",
                       definition=definition) is not None:
            self.win.state.set_crosshair_world(np.asarray(lps, float))
            self.win.status(f"Landmark {human_name(name)} on {model} at ({lps[0]:.1f}, {lps[1]:.1f}, "
                            f"{lps[2]:.1f}) mm LPS")

    def hideEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.pick3d.setChecked(False)  # clicks in 3D turn the view again outside this panel
        self.spine.pick.setChecked(False)
        try:
            if (strip := getattr(self.win, "key_strip", None)) is not None:
                strip.set_rows([])  # the key measurements belong to the Plan step
        except RuntimeError:  # the window is being torn down: its labels are gone
            pass
        super().hideEvent(event)

    def _draw_landmarks(self, lms: dict, render: bool = False) -> None:
        """Landmarks in the 3D view: small magenta dots, and the one chosen in the panel's
        landmark list larger, in yellow, with its name (every name at once would overlap)."""
        self._lms = lms
        v3 = self.win.view3d
        chosen = self.lm_combo.current_key()
        pts = np.array([lm.position for k, lm in lms.items() if k != chosen], float).reshape(-1, 3)
        sel = np.asarray(lms[chosen].position, float).reshape(1, 3) if chosen in lms else None

        def sync():
            from surgiplan.scene.scene3d import landmark_glyphs

            p = v3.plotter
            if len(pts):
                p.add_mesh(landmark_glyphs(pts, 2.5), name="landmarks", color=LANDMARK_COLOR,
                           smooth_shading=True, reset_camera=False, pickable=False, render=False)
            else:
                p.remove_actor("landmarks", render=False)
            if sel is None:
                p.remove_actor("landmark_selected", render=False)
                p.remove_actor("landmark_labels-labels", render=render)  # pyvista's name for it
                return
            p.add_mesh(landmark_glyphs(sel, 4.0), name="landmark_selected",
                       color=SELECTED_LANDMARK_COLOR, smooth_shading=True, reset_camera=False,
                       pickable=False, render=False)
            p.add_point_labels(label_anchor(p, sel[0], 10.0), [human_name(chosen)], name="landmark_labels",
                               font_size=12,
                               point_size=1, shape_opacity=0.6, shape_color="#15181c", text_color="white",
                               always_visible=True, show_points=False, render=False,
                               reset_camera=False)
            if render:
                p.render()

        v3.when_ready(sync)

    def fit_landmarks(self) -> None:
        """Fit the landmarks of the case's anatomy on its models: core ``compute_case_landmarks``
        in a worker, ``apply_landmarks`` as one undo step (as ``surgiplan case fit-landmarks``)."""
        if self._need_plan() is None:
            return
        from surgiplan.core.errors import InputError
        from surgiplan.core.planning.auto_landmarks import (
            apply_landmarks,
            check_landmark_inputs,
            compute_case_landmarks,
        )

        case, plan, anatomy = self.session.case, self.session.current_plan, self._fit_anatomy()
        loaded = {self.session.scan_name: self.win.volume} if self.win.volume is not None else {}
        try:  # the inputs are checked before the worker starts: a message, not a failed job
            check_landmark_inputs(case, anatomy, plan)
        except InputError as exc:
            self.win.status(exc.hint or exc.message)
            return

        def fit(progress):
            return compute_case_landmarks(case, anatomy, plan, loaded_scans=loaded, progress=progress)

        def done(lms):
            apply_landmarks(case, lms, f"fit {anatomy} landmarks")
            self.win.status(f"{len(lms)} {anatomy} landmarks fitted on the models")

        self.win.run_job(f"Fitting {anatomy} landmarks", fit, done)

    def sample_landmarks(self) -> None:
        v = self.win.state.volume
        name = v.metadata.get("sample") if v is not None else None
        if not name or self._need_plan() is None:
            return
        case = self.session.case

        def job(progress):
            from surgiplan.core.planning.starting_pose import ground_truth_landmarks
            from surgiplan.core.samples import sample_path

            return ground_truth_landmarks(sample_path(name).load_ground_truth())

        def done(lms):
            with case.history.group(f"landmarks from the {name} sample"):
                for k, (p, d, definition) in lms.items():
                    case.set_landmark(k, p, d, source="ground_truth", definition=definition)
            self.win.status(f"{len(lms)} landmarks from the {name} sample's ground truth")

        self.win.run_job("Reading the sample's landmarks", job, done)

    # ------------------------------------------------------------ implants
    def place(self) -> None:
        item = self.cat_tree.currentItem()
        cid = item.data(0, QtCore.Qt.ItemDataRole.UserRole) if item else None
        if not cid:
            self.win.status("Choose an implant in the catalog.")
            return
        plan = self._need_plan()
        if plan is None:
            return
        from surgiplan.core.planning.operations import implant_to_replace, place_implant

        spec = self.catalog().get(cid)
        size, side = self.size_combo.currentText(), self.side_combo.currentText()
        case = self.session.case
        old = implant_to_replace(case, plan, cid, side, catalog=self.catalog())
        old_text = None if old is None else f"{old.id} ({self._implant_name(old)} size {old.size})"
        # the core workflow of `surgiplan plan place --start --replace`: starting pose, id, bone,
        # head; a plan's one stem (cup, ...) per side is replaced in one undo step, keeping its id
        placed = self._guard(place_implant, case, plan, None, cid, size, side=side, start=True,
                             at=self.win.state.crosshair_world(), catalog=self.catalog(),
                             replace_same_kind=True)
        if placed is not None:
            iid = placed.id
            self.refresh()
            self.implant_combo.setCurrentText(iid)
            self._show_pose()
            if old_text is not None:
                self.win.status(f"Replaced {old_text} with {spec.model.name} size {size} ({side}); "
                                "Ctrl+Z brings it back")
            else:
                self.win.status(f"Placed {spec.model.name} size {size} ({side})")

    def _implant_name(self, imp) -> str:
        try:
            return self.catalog().get(imp.catalog_id).model.name
        except Exception:  # noqa: BLE001 - a catalog entry no longer installed
            return imp.catalog_id

    def current_implant(self):
        plan, iid = self._plan(), self.implant_combo.currentData()
        if self.session.case is None or not plan or not iid:
            return None
        return self.session.case.plan(plan).implants.get(iid)

    def _confirm(self, text: str) -> bool:
        """Ask Yes/No (Yes is not the default); tests override this method."""
        QMB = QtWidgets.QMessageBox
        answer = QMB.question(self, "Remove implant", text, QMB.StandardButton.Yes | QMB.StandardButton.No,
                              QMB.StandardButton.No)
        return answer == QMB.StandardButton.Yes

    def remove_implant(self) -> None:
        imp = self.current_implant()
        if imp is None:
            self.win.status("No implant to remove.")
            return
        plan = self._plan()
        what = f"{imp.id} ({self._implant_name(imp)} size {imp.size}, {imp.side})"
        if not self._confirm(f"Remove {what} from plan {plan}?\n\nEdit > Undo (Ctrl+Z) brings it back."):
            self.win.status(f"{imp.id} kept.")
            return
        self._guard(self.session.case.remove_implant, plan, imp.id)
        if imp.id not in self.session.case.plan(plan).implants:
            self.win.status(f"Removed {what} from plan {plan}; Ctrl+Z brings it back")

    def _show_pose(self) -> None:
        imp = self.current_implant()
        self._updating = True
        for c, sb in enumerate(self.pos):
            sb.setEnabled(imp is not None)
            sb.setValue(float(imp.transform[c, 3]) if imp is not None else 0.0)
        self._updating = False
        if self._widget is not None:
            self._handles_toggled(self.handles.isChecked())
        self.hip.refresh()  # the typed angles of the chosen cup / stem

    def _position_edited(self) -> None:
        if self._updating:
            return
        imp = self.current_implant()
        if imp is None:
            return
        new = [sb.value() for sb in self.pos]
        delta = np.asarray(new) - imp.transform[:3, 3]
        if np.allclose(delta, 0, atol=1e-6):
            return
        self.move(delta)

    def move(self, delta_mm) -> None:
        """Translate the current implant by ``delta_mm`` (LPS) - one undo step."""
        from surgiplan.core.planning.placement import translate

        imp = self.current_implant()
        if imp is None:
            return
        t = translate(imp.transform, np.asarray(delta_mm, float), "world")
        d = np.round(np.asarray(delta_mm, float), 2)
        self._guard(self.session.case.set_implant_transform, self._plan(), imp.id, t,
                    f"move {imp.id} by ({d[0]:g}, {d[1]:g}, {d[2]:g}) mm")

    def rotate(self, sign: int, step: float | None = None, axis: int | None = None) -> None:
        """Rotate the current implant about its origin around world axis L, P or S."""
        from surgiplan.core.planning.placement import rotate

        imp = self.current_implant()
        if imp is None:
            return
        ax = self.rot_axis.currentIndex() if axis is None else axis
        ang = sign * (self.rot_step.value() if step is None else step)
        t = rotate(imp.transform, np.eye(3)[ax], ang, "world")
        self._guard(self.session.case.set_implant_transform, self._plan(), imp.id, t,
                    f"rotate {imp.id} {ang:+g}° about {'LPS'[ax]}")

    def keyPressEvent(self, event: QtGui.QKeyEvent) -> None:  # noqa: N802 - Qt API
        K = QtCore.Qt.Key
        m = event.modifiers()
        step = 0.1 if m & QtCore.Qt.KeyboardModifier.ShiftModifier else 1.0
        axes = {K.Key_Right: (0, 1), K.Key_Left: (0, -1), K.Key_Down: (1, 1), K.Key_Up: (1, -1),
                K.Key_PageUp: (2, 1), K.Key_PageDown: (2, -1)}
        if event.key() in axes and self.current_implant() is not None:
            ax, sgn = axes[event.key()]
            if m & QtCore.Qt.KeyboardModifier.AltModifier:
                self.rotate(sgn, step, ax)
            else:
                d = np.zeros(3)
                d[ax] = sgn * step
                self.move(d)
            event.accept()
            return
        super().keyPressEvent(event)

    # ------------------------------------------------------------- display
    def _implant_meshes(self) -> dict[str, object]:
        case, plan = self.session.case, self._plan()
        if case is None or plan is None or plan not in case.plans:
            return {}
        out = {}
        for imp in case.plan(plan).implants.values():
            geo = self.catalog().get(imp.catalog_id).geometry(imp.size, imp.options or None)
            out[imp.id] = geo.transformed(imp.transform).merged()
        return out

    def _draw_implants(self) -> None:
        v3, st = self.win.view3d, self.win.state
        meshes = self._implant_meshes()
        have = {f"implant:{k}" for k in meshes}

        def sync():
            for n in [n for n in v3.plotter.actors if str(n).startswith("implant:") and n not in have]:
                v3.plotter.remove_actor(n, render=False)
            for k, m in meshes.items():
                v3.set_surface(f"implant:{k}", m, IMPLANT_COLOR, render=False)
            v3.plotter.render()

        v3.when_ready(sync)
        for n in [n for n in st.outlines if n.startswith("implant:") and n not in have]:
            st.set_outline(n, None, (0, 0, 0))
        for k, m in meshes.items():
            st.set_outline(f"implant:{k}", m, (0.35, 0.75, 1.0))

    def _handles_toggled(self, on: bool) -> None:
        v3 = self.win.view3d
        if v3.plotter is None:
            return
        if self._widget is not None:
            try:
                self._widget.disable()
            except Exception:  # noqa: BLE001 - VTK widget already gone
                pass
            self._widget = None
        self._drag = None
        imp = self.current_implant()
        if not on or imp is None:
            v3.plotter.render()
            return
        actor = v3.plotter.actors.get(f"implant:{imp.id}")
        if actor is None:
            return
        start = imp.transform.copy()
        self._drag = {"id": imp.id, "start": start, "actor": actor}

        def released(user_matrix):
            self._live_timer.stop()
            m = np.asarray(user_matrix, float)
            if np.allclose(m, np.eye(4), atol=1e-9):
                return
            # commit after VTK has finished the event (the commit rebuilds the widget)
            QtCore.QTimer.singleShot(0, lambda: self._commit_drag(imp.id, start, m, actor))

        from surgiplan.scene.interaction_lod import lod_affine_widget

        # decimated bones and cheaper settings while the handle is held (full picture on release)
        self._widget = lod_affine_widget(
            v3.plotter, actor, v3.lod, origin=tuple(float(x) for x in start[:3, 3]),
            release_callback=released, interact_callback=lambda _m: self._dragging())
        # the widget hover-picks with the interactor's picker: a ray-cast picker limited to the
        # handles finds them even inside a bone and costs no extra render per mouse move
        import vtk

        picker = vtk.vtkCellPicker()
        picker.SetTolerance(0.002)
        picker.PickFromListOn()
        for a in self._widget._arrows + self._widget._circles:
            picker.AddPickList(a)
        v3.plotter.iren.interactor.SetPicker(picker)
        v3.prepare_lod()
        v3.plotter.render()
        self._prepare_fields()

    def _commit_drag(self, iid: str, start: np.ndarray, m: np.ndarray, actor) -> None:
        """One undo step for the whole drag."""
        with self.win.view3d.batch():  # one full-quality render, also when the commit is refused
            actor.user_matrix = np.eye(4)
            self._guard(self.session.case.set_implant_transform, self._plan(), iid, m @ start, f"drag {iid}")

    def drag_transform(self) -> np.ndarray | None:
        """The pose (4x4, LPS mm) the implant being dragged has on screen now."""
        d = self._drag
        if d is None:
            return None
        m = d["actor"].user_matrix
        return (np.eye(4) if m is None else np.asarray(m, float)) @ d["start"]

    def _dragging(self) -> None:
        if not self._live_timer.isActive():
            self._live_timer.start()

    def _live_update(self) -> None:
        """Measurements, interference and position fields for the pose being dragged."""
        case, plan, t = self.session.case, self._plan(), self.drag_transform()
        if case is None or plan is None or t is None or plan not in case.plans:
            return
        t0 = time.perf_counter()
        with preview_pose(case, plan, self._drag["id"], t):
            self._show_results(self._compute_rows(live=True))
        if self.implant_combo.currentData() == self._drag["id"]:
            self._updating = True
            for c, sb in enumerate(self.pos):
                sb.setValue(float(t[c, 3]))
            self._updating = False
        self.live_updates += 1
        self.live_ms.append((time.perf_counter() - t0) * 1000)

    # -------------------------------------------------------- measurements
    def _compute_rows(self, live: bool = False) -> list:
        """Measurements (core ``measure_plan``) and interference rows. While dragging
        (``live``), measurements slower than ``LIVE_MS`` (e.g. knee resection thickness on
        a 200k-triangle bone) keep their last values until the release; interference is
        always recomputed (~4 ms per implant)."""
        from surgiplan.core.planning.measurements import measure_plan

        case, plan = self.session.case, self._plan()
        if live and self._measure_ms > LIVE_MS and self._last_rows is not None:
            rows = self._last_rows
        else:
            t0 = time.perf_counter()
            rows = self._guard(measure_plan, case, plan, self.catalog(), expensive=False) or []
            self._measure_ms = (time.perf_counter() - t0) * 1000
            self._last_rows = rows
        # the core's interference plugin on the fields already built (fast path, ~4 ms/implant)
        return rows + (self._guard(measure_plan, case, plan, self.catalog(), only=("interference",),
                                   cached_only=True) or [])

    def refresh_measurements(self) -> None:
        case, plan = self.session.case, self._plan()
        if case is None or plan is None or plan not in case.plans:
            self.meas.setRowCount(0)
            self._show_key_strip([])
            return
        self._show_results(self._compute_rows())

    @staticmethod
    def _value_text(m) -> str:
        from surgiplan.core.units import format_value

        return "n/a" if m.value is None else format_value(m.value, m.unit)

    def _show_key_strip(self, results) -> None:
        """The always-visible key measurements above the views (core ``key_measurements``)."""
        from surgiplan.core.planning.key_measurements import key_measurements, plan_targets

        strip = getattr(self.win, "key_strip", None)
        if strip is None:
            return
        if self.win.panel_stack.currentWidget() is not self or self.session.case is None or not results:
            strip.set_rows([])
            return
        rows = key_measurements(results, self._fit_anatomy(), plan_targets(self.session.case))
        strip.set_rows(rows, f"{self._plan()}:")

    def _show_results(self, results) -> None:
        """Fill the table; rows are updated in place when the same measurements come back."""
        self._show_key_strip(results)
        role = QtCore.Qt.ItemDataRole.UserRole
        same = self.meas.rowCount() == len(results) and all(
            self.meas.item(r, 1).data(role) == m.key for r, m in enumerate(results))
        if not same:
            self.meas.setRowCount(0)
        for r, m in enumerate(results):
            if not same:
                self.meas.insertRow(r)
                name = QtWidgets.QTableWidgetItem(m.name)
                val = QtWidgets.QTableWidgetItem()
                val.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                     | QtCore.Qt.AlignmentFlag.AlignVCenter)
                val.setData(role, m.key)
                self.meas.setItem(r, 0, name)
                self.meas.setItem(r, 1, val)
            name, val = self.meas.item(r, 0), self.meas.item(r, 1)
            name.setToolTip(m.definition)
            val.setText(self._value_text(m))
            val.setToolTip(m.missing or m.definition)
            val.setForeground(QtGui.QColor("#7d858f") if m.value is None else self.palette().text())

    # ----------------------------------------------------------- interference
    def _prepare_fields(self) -> None:
        """Compute the missing bone distance fields in the background (core ``bone_field``)."""
        case, plan = self.session.case, self._plan()
        if case is None or plan is None or plan not in case.plans or self.win.jobs.busy:
            return
        from surgiplan.core.planning.bone_fields import missing_bone_fields

        todo = [b for b in missing_bone_fields(case, plan)
                if b not in self._preparing and b not in self._failed_fields]
        if not todo:
            return
        self._preparing.update(todo)

        def work(progress):
            from surgiplan.core.jobs import report
            from surgiplan.core.planning.bone_fields import bone_field

            failed = {}
            for i, b in enumerate(todo):
                report(progress, i / len(todo), f"distance field of {b}")
                try:
                    bone_field(case, b)
                except Exception as exc:  # noqa: BLE001 - reported in the status bar
                    failed[b] = f"Interference with {b} unavailable: {exc}"
            return todo, failed

        # a window job (VTK in a second thread while the view renders could dead-lock)
        if self.win.run_job("Preparing interference (bone distance fields)", work,
                            self._fields_ready) is None:
            self._preparing.difference_update(todo)

    def _fields_ready(self, result) -> None:
        bones, failed = result
        self._preparing.difference_update(bones)
        self._failed_fields.update(failed)  # not retried on every refresh
        if failed:
            self.win.status("; ".join(failed.values()))
        self._meas_timer.start()

    def interference_ready(self) -> bool:
        """True when every bone of the current plan has its distance field (tests)."""
        from surgiplan.core.planning.bone_fields import missing_bone_fields

        case, plan = self.session.case, self._plan()
        return case is None or plan is None or not [
            b for b in missing_bone_fields(case, plan) if b not in self._failed_fields]

    def measurement(self, key: str):
        """Displayed text of measurement ``key`` (tests)."""
        for r in range(self.meas.rowCount()):
            it = self.meas.item(r, 1)
            if it.data(QtCore.Qt.ItemDataRole.UserRole) == key:
                return it.text()
        return None

    def shutdown(self) -> None:
        self._meas_timer.stop()
        self._live_timer.stop()
        self.resections.shutdown()

