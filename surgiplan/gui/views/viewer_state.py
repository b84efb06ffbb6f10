"""What all views show, shared so that they stay linked: the volume, the crosshair,
the window/level, the segmentation overlay and the model/implant outlines.

Views listen to the signals and repaint; nothing here computes more than an
index conversion (reslicing lives in :mod:`surgiplan.scene.slices`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6 import QtCore

from surgiplan.scene.slices import CanonicalGrid


class ViewerState(QtCore.QObject):
    volumeChanged = QtCore.Signal()
    crosshairChanged = QtCore.Signal()
    windowChanged = QtCore.Signal()
    overlayChanged = QtCore.Signal()
    outlinesChanged = QtCore.Signal()

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.volume = None
        self.grid: CanonicalGrid | None = None
        self.canon: np.ndarray | None = None
        self.crosshair = np.zeros(3)  # canonical (x, y, z) voxel indices
        self.center, self.width = 40.0, 400.0
        self.loaded_fraction = 1.0  # < 1 while slices are still arriving
        self.segmentation = None
        self.segment_visible: dict[str, bool] = {}
        self.overlay_opacity = 0.45
        self.seg_version = 0
        self.outlines: dict[str, tuple[Any, tuple[float, float, float]]] = {}
        self.outline_version = 0

    # ---------------------------------------------------------------- volume
    def set_volume(self, volume, window: tuple[float, float] | None = None,
                   keep_crosshair: bool = False) -> None:
        """Show ``volume`` (a core Volume); the crosshair goes to its centre unless kept."""
        from surgiplan.scene.window_presets import default_window

        same_grid = self.volume is not None and self.volume.same_grid(volume)
        self.volume = volume
        self.grid = CanonicalGrid.of_volume(volume)
        self.canon = self.grid.canonical(volume.array)
        if not (keep_crosshair and same_grid):
            self.crosshair = (np.asarray(self.grid.shape_xyz, dtype=float) - 1) / 2.0
        if window is not None:
            self.center, self.width = window
        elif not (keep_crosshair and same_grid):
            self.center, self.width = default_window(volume)
        if self.segmentation is not None and not same_grid:
            self.segmentation = None
        self.volumeChanged.emit()
        self.windowChanged.emit()
        self.crosshairChanged.emit()

    def clear(self) -> None:
        self.volume = self.grid = self.canon = None
        self.segmentation = None
        self.outlines.clear()
        self.volumeChanged.emit()

    # -------------------------------------------------------------- crosshair
    def set_crosshair(self, xyz) -> None:
        if self.grid is None:
            return
        hi = np.asarray(self.grid.shape_xyz, dtype=float) - 1
        self.crosshair = np.clip(np.asarray(xyz, dtype=float), 0, hi)
        self.crosshairChanged.emit()

    def crosshair_world(self) -> np.ndarray | None:
        """Crosshair position in LPS mm."""
        if self.grid is None:
            return None
        return self.volume.index_to_world(self.grid.xyz_to_ijk(self.crosshair))

    def world_to_xyz(self, lps) -> np.ndarray:
        return self.grid.ijk_to_xyz(self.volume.world_to_index(lps))

    def xyz_to_world(self, xyz) -> np.ndarray:
        return self.volume.index_to_world(self.grid.xyz_to_ijk(xyz))

    def set_crosshair_world(self, lps) -> None:
        self.set_crosshair(self.world_to_xyz(lps))

    def value_at(self, xyz) -> float | None:
        if self.canon is None:
            return None
        idx = np.round(np.asarray(xyz)).astype(int)[::-1]
        if np.any(idx < 0) or np.any(idx >= np.asarray(self.canon.shape)):
            return None
        return float(self.canon[tuple(idx)])

    # ----------------------------------------------------------------- window
    def set_window(self, center: float, width: float) -> None:
        self.center, self.width = float(center), max(1.0, float(width))
        self.windowChanged.emit()

    # ----------------------------------------------------------------- overlay
    def set_segmentation(self, seg) -> None:
        self.segmentation = seg
        if seg is not None:
            for s in seg.segments:
                self.segment_visible.setdefault(s.name, True)
        self.seg_version += 1
        self.overlayChanged.emit()

    def segmentation_changed(self) -> None:
        """Call after the segmentation's voxels or segments changed in place."""
        self.set_segmentation(self.segmentation)

    def set_segment_visible(self, name: str, visible: bool) -> None:
        self.segment_visible[name] = bool(visible)
        self.seg_version += 1
        self.overlayChanged.emit()

    def overlay_luts(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """[(canonical label layer [z, y, x], RGBA LUT (n, 4) uint8)] for visible segments."""
        seg = self.segmentation
        if seg is None or self.grid is None:
            return []
        out = []
        alpha = int(round(255 * self.overlay_opacity))
        for li, layer in enumerate(seg.layers):
            segs = [s for s in seg.segments if s.layer == li and self.segment_visible.get(s.name, True)]
            if not segs:
                continue
            n = max(max(s.label for s in segs) + 1, 256 if layer.dtype == np.uint8 else 65536)
            lut = np.zeros((n, 4), np.uint8)
            for s in segs:
                lut[s.label, :3] = np.clip(np.asarray(s.color) * 255, 0, 255).astype(np.uint8)
                lut[s.label, 3] = alpha
            out.append((self.grid.canonical(layer), lut))
        return out

    # ---------------------------------------------------------------- outlines
    def set_outline(self, name: str, mesh, color) -> None:
        """Draw ``mesh`` (PolyData, LPS mm) as an outline in the slices; None removes it."""
        if mesh is None:
            self.outlines.pop(name, None)
        else:
            self.outlines[name] = (mesh, tuple(float(c) for c in color))
        self.outline_version += 1
        self.outlinesChanged.emit()

    def clear_outlines(self, prefix: str = "") -> None:
        for k in [k for k in self.outlines if k.startswith(prefix)]:
            del self.outlines[k]
        self.outline_version += 1
        self.outlinesChanged.emit()
