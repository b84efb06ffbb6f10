"""The hip groups of the Plan panel: typed cup and stem angles, size proposals, the neck cut.

Thin face on the core: :func:`surgiplan.core.planning.hip_angles.set_hip_angles` (one undo
step per edit, as ``surgiplan plan set-angles``), :func:`hip_angles` for what the fields show,
:func:`surgiplan.core.planning.size_proposal.propose_hip_sizes` for the sizes (a window job),
and the neck resection of :mod:`surgiplan.core.planning.neck_resection` when it is installed.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from surgiplan.core.planning.hip_angles import CONVENTIONS
from surgiplan.gui.panels.common import button, hint, row


def _spin(name: str, lo: float, hi: float, suffix: str, step: float = 1.0) -> QtWidgets.QDoubleSpinBox:
    sb = QtWidgets.QDoubleSpinBox()
    sb.setObjectName(name)
    sb.setRange(lo, hi)
    sb.setDecimals(1)
    sb.setSingleStep(step)
    sb.setSuffix(suffix)
    sb.setKeyboardTracking(False)  # one edit (Enter, focus out, arrow step) = one undo step
    return sb


def neck_cut_available() -> bool:
    """True when the core neck resection module is installed (another helper adds it)."""
    import importlib.util

    return importlib.util.find_spec("surgiplan.core.planning.neck_resection") is not None


class HipSection(QtCore.QObject):
    """Cup and stem angles typed in the pelvic frame, size proposals, "Add neck cut"."""

    def __init__(self, panel, angles: QtWidgets.QVBoxLayout, sizes: QtWidgets.QVBoxLayout) -> None:
        super().__init__(panel)
        self.panel = panel
        self.win = panel.win
        self.session = self.win.session
        self._updating = False
        # ---------------------------------------------------------- angles
        self.convention = QtWidgets.QComboBox()
        self.convention.setObjectName("cup_convention")
        for c in CONVENTIONS:
            self.convention.addItem(c.capitalize(), c)
        self.convention.setToolTip("Murray 1993: radiographic (coronal plane, default), operative "
                                   "(sagittal plane) or anatomical (transverse plane) definitions")
        self.convention.currentIndexChanged.connect(lambda *_: self.refresh())
        self.inclination = _spin("cup_inclination", 0.0, 90.0, " °")
        self.anteversion = _spin("cup_anteversion", -45.0, 60.0, " °")
        self.version = _spin("stem_version", -45.0, 60.0, " °")
        self.depth = _spin("stem_depth", -30.0, 30.0, " mm", 0.5)
        for sb in (self.inclination, self.anteversion):
            sb.valueChanged.connect(self._cup_edited)
        for sb in (self.version, self.depth):
            sb.valueChanged.connect(self._stem_edited)
        self.cup_label = QtWidgets.QLabel("Cup")
        self.stem_label = QtWidgets.QLabel("Stem")
        grid = QtWidgets.QGridLayout()
        grid.addWidget(self.cup_label, 0, 0)
        grid.addWidget(QtWidgets.QLabel("Incl."), 0, 1)
        grid.addWidget(self.inclination, 0, 2)
        grid.addWidget(QtWidgets.QLabel("Antev."), 0, 3)
        grid.addWidget(self.anteversion, 0, 4)
        grid.addWidget(self.stem_label, 1, 0)
        grid.addWidget(QtWidgets.QLabel("Version"), 1, 1)
        grid.addWidget(self.version, 1, 2)
        grid.addWidget(QtWidgets.QLabel("Depth"), 1, 3)
        grid.addWidget(self.depth, 1, 4)
        angles.addLayout(row(QtWidgets.QLabel("Angles"), self.convention, None))
        angles.addLayout(grid)
        self.readout = QtWidgets.QLabel("")
        self.readout.setObjectName("hip_angles_readout")
        self.readout.setWordWrap(True)
        self.readout.setProperty("role", "hint")
        angles.addWidget(self.readout)
        # ----------------------------------------------------------- sizes
        self.propose_button = button("Propose sizes from the anatomy", self.propose,
                                     "Cup from the socket sphere + reaming; stem from the CT canal width "
                                     "from the isthmus to the lesser trochanter (side chosen above)",
                                     name="propose_sizes")
        sizes.addWidget(self.propose_button)
        self.size_rows: dict[str, tuple[QtWidgets.QLabel, list[QtWidgets.QPushButton]]] = {}
        for kind, text in (("cup", "Cup"), ("stem", "Stem")):
            lab = QtWidgets.QLabel(text)
            btns = []
            for i in range(3):
                b = QtWidgets.QPushButton("")
                b.setObjectName(f"size_{kind}_{('smaller', 'proposed', 'larger')[i]}")
                b.clicked.connect(lambda _=False, k=kind, i=i: self.apply_size(k, i))
                b.hide()
                btns.append(b)
            lab.hide()
            sizes.addLayout(row(lab, *btns, None))
            self.size_rows[kind] = (lab, btns)
        self.size_reason = hint("")
        self.size_reason.setObjectName("size_reason")
        sizes.addWidget(self.size_reason)
        self.proposals: dict = {}
        # -------------------------------------------------------- neck cut
        self.neck_button = button("Add neck cut", self.add_neck_cut,
                                  "Femoral neck resection from the landmarks (15 mm above the lesser "
                                  "trochanter, 45° to the shaft); Ctrl+Z removes it", name="add_neck_cut")
        self.neck_button.setVisible(neck_cut_available())
        sizes.addWidget(self.neck_button)

    # ------------------------------------------------------------ context
    def _plan_name(self):
        case, plan = self.session.case, self.session.current_plan
        return plan if case is not None and plan in case.plans else None

    def _first_of(self, kinds: tuple[str, ...]):
        """The implant edited by a row: the current implant when of ``kinds``, else the plan's first."""
        plan = self._plan_name()
        if plan is None:
            return None
        cat = self.panel.catalog()

        def kind(imp):
            try:
                return cat.get(imp.catalog_id).model.kind
            except Exception:  # noqa: BLE001 - catalog entry no longer installed
                return None

        cur = self.panel.current_implant()
        if cur is not None and kind(cur) in kinds:
            return cur
        return next((i for i in self.session.case.plan(plan).implants.values() if kind(i) in kinds), None)

    def cup(self):
        return self._first_of(("acetabular_cup",))

    def stem(self):
        return self._first_of(("femoral_stem",))

    def readouts(self) -> dict[str, dict]:
        """Core ``hip_angles`` of the cup and stem the fields show (tests, parity)."""
        from surgiplan.core.planning.hip_angles import hip_angles

        out = {}
        plan = self._plan_name()
        for what, imp in (("cup", self.cup()), ("stem", self.stem())):
            if imp is None or plan is None:
                continue
            try:
                out[what] = hip_angles(self.session.case, plan, imp.id, self.convention.currentData(),
                                       self.panel.catalog())
            except Exception as exc:  # noqa: BLE001 - e.g. no side: shown, fields disabled
                out[what] = {"error": str(exc)}
        return out

    # -------------------------------------------------------------- edits
    def _cup_edited(self) -> None:
        if self._updating or (imp := self.cup()) is None:
            return
        self._set(imp.id, inclination=self.inclination.value(), anteversion=self.anteversion.value(),
                  convention=self.convention.currentData())

    def _stem_edited(self) -> None:
        if self._updating or (imp := self.stem()) is None:
            return
        sender = self.sender()
        kw = {"version": self.version.value()} if sender is self.version else {"depth": self.depth.value()}
        self._set(imp.id, **kw)

    def _set(self, implant_id: str, **kw) -> None:
        from surgiplan.core.planning.hip_angles import set_hip_angles

        r = self.panel._guard(set_hip_angles, self.session.case, self._plan_name(), implant_id,
                              catalog=self.panel.catalog(), **kw)
        if r is None:
            self.refresh()  # refused: show the plan's values again
            return
        self.win.status(f"{implant_id}: " + ", ".join(f"{k} {v:g}" for k, v in kw.items()
                                                       if isinstance(v, float)))

    # ------------------------------------------------------------ display
    def refresh(self) -> None:
        """Fields and readout from the plan's cup and stem (core ``hip_angles``)."""
        r = self.readouts()
        plan = self._plan_name()
        locked = plan is not None and self.session.case.plan(plan).is_locked
        cup, stem = r.get("cup", {}), r.get("stem", {})
        self._updating = True
        try:
            ok_cup = "inclination_deg" in cup
            for sb, key in ((self.inclination, "inclination_deg"), (self.anteversion, "anteversion_deg")):
                sb.setEnabled(ok_cup and not locked)
                if ok_cup:
                    sb.setValue(round(cup[key], 1))
            ok_stem = "version_deg" in stem
            self.version.setEnabled(ok_stem and not locked)
            self.depth.setEnabled(ok_stem and stem.get("depth_mm") is not None and not locked)
            if ok_stem:
                self.version.setValue(round(stem["version_deg"], 1))
                if stem.get("depth_mm") is not None:
                    self.depth.setValue(round(stem["depth_mm"], 1))
        finally:
            self._updating = False
        from surgiplan.core.planning.names import human_name

        self.cup_label.setText(human_name(cup["implant"]) if ok_cup else "Cup")
        self.stem_label.setText(human_name(stem["implant"]) if ok_stem else "Stem")
        lines = []
        if ok_cup:
            other = [f"{k} {v['inclination_deg']:.1f}/{v['anteversion_deg']:.1f}°"
                     for k, v in cup["conventions"].items() if k != cup["convention"]]
            lines.append(f"Cup ({cup['side']}): " + ", ".join(other) + f"; frame: {cup['reference']}")
        elif "error" in cup:
            lines.append(cup["error"])
        if ok_stem and stem.get("depth_mm") is None:
            lines.append(f"Stem depth needs femoral_head_centre_{stem['side']}.")
        if not ok_cup and not ok_stem:
            lines.append("Place a cup or a stem to type its angles.")
        self.readout.setText("<br>".join(lines))
        self.neck_button.setEnabled(plan is not None and not locked)

    # -------------------------------------------------------------- sizes
    def propose(self) -> None:
        """Core ``propose_hip_sizes`` for the side chosen in the catalog group (a window job)."""
        plan = self.panel._need_plan()
        if plan is None:
            return
        case, side = self.session.case, self.panel.side_combo.currentText()
        if side not in ("left", "right"):
            self.win.status("Choose the side (left or right) to propose sizes for.")
            return
        volume, cat = self.win.volume, self.panel.catalog()

        def work(progress):
            from surgiplan.core.planning.size_proposal import propose_hip_sizes

            return propose_hip_sizes(case, plan, side, volume=volume, catalog=cat)

        self.win.run_job(f"Proposing {side} hip sizes", work, self.show_proposals)

    def show_proposals(self, proposals: dict) -> None:
        self.proposals = dict(proposals)
        reasons = []
        for kind, (lab, btns) in self.size_rows.items():
            p = self.proposals.get(kind)
            lab.setVisible(p is not None)
            for i, b in enumerate(btns):
                size = None if p is None else (p.smaller, p.size, p.larger)[i]
                b.setVisible(size is not None)
                if size is not None:
                    b.setText(f"{size} ✓" if i == 1 else size)
                    b.setProperty("primary", i == 1)
                    b.style().unpolish(b)
                    b.style().polish(b)
                    b.setToolTip(f"{'Proposed' if i == 1 else 'Next ' + ('smaller' if i == 0 else 'larger')} "
                                 f"{kind} size {size}: one click puts it in the plan")
            if p is not None:
                reasons.append(f"{kind.capitalize()} {p.size}: {p.reason}")
        if not self.proposals:
            reasons.append("No proposal: fit the hip landmarks first (and keep the scan open for the stem).")
        self.size_reason.setText("<br>".join(reasons))

    def apply_size(self, kind: str, index: int) -> None:
        """Put the proposal's size ``index`` (0 smaller, 1 proposed, 2 larger) in the plan: one undo step."""
        p = self.proposals.get(kind)
        plan = self._plan_name()
        if p is None or plan is None:
            return
        size = (p.smaller, p.size, p.larger)[index]
        if size is None:
            return
        from surgiplan.core.planning.operations import implant_to_replace, place_implant

        case, cat = self.session.case, self.panel.catalog()
        old = implant_to_replace(case, plan, p.catalog_id, p.side, catalog=cat)
        if old is not None and old.catalog_id == p.catalog_id:
            if self.panel._guard(lambda: case.set_implant_size(plan, old.id, size) or True):
                self.win.status(f"{old.id} resized to {size} (Ctrl+Z undoes it)")
            return
        placed = self.panel._guard(place_implant, case, plan, None, p.catalog_id, size, side=p.side, start=True,
                                   at=self.win.state.crosshair_world(), catalog=cat, replace_same_kind=True)
        if placed is not None:
            self.win.status(f"Placed {placed.id} size {size} ({p.side})")

    # ----------------------------------------------------------- neck cut
    def add_neck_cut(self) -> None:
        """The core neck resection of the chosen side, set in the plan as one undo step."""
        plan = self.panel._need_plan()
        if plan is None:
            return
        side = self.panel.side_combo.currentText()
        stem = self.stem()
        if side not in ("left", "right") and stem is not None:
            side = stem.side
        if side not in ("left", "right"):
            self.win.status("Choose the side (left or right) of the neck cut.")
            return
        from surgiplan.core.planning.neck_resection import neck_resection

        case = self.session.case
        rs = self.panel._guard(neck_resection, case.all_landmarks(plan), side)
        if rs is None:
            return
        if rs.model not in case.model_names:
            self.win.status(f"The neck cut needs the {rs.model} model.")
            return
        if self.panel._guard(lambda: case.set_resection(plan, rs) or True):
            from surgiplan.core.planning.names import human_name

            self.win.status(f"{human_name(rs.name)} added (Ctrl+Z removes it)")
