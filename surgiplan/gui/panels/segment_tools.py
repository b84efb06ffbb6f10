"""Slice-view tools of the Segment panel that need more than one click.

* :class:`SeedSeparation`: seed points (LPS mm) clicked per target structure,
  drawn as coloured dots in the slice views and kept with the case (core
  ``Case.set_segment_seeds``: saved beside the scan's segmentation, restored
  when the case is opened); :meth:`SeedSeparation.separate` splits the selected
  segment with the core's seeded watershed in a background job and puts one
  undoable :class:`SegmentsEdit` on the case history.
* :class:`ScissorsTool`: a polygon drawn in one slice view (clicks, or a
  freehand drag), closed by clicking its first corner or by a double click;
  the core's ``scissors`` cuts the selected segment with the polygon extruded
  along the view direction (all slices or the current one only), undoably.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from surgiplan.scene import slices as S

CLOSE_PX = 9.0  # a click this close (widget pixels) to the first corner closes the polygon
FREEHAND_STEP_PX = 4.0  # spacing of the points recorded while dragging
TOOL_COLOR = "#ffe14d"  # the scissors outline: saturated yellow, apart from the pastel segment colours


def view_normal(state, view: str) -> np.ndarray:
    """LPS unit vector normal to slice view ``view`` (the scissors' extrusion direction)."""
    w = {"axial": 2, "coronal": 1, "sagittal": 0}[view]
    return np.asarray(state.volume.direction[:, state.grid.axis_of[w]], float)


def on_slice_offset(state, view: str, index: int, lps) -> float:
    """Distance of an LPS point from slice ``index`` of ``view``, in slices."""
    xyz = state.world_to_xyz(lps)
    return float(xyz[2 - S.VIEW_AXIS[view]] - index)


class SegmentsEdit:
    """Undo command of the window: a core :class:`~surgiplan.core.segmentation.edits.SegmentationEdit`
    (segment list + voxels, exact undo) that also refreshes the views."""

    def __init__(self, win, edit) -> None:
        self.win, self.edit = win, edit
        self.description = edit.description
        self.segmentation = edit.segmentation

    @classmethod
    def record(cls, win, seg, change, description: str) -> SegmentsEdit:
        """Run ``change()`` (which edits ``seg`` in place) and return the command undoing it."""
        from surgiplan.core.segmentation.edits import SegmentationEdit

        return cls(win, SegmentationEdit.record(seg, change, description))

    def _show(self) -> None:
        self.win.state.segmentation_changed()
        self.win.segmentationChanged.emit()

    def apply(self) -> None:
        self.edit.apply()
        self._show()

    def revert(self) -> None:
        self.edit.revert()
        self._show()

    @property
    def nbytes(self) -> int:
        return self.edit.nbytes


def _dot(p: QtGui.QPainter, pos: QtCore.QPointF, color: QtGui.QColor, r: float) -> None:
    """A filled dot with a white rim and a dark halo, visible on bone of the same colour."""
    p.setPen(QtGui.QPen(QtGui.QColor(0, 0, 0, min(170, color.alpha())), 2.0))
    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
    p.drawEllipse(pos, r + 1.5, r + 1.5)
    p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255, color.alpha()), 1.5))
    p.setBrush(color)
    p.drawEllipse(pos, r, r)


class SeedSeparation:
    """Seeds per target name (LPS mm points) and the separation job."""

    METHODS = {"joint": "Joint space (CT)", "anywhere": "Seeds anywhere inside (CT)", "neck": "Narrowest contact"}

    def __init__(self, win, on_change=None) -> None:
        self.win = win
        self.session = self.win.session
        self.on_change = on_change
        self.seeds: dict[str, list[np.ndarray]] = {}
        for v in win.slice_views.values():
            v.overlay_painters.append(self.paint)
        win.caseChanged.connect(self._case_changed)

    # ------------------------------------------------------------ seeds
    def add(self, target: str, lps) -> None:
        self.win.ensure_case()  # first, so that a case created now starts from these seeds
        self.seeds.setdefault(target, []).append(np.asarray(lps, float))
        self._store()
        self._redraw()

    def clear(self) -> None:
        self.seeds.clear()
        self._store()
        self._redraw()

    def _store(self) -> None:
        """Hand the seeds to the case (saved with it beside the scan's segmentation)."""
        case = self.session.case
        if case is not None:
            case.set_segment_seeds({n: np.array(p) for n, p in self.seeds.items() if p},
                                   self.session.scan_name)
            self.win.update_title()

    def _case_changed(self) -> None:
        """A case was opened (or closed): show its saved seeds of the open scan."""
        from surgiplan.core.errors import SurgiplanError

        case, seeds = self.session.case, {}
        if case is not None:
            try:
                seeds = case.segment_seeds(self.session.scan_name)
            except SurgiplanError as exc:  # a damaged seeds file must not block opening the case
                self.win.status(f"Seeds not restored: {exc}")
        self.seeds = {n: [np.asarray(q, float) for q in p] for n, p in seeds.items()}
        self._redraw()
        if self.on_change is not None:
            self.on_change()

    def _redraw(self) -> None:
        for v in self.win.slice_views.values():
            v.update()

    def color(self, target: str) -> tuple[float, float, float]:
        seg = self.session.segmentation
        if seg is not None and target in seg.names:
            return seg.segment(target).color
        from surgiplan.core.segmentation.terminology import default_color

        return default_color(target, 1 + list(self.seeds).index(target) if target in self.seeds else 1)

    def paint(self, view, p: QtGui.QPainter) -> None:
        st = self.win.state
        if not self.seeds or st.volume is None:
            return
        idx = view.slice_index()
        for target, pts in self.seeds.items():
            col = QtGui.QColor.fromRgbF(*self.color(target))
            for lps in pts:
                off = abs(on_slice_offset(st, view.view, idx, lps))
                if off > 3.5:
                    continue
                c = QtGui.QColor(col)
                c.setAlpha(255 if off < 0.5 else 110)  # seeds of nearby slices faded
                _dot(p, view.xyz_to_widget(st.world_to_xyz(lps)), c, 5.0 if off < 0.5 else 3.5)

    # -------------------------------------------------------- separation
    def separate(self, source: str, method: str, on_done=None) -> None:
        """Split segment ``source`` into one segment per seeded target (background job).

        Targets named like an existing segment receive their part in it; voxels of
        ``source`` reached from no seed stay in ``source`` (removed when empty).
        """
        win = self.win
        seg, vol = win.segmentation, win.state.volume
        seeds = {n: pts for n, pts in self.seeds.items() if pts}
        if len(seeds) < 2:
            win.status("Place seeds for at least two structures (one target name each).")
            return
        from surgiplan.core.errors import SurgiplanError
        from surgiplan.core.segmentation.grow import seeds_from_world

        try:
            seeds_kji = {n: seeds_from_world(vol, np.array(pts)) for n, pts in seeds.items()}
        except SurgiplanError as exc:
            win.status(str(exc))
            return
        mask = seg.mask(source)

        def job(progress):
            from surgiplan.core.segmentation.grow import (
                separate_touching,
                split_by_intensity_valleys,
            )

            if method == "neck":
                return separate_touching(mask, seeds_kji, vol.spacing, progress=progress)
            if method == "anywhere":  # seeds in cancellous bone too (core seeded.py, issue 23)
                from surgiplan.core.segmentation.seeded import separate_from_seeds

                return separate_from_seeds(vol, mask, seeds, snap_mm=0.0, progress=progress)
            return split_by_intensity_valleys(vol, mask, seeds_kji, progress=progress)

        def done(parts) -> None:
            if win.segmentation is not seg or source not in seg.names:
                win.status("The segmentation changed while separating; nothing was applied.")
                return
            from surgiplan.core.segmentation.edits import apply_parts

            cmd = SegmentsEdit(win, apply_parts(seg, source, parts))  # core merge, one undo step
            win.ensure_case().record(cmd, source=source, method=method, segments=list(parts),
                                     voxels={n: int(np.count_nonzero(m)) for n, m in parts.items()})
            self.clear()
            cmd._show()
            sizes = ", ".join(f"{n} {m.sum() * seg.voxel_volume_mm3 / 1000:.1f} mL" for n, m in parts.items())
            win.status(f"Separated {source}: {sizes}")
            if on_done is not None:
                on_done(parts)

        win.run_job(f"Separating {source}", job, done)


class ScissorsTool:
    """Polygon drawn in one slice view; ``on_close(view, polygon_lps)`` when it closes."""

    OPERATIONS = {"erase-inside": "Erase inside", "erase-outside": "Keep inside only",
                  "fill-inside": "Fill inside"}

    def __init__(self, win, on_close) -> None:
        self.win, self.on_close = win, on_close
        self.view: str | None = None
        self.points: list[np.ndarray] = []
        self._dragged = False
        for v in win.slice_views.values():
            v.overlay_painters.append(self.paint)

    def reset(self) -> None:
        self.view, self.points, self._dragged = None, [], False
        for v in self.win.slice_views.values():
            v.update()

    def _px(self, view: str, lps) -> QtCore.QPointF:
        sv = self.win.slice_views[view]
        return sv.xyz_to_widget(self.win.state.world_to_xyz(lps))

    def event(self, view: str, lps, phase: str) -> None:
        """Feed a slice-view mouse event (phase press/move/release/double)."""
        lps = np.asarray(lps, float)
        if phase == "press":
            if self.view != view:
                self.reset()
                self.view = view
            if len(self.points) >= 3:
                d = self._px(view, lps) - self._px(view, self.points[0])
                if np.hypot(d.x(), d.y()) <= CLOSE_PX:
                    self._close()
                    return
            self.points.append(lps)
            self._dragged = False
        elif phase == "move" and self.view == view and self.points:
            d = self._px(view, lps) - self._px(view, self.points[-1])
            if np.hypot(d.x(), d.y()) >= FREEHAND_STEP_PX:
                self.points.append(lps)
                self._dragged = True
        elif phase == "release" and self._dragged and len(self.points) >= 3:
            self._close()  # freehand outline: closes when the button is let go
            return
        elif phase == "double" and self.view == view and len(self.points) >= 3:
            self._close()
            return
        self.win.slice_views[view].update()

    def _close(self) -> None:
        view, pts = self.view, list(self.points)
        self.reset()
        self.on_close(view, np.array(pts))

    def paint(self, view, p: QtGui.QPainter) -> None:
        if view.view != self.view or not self.points:
            return
        pts = [self._px(self.view, q) for q in self.points]
        shadow = QtGui.QPen(QtGui.QColor(0, 0, 0, 150), 4.0)  # readable over bright bone too
        p.setPen(shadow)
        p.drawPolyline(QtGui.QPolygonF(pts))
        pen = QtGui.QPen(QtGui.QColor(TOOL_COLOR), 2.0)
        pen.setCosmetic(True)
        p.setPen(pen)
        p.drawPolyline(QtGui.QPolygonF(pts))
        if len(pts) >= 3:
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(pts[-1], pts[0])
        if not self._dragged:
            for q in pts:
                _dot(p, q, QtGui.QColor(TOOL_COLOR), 3.0)
        _dot(p, pts[0], QtGui.QColor(TOOL_COLOR), 4.5)
