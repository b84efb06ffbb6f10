"""Segment: presets, threshold with live preview, islands, grow from seeds, morphology,
paint/erase brush and scissors in the slice views, separation of touching bones from
clicked seeds, and the segment list (visibility, colour, opacity, statistics). Every
edit is a core call whose undo goes on the case history."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from surgiplan.core.planning.anatomy import BONE_NAMES
from surgiplan.gui.panels.common import Panel, button, hint, row
from surgiplan.gui.panels.segment_tools import (
    ScissorsTool,
    SeedSeparation,
    SegmentsEdit,
    view_normal,
)

PRESET_LABELS = {"hip-bones": "Hip bones (femora; hip bones and sacrum, or pelvis)", "bone": "All bone",
                 "knee-bones": "Knee bones", "spine-bones": "Vertebrae", "vessel": "Vessel lumen (CTA)"}

class _SwapSegmentation:
    """Undo command: replace the window's whole segmentation (after a preset)."""

    def __init__(self, win, before, after, description: str) -> None:
        self.win, self.before, self.after, self.description = win, before, after, description

    def apply(self) -> None:
        self.win.set_segmentation(self.after)

    def revert(self) -> None:
        self.win.set_segmentation(self.before)

    @property
    def nbytes(self) -> int:
        return sum(int(a.nbytes) for s in (self.before, self.after) if s is not None for a in s.layers)


class _SegCommand:
    """Undo command wrapping a core LabelPatch / segment change and refreshing the views."""

    def __init__(self, win, inner, description: str | None = None) -> None:
        self.win, self.inner = win, inner
        self.description = description or getattr(inner, "description", "segment edit")

    def apply(self) -> None:
        self.inner.apply()
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()

    def revert(self) -> None:
        self.inner.revert()
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()

    @property
    def nbytes(self) -> int:
        return int(getattr(self.inner, "nbytes", 1024))


class SegmentPanel(Panel):
    def __init__(self, win) -> None:
        super().__init__(win, "Segment", "Label bones and vessels; edit them with the tools below.")
        g = self.group("Automatic")
        self.preset_combo = QtWidgets.QComboBox()
        self.preset_combo.setObjectName("preset_combo")
        for k, v in PRESET_LABELS.items():
            self.preset_combo.addItem(v, k)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData("bone"))  # no scan, no clue yet
        # the longest name ("Hip bones (femora; ...)") must not widen the panel past its column and
        # clip the Apply button: the box shrinks to 14 characters, its list still shows whole names
        self.preset_combo.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_combo.setMinimumContentsLength(14)
        self.preset_combo.view().setMinimumWidth(self.preset_combo.view().sizeHintForColumn(0) + 24)
        self.preset_combo.setToolTip("\n".join(PRESET_LABELS.values()))
        self.preset_mode = QtWidgets.QComboBox()
        self.preset_mode.setObjectName("preset_mode")
        self.preset_mode.addItem("Replace segmentation", "replace")
        self.preset_mode.addItem("Add to existing segments", "add")
        self.preset_mode.setSizeAdjustPolicy(QtWidgets.QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.preset_mode.setMinimumContentsLength(15)
        self.preset_mode.setToolTip("Replace: the preset's segments become the segmentation. Add: they "
                                    "join the existing segments (names made unique; which voxels they "
                                    "may take follows 'New segment:' under Threshold)")
        g.addLayout(row(self.preset_combo, button("Apply preset", self.apply_preset,
                                                  "Run the preset segmentation (background job)",
                                                  primary=True, name="apply_preset")))
        self.bone_fixed = QtWidgets.QCheckBox("Fixed 200 HU surface")
        self.bone_fixed.setObjectName("bone_fixed")
        self.bone_fixed.setToolTip("All bone: keep the surface at 200 HU instead of moving it (by at most "
                                   "1.5 mm) to half-way between the local cortex and soft tissue, as "
                                   "'surgiplan segment --fixed-threshold' does")
        g.addLayout(row(self.preset_mode, self.bone_fixed))

        g = self.group("Segments")
        self.table = QtWidgets.QTableWidget(0, 4)
        self.table.setObjectName("segment_table")
        self.table.setHorizontalHeaderLabels(["", "Segment", "Volume", "Mean"])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.Stretch)
        for c in (0, 2, 3):
            hh.setSectionResizeMode(c, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(112)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._pick_color)
        g.addWidget(self.table)
        self.opacity = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(45)
        self.opacity.valueChanged.connect(self._set_opacity)
        g.addLayout(row(QtWidgets.QLabel("Overlay opacity"), self.opacity))
        g.addWidget(hint("Double-click a colour to change it."))

        g = self.group("Threshold")
        self.lo = QtWidgets.QDoubleSpinBox()
        self.hi = QtWidgets.QDoubleSpinBox()
        for sb, v in ((self.lo, 200.0), (self.hi, 3000.0)):
            sb.setRange(-5000, 30000)
            sb.setDecimals(0)
            sb.setValue(v)
            sb.setSuffix(" HU")
            sb.valueChanged.connect(self._preview_later)
        self.preview_box = QtWidgets.QCheckBox("Live preview")
        self.preview_box.setObjectName("threshold_preview")
        self.preview_box.toggled.connect(self._preview_later)
        g.addLayout(row(QtWidgets.QLabel("from"), self.lo, QtWidgets.QLabel("to"), self.hi))
        self.range_combo = QtWidgets.QComboBox()
        self.range_combo.addItems(["bone", "soft tissue", "vessel (contrast)", "air/lung"])
        self.range_combo.activated.connect(self._range_preset)
        g.addLayout(row(self.range_combo, self.preview_box))
        self.overwrite_combo = QtWidgets.QComboBox()
        self.overwrite_combo.setObjectName("overwrite_policy")
        for text, mode in (("keep other segments", "none"), ("overwrite visible segments", "visible"),
                           ("overwrite all segments", "all")):
            self.overwrite_combo.addItem(text, mode)
        self.overwrite_combo.setToolTip("Which existing segments a new segment may take voxels from "
                                        "(3D Slicer's 'modify other segments')")
        g.addLayout(row(QtWidgets.QLabel("New segment:"), self.overwrite_combo))
        g.addLayout(row(None, button("New segment from threshold", self.threshold_to_segment,
                                     name="threshold_apply")))
        self._preview_timer = QtCore.QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)
        self._preview_timer.timeout.connect(self._update_preview)

        g = self.group("Edit the selected segment")
        self.radius = QtWidgets.QDoubleSpinBox()
        self.radius.setRange(0.5, 50)
        self.radius.setValue(3.0)
        self.radius.setSuffix(" mm")
        self.paint_btn = QtWidgets.QPushButton("Paint")
        self.erase_btn = QtWidgets.QPushButton("Erase")
        self.seed_btn = QtWidgets.QPushButton("Grow from click")
        self.seed_btn.setToolTip("Click in a slice: the region connected to that point within the "
                                 "threshold range becomes the selected segment")
        self.scissors_btn = QtWidgets.QPushButton("Scissors")
        self.scissors_btn.setObjectName("scissors")
        self.scissors_btn.setToolTip("Outline a region in a slice (drag, or click corners and click the "
                                     "first one again / double-click); it is cut through the volume "
                                     "along the view direction")
        self.sep_seed_btn = QtWidgets.QPushButton("Place seeds")
        self.sep_seed_btn.setObjectName("place_seeds")
        self.sep_seed_btn.setToolTip("Click inside the target structure in any slice view")
        self._tool_buttons = (self.paint_btn, self.erase_btn, self.seed_btn, self.scissors_btn,
                              self.sep_seed_btn)
        for b in self._tool_buttons:
            b.setCheckable(True)
            b.toggled.connect(self._tool_toggled)
        g.addLayout(row(self.paint_btn, self.erase_btn, QtWidgets.QLabel("radius"), self.radius))
        self.scissors_op = QtWidgets.QComboBox()
        self.scissors_op.setObjectName("scissors_op")
        for k, v in ScissorsTool.OPERATIONS.items():
            self.scissors_op.addItem(v, k)
        self.scissors_extent = QtWidgets.QComboBox()
        self.scissors_extent.addItem("all slices", "all")
        self.scissors_extent.addItem("this slice", "slice")
        g.addLayout(row(self.scissors_btn, self.scissors_op, self.scissors_extent))
        g.addLayout(row(self.seed_btn, None))
        self.mm = QtWidgets.QDoubleSpinBox()
        self.mm.setRange(0.1, 30)
        self.mm.setValue(2.0)
        self.mm.setSuffix(" mm")
        g.addLayout(row(button("Keep largest island", lambda: self.edit("keep largest island"),
                               name="keep_largest"),
                        button("Fill holes", lambda: self.edit("fill holes"))))
        g.addLayout(row(button("Grow", lambda: self.edit("grow")),
                        button("Shrink", lambda: self.edit("shrink")),
                        button("Close gaps", lambda: self.edit("close")), self.mm))

        g = self.group("Separate touching bones")
        g.addWidget(hint("Name a structure, click seeds inside it; repeat for each. "
                         "Separate splits the selected segment."))
        self.target_combo = QtWidgets.QComboBox()
        self.target_combo.setObjectName("target_combo")
        self.target_combo.setEditable(True)
        self.target_combo.setInsertPolicy(QtWidgets.QComboBox.InsertPolicy.NoInsert)
        self.target_combo.setMinimumContentsLength(10)
        g.addLayout(row(QtWidgets.QLabel("Structure"), self.target_combo, self.sep_seed_btn))
        self.seed_offer = QtWidgets.QLabel("")
        self.seed_offer.setObjectName("seed_offer")
        self.seed_offer.setWordWrap(True)
        self.seed_offer.hide()
        self.seed_targets: list[str] = []
        g.addWidget(self.seed_offer)
        self.seed_summary = QtWidgets.QLabel("No seeds yet.")
        self.seed_summary.setObjectName("seed_summary")
        self.seed_summary.setProperty("role", "hint")
        self.seed_summary.setWordWrap(True)
        g.addWidget(self.seed_summary)
        self.sep_method = QtWidgets.QComboBox()
        for k, v in SeedSeparation.METHODS.items():
            self.sep_method.addItem(v, k)
        self.sep_method.setToolTip("Where the parts meet: the dark joint space between the bones "
                                   "(CT), or the narrowest contact of the segment's shape")
        g.addLayout(row(self.sep_method, button("Clear", self._clear_seeds, "Remove all seeds",
                                                name="clear_seeds"),
                        button("Separate", self.separate, "Split the selected segment, one part per "
                               "seeded structure (background job, undoable)", primary=True,
                               name="separate")))
        self.finish()
        self.separation = SeedSeparation(win, on_change=self._show_seeds)
        self.scissors = ScissorsTool(win, self._scissors_closed)
        self._fill_targets()
        win.segmentationChanged.connect(self.refresh)
        win.volumeChanged.connect(self.suggest_preset)
        for v in win.slice_views.values():
            v.tool = self._slice_tool
            v.brush_radius = self._brush_radius  # the brush outline under the cursor

    # -------------------------------------------------------------- helpers
    def _need(self) -> bool:
        if self.win.state.volume is None:
            self.win.status("Open a scan first (Data).")
            return False
        return True

    def selected_segment(self) -> str | None:
        r = self.table.currentRow()
        it = self.table.item(r, 1) if r >= 0 else None
        return None if it is None else it.text()

    def _push(self, cmd, **details) -> None:
        """Put an applied edit on the case's undo stack and its audit log (with ``details``)."""
        case = self.win.ensure_case()
        case.record(cmd, **details)

    def _voxels(self, seg, names) -> dict[str, int]:
        return {n: int(np.count_nonzero(seg.mask(n))) for n in names if n in seg.names}

    # ---------------------------------------------------------------- preset
    def suggest_preset(self) -> None:
        """Select the preset the open scan most likely wants (core ``presets.suggest_preset``:
        the sample's anatomy, the DICOM body part and descriptions; "All bone" without a clue)."""
        from surgiplan.core.segmentation.presets import suggest_preset

        vol = self.win.state.volume
        i = self.preset_combo.findData(suggest_preset(vol.metadata if vol is not None else None))
        if i >= 0:
            self.preset_combo.setCurrentIndex(i)

    def apply_preset(self) -> None:
        """Run the selected preset (background job); replace the segmentation or add to it
        (``preset_mode``), one undo step either way, then say what the result makes doubtful."""
        if not self._need():
            return
        preset = self.preset_combo.currentData()
        mode = self.preset_mode.currentData()
        vol = self.win.state.volume
        bone_opts = {"partial_volume": False} if self.bone_fixed.isChecked() else {}

        def job(progress):
            from surgiplan.core.errors import InputError
            from surgiplan.core.segmentation.presets import apply_preset
            from surgiplan.core.segmentation.seeded import seed_targets

            try:
                return apply_preset(vol, preset, progress=progress, **(bone_opts if preset == "bone" else {})), None
            except InputError as exc:
                if not seed_targets(preset):
                    raise
                # the preset cannot find its anatomy: all bone as one segment, to be split from seeds
                return apply_preset(vol, "bone", progress=progress, **bone_opts), str(exc)

        def done(outcome):
            result, refused = outcome
            self.seed_offer.hide()
            before = self.session.segmentation
            details = {"preset": preset, "mode": mode} | ({"fixed_threshold": True} if bone_opts and preset == "bone"
                                                           else {})
            if refused:
                details["refused"] = refused
            if mode == "add" and before is not None and before.segments and before.matches(vol):
                from surgiplan.core.segmentation.edits import merge_segmentation

                policy = self.overwrite_policy()
                edit = merge_segmentation(before, result, overwrite=policy,
                                          description=f"preset {preset} (added)")
                seg, names = before, [edit.renamed.get(n, n) for n in result.names]
                details["overwrite"] = policy if isinstance(policy, str) else list(policy)
                if edit.renamed:
                    details["renamed"] = dict(edit.renamed)
                cmd = SegmentsEdit(self.win, edit)
            else:
                seg, names = result, list(result.names)
                self.win.set_segmentation(seg)
                cmd = _SwapSegmentation(self.win, before, seg, f"preset {preset}")
            details.update(segments=names, voxels=self._voxels(seg, names),
                           replaced=[] if seg is before or before is None else list(before.names))
            self._push(cmd, **details)
            if seg is before:
                cmd._show()
            self.win.status(f"Preset {preset}: {', '.join(names)}")
            if refused:
                self.table.selectRow(seg.names.index(names[0]))
                self.offer_seeds([refused + " All bone was segmented as one piece instead."], preset=preset)
            elif preset != "vessel":
                self.check_plausible(seg, names, preset=preset)

        self.win.run_job(f"Segmenting ({preset})", job, done)

    def check_plausible(self, seg, names, preset: str | None = None) -> list:
        """Say (non-blocking box and status bar) what the core's plausibility check doubts
        about the bone segments ``names``, and offer seeds (:meth:`offer_seeds`) for the bones of
        ``preset`` (or ``names``); returns the doubts."""
        from surgiplan.core.segmentation.plausibility import check_anatomy, check_bone_segments, is_bone_name

        vol = self.win.state.volume
        bones = [n for n in names if is_bone_name(n)]
        doubts = check_bone_segments(vol, seg, bones) + check_anatomy(vol, seg, bones)
        self.last_doubts = doubts
        if doubts:
            text = "\n\n".join(d.message for d in doubts)
            self.win.status(doubts[0].message)
            self.win.show_error(text)
            self.offer_seeds([d.message for d in doubts], preset=preset, targets=bones)
        return doubts

    def offer_seeds(self, reasons: list[str], preset: str | None = None, targets: list[str] | None = None) -> None:
        """The preset is unsure (``reasons``: what it doubts, or why it refused): switch the
        separation to "Seeds anywhere inside (CT)", put the bones to seed (``preset``'s, else
        ``targets``) first in the structure list and say what to click (label ``seed_offer``)."""
        from surgiplan.core.segmentation.seeded import seed_targets

        bones = seed_targets(preset) if preset else []
        bones = bones or list(dict.fromkeys(targets or []))
        self.sep_method.setCurrentIndex(self.sep_method.findData("anywhere"))
        self.seed_targets = bones
        self._fill_targets()
        if bones:
            self.target_combo.setCurrentText(bones[0])
        source = self.selected_segment() or "the segment to split"
        self.seed_offer.setText(
            "The preset is unsure: " + " ".join(reasons)
            + (f"\nSeeds anywhere inside (CT): click 'Place seeds', then one click inside each of "
               f"{', '.join(bones)} (pick the name under Structure first); select {source} and click "
               "Separate." if bones else ""))
        self.seed_offer.show()

    # ----------------------------------------------------------------- table
    def refresh(self) -> None:
        seg = self.session.segmentation
        keep = self.selected_segment()  # the selection survives edits of the list
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        if seg is not None:
            stats = {s.name: s for s in seg.statistics(self.win.state.volume)}
            for s in seg.segments:
                r = self.table.rowCount()
                self.table.insertRow(r)
                vis = QtWidgets.QTableWidgetItem()
                vis.setFlags(QtCore.Qt.ItemFlag.ItemIsUserCheckable | QtCore.Qt.ItemFlag.ItemIsEnabled)
                vis.setCheckState(QtCore.Qt.CheckState.Checked if self.win.state.segment_visible.get(
                    s.name, True) else QtCore.Qt.CheckState.Unchecked)
                vis.setBackground(QtGui.QColor.fromRgbF(*s.color))
                vis.setToolTip("Visible; double-click to change the colour")
                self.table.setItem(r, 0, vis)
                self.table.setItem(r, 1, QtWidgets.QTableWidgetItem(s.name))
                st = stats.get(s.name)
                vol = QtWidgets.QTableWidgetItem(f"{st.volume_ml:.1f} mL" if st else "")
                mean = QtWidgets.QTableWidgetItem(f"{st.mean:.0f} HU" if st and st.mean is not None
                                                  else "")
                for it in (vol, mean):
                    it.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight |
                                        QtCore.Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, 2, vol)
                self.table.setItem(r, 3, mean)
            if self.table.rowCount():
                names = [s.name for s in seg.segments]
                self.table.selectRow(names.index(keep) if keep in names else 0)
        self.table.blockSignals(False)
        self._fill_targets()

    def _item_changed(self, item) -> None:
        if item.column() == 0:
            name = self.table.item(item.row(), 1).text()
            self.win.state.set_segment_visible(name, item.checkState() == QtCore.Qt.CheckState.Checked)

    def _pick_color(self, r: int, c: int) -> None:
        seg = self.session.segmentation
        if seg is None or c != 0:
            return
        s = seg.segment(self.table.item(r, 1).text())
        col = QtWidgets.QColorDialog.getColor(QtGui.QColor.fromRgbF(*s.color), self, "Segment colour")
        if col.isValid():
            s.color = (col.redF(), col.greenF(), col.blueF())
            self.win.state.segmentation_changed()
            self.refresh()

    def _set_opacity(self, v: int) -> None:
        self.win.state.overlay_opacity = v / 100.0
        self.win.state.segmentation_changed()

    # ------------------------------------------------------------- threshold
    def _range_preset(self) -> None:
        from surgiplan.core.segmentation.threshold import preset_range

        key = {"bone": "ct-bone", "soft tissue": "ct-soft-tissue",
               "vessel (contrast)": "ct-contrast-vessel", "air/lung": "ct-air"}[self.range_combo.currentText()]
        try:
            lo, hi = preset_range(key, self.win.state.volume)
        except Exception as exc:  # noqa: BLE001 - show the core's message
            self.win.status(str(exc))
            return
        self.lo.setValue(lo)
        self.hi.setValue(hi)

    def _preview_later(self) -> None:
        self._preview_timer.start()

    def _update_preview(self) -> None:
        st = self.win.state
        if not self.preview_box.isChecked() or st.volume is None:
            st.set_outline("__threshold", None, (0, 0, 0))
            self._show_preview(None)
            return
        from surgiplan.core.segmentation import Segmentation
        from surgiplan.core.segmentation.threshold import threshold

        mask = threshold(st.volume, self.lo.value(), self.hi.value())
        prev = Segmentation.from_volume(st.volume)
        prev.add_segment("threshold preview", mask, color=(0.2, 0.9, 0.3))
        self._show_preview(prev)

    def _show_preview(self, prev) -> None:
        st = self.win.state
        st.set_segmentation(prev if prev is not None else self.session.segmentation)

    def overwrite_policy(self):
        """What a new segment may take from others: "none", "all" or the visible segments' names."""
        mode = self.overwrite_combo.currentData()
        if mode == "visible":
            seg, vis = self.session.segmentation, self.win.state.segment_visible
            return [n for n in (seg.names if seg is not None else []) if vis.get(n, True)]
        return mode

    def threshold_to_segment(self) -> None:
        """A new segment from the HU range (core ``edits.threshold_to_segment``), one undo step."""
        if not self._need():
            return
        from surgiplan.core.segmentation import Segmentation
        from surgiplan.core.segmentation.edits import threshold_to_segment

        vol = self.win.state.volume
        had = self.session.segmentation
        seg = had or Segmentation.from_volume(vol)
        self.preview_box.setChecked(False)
        edit = threshold_to_segment(seg, vol, self.lo.value(), self.hi.value(),
                                    overwrite=self.overwrite_policy())
        if had is None:
            self.win.set_segmentation(seg)
        name = edit.after[-1].name
        policy = self.overwrite_policy()
        self._push(SegmentsEdit(self.win, edit), lower_hu=float(self.lo.value()),
                   upper_hu=float(self.hi.value()), segments=[name], voxels=self._voxels(seg, [name]),
                   overwrite=policy if isinstance(policy, str) else list(policy))
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()
        self.win.status(f"New segment {name}: {seg.mask(name).sum() * seg.voxel_volume_mm3 / 1000:.1f} mL")

    # ------------------------------------------------------------------ tools
    def edit(self, op: str) -> None:
        """Apply a whole-segment tool (core function) to the selected segment, undoably."""
        seg, name = self.session.segmentation, self.selected_segment()
        if seg is None or name is None:
            self.win.status("Select a segment first.")
            return
        from surgiplan.core.segmentation import islands, morphology

        m, sp, mm = seg.mask(name), seg.spacing, self.mm.value()
        new = {
            "keep largest island": lambda: islands.keep_largest(m),
            "fill holes": lambda: morphology.fill_holes(m),
            "grow": lambda: morphology.margin(m, mm, sp),
            "shrink": lambda: morphology.margin(m, -mm, sp),
            "close": lambda: morphology.closing(m, mm, sp),
        }[op]()
        patch = seg.set_mask(name, new, f"{op} {name}")
        self._push(_SegCommand(self.win, patch), segments=[name], mm=float(mm),
                   voxels=self._voxels(seg, [name]))
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()

    def _brush_radius(self) -> float | None:
        """The paint/erase brush radius (mm) for the slice views' outline, None when not painting."""
        on = (self.paint_btn.isChecked() or self.erase_btn.isChecked()) and self.isVisible()
        return float(self.radius.value()) if on else None

    def _tool_toggled(self, on: bool) -> None:
        if on:
            for b in self._tool_buttons:
                if b is not self.sender():
                    b.setChecked(False)
        if not self.scissors_btn.isChecked():
            self.scissors.reset()

    def _slice_tool(self, view, lps, buttons, mods, phase) -> bool:
        active = next((b for b in self._tool_buttons if b.isChecked()), None)
        if active is None or not self.isVisible():
            return False
        if active is self.sep_seed_btn:
            if phase == "press":
                self.add_seed(self.target_combo.currentText(), lps)
            return True
        seg, name = self.session.segmentation, self.selected_segment()
        if seg is None or name is None:
            self.win.status("Select a segment to edit (or create one with a preset or threshold).")
            return True
        if active is self.scissors_btn:
            self.scissors.event(view, lps, phase)
            return True
        if active is self.seed_btn:
            if phase == "press":
                from surgiplan.core.segmentation.grow import connected_threshold, seeds_from_world

                vol = self.win.state.volume
                seeds = seeds_from_world(vol, [lps])
                mask = connected_threshold(vol, seeds, self.lo.value(), self.hi.value())
                patch = seg.set_mask(name, mask, f"grow {name} from a seed")
                self._push(_SegCommand(self.win, patch), segments=[name], lower_hu=float(self.lo.value()),
                           upper_hu=float(self.hi.value()), voxels=self._voxels(seg, [name]))
                self.win.state.segmentation_changed()
                self.win.segmentationChanged.emit()
            return True
        from surgiplan.core.segmentation.brush import paint_line

        if phase == "press":
            self._stroke, self._stroke_last = [], None
        if phase in ("press", "move"):
            # the brush swept from the last mouse position: a quick stroke is a continuous line
            last = lps if getattr(self, "_stroke_last", None) is None else self._stroke_last
            self._stroke.append(paint_line(seg, name, last, lps, self.radius.value(),
                                           erase=active is self.erase_btn))
            self._stroke_last = np.asarray(lps, float)
            self.win.state.segmentation_changed()
        elif phase == "release" and getattr(self, "_stroke", None):
            from surgiplan.core.undo import CompoundCommand

            what = "erase" if active is self.erase_btn else "paint"
            self._push(_SegCommand(self.win, CompoundCommand(f"{what} {name}", self._stroke)),
                       segments=[name], radius_mm=float(self.radius.value()),
                       voxels=self._voxels(seg, [name]))
            self._stroke, self._stroke_last = [], None
            self.win.segmentationChanged.emit()
        return True

    # ------------------------------------------------------------- scissors
    def _scissors_closed(self, view: str, polygon_lps) -> None:
        self.cut(view, polygon_lps, self.scissors_op.currentData(), self.scissors_extent.currentData())

    def cut(self, view: str, polygon_lps, operation: str = "erase-inside", extent: str = "all") -> None:
        """Scissors on the selected segment: ``polygon_lps`` (n, 3) LPS mm drawn in slice view
        ``view``, extruded along its normal through all slices or only the current one."""
        seg, name = self.session.segmentation, self.selected_segment()
        if seg is None or name is None:
            self.win.status("Select a segment to cut.")
            return
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.segmentation.scissors import scissors

        st = self.win.state
        normal = view_normal(st, view)
        depth = None
        if extent == "slice":  # half the slice spacing: the current slice's voxels only
            w = {"axial": 2, "coronal": 1, "sagittal": 0}[view]
            depth = 0.5 * float(st.volume.spacing[st.grid.axis_of[w]])
        try:
            new = scissors(seg.mask(name), st.volume, polygon_lps, normal, operation=operation,
                           depth_mm=depth)
        except SurgiplanError as exc:
            self.win.status(str(exc))
            return
        label = ScissorsTool.OPERATIONS[operation].lower()
        patch = seg.set_mask(name, new, f"scissors ({label}) {name}")
        self._push(_SegCommand(self.win, patch), segments=[name], operation=operation, extent=extent,
                   voxels=self._voxels(seg, [name]))
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()
        changed = 0 if patch.empty else int(np.count_nonzero(patch.old != patch.new))
        self.win.status(f"Scissors ({label}) on {name}: {changed} voxels changed")

    # ----------------------------------------------------------- separation
    def _fill_targets(self) -> None:
        current = self.target_combo.currentText()
        seg = self.session.segmentation
        names = [n for n in getattr(self, "seed_targets", [])]  # the bones an unsure preset asks for
        names += [n for n in (seg.names if seg is not None else []) if n not in names]
        names += [n for n in BONE_NAMES if n not in names]  # the registry's bones
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self.target_combo.addItems(names)
        self.target_combo.setCurrentText(current or "femur_right")
        self.target_combo.blockSignals(False)

    def add_seed(self, target: str, lps) -> None:
        target = target.strip()
        if not target:
            self.win.status("Type a structure name for the seed first.")
            return
        self.separation.add(target, lps)
        self._show_seeds()

    def _clear_seeds(self) -> None:
        self.separation.clear()
        self._show_seeds()

    def _show_seeds(self) -> None:
        seeds = self.separation.seeds
        if not seeds:
            self.seed_summary.setText("No seeds yet.")
            return
        parts = []
        for n, pts in seeds.items():
            c = QtGui.QColor.fromRgbF(*self.separation.color(n)).name()
            parts.append(f'<span style="color:{c}">&#9679;</span>&nbsp;{n}&nbsp;({len(pts)})')
        self.seed_summary.setText(" &nbsp; ".join(parts))

    def separate(self) -> None:
        """Split the selected segment, one part per seeded structure (background job)."""
        name = self.selected_segment()
        if self.session.segmentation is None or name is None:
            self.win.status("Select the segment to split first.")
            return
        self.sep_seed_btn.setChecked(False)
        self.separation.separate(name, self.sep_method.currentData(), on_done=lambda _: self._show_seeds())

    def activated(self) -> None:
        self.refresh()
