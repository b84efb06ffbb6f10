"""Two timepoints of a case linked in slice views: scan A (left) and scan B (right) side by side,
each on its own grid, with the cursor linked through the registration (a click, drag, wheel or
arrow key in one puts the other's cursor on the same anatomical point), and A's view able to show
B blended into it: fused colour, checkerboard or difference.

Thin: the point map is :func:`surgiplan.core.twin.timeline.timepoint_map` and B on A's grid is
:func:`surgiplan.core.twin.overlay.pair_on_grid` (the same registration as ``surgiplan case
register`` wrote, the bone's own transform when one is chosen and has one).
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from surgiplan.gui.views.fused_slice_view import FusedSliceView
from surgiplan.gui.views.slice_view import SliceView
from surgiplan.gui.views.viewer_state import ViewerState

#: A's view: B beside it only, or B blended into it
LINK_MODES = {"side": "Side by side", "fused": "Fused colour", "checkerboard": "Checkerboard",
              "difference": "Difference"}


class LinkedTimepoints(QtWidgets.QWidget):
    """A window with scan A and scan B linked (see the module docstring)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent, QtCore.Qt.WindowType.Window)
        self.setObjectName("linked_timepoints")
        self.setWindowTitle("Linked timepoints")
        self.state_a, self.state_b = ViewerState(self), ViewerState(self)
        self.a_to_b = np.eye(4)  # LPS mm of A -> LPS mm of B
        self._linking = False
        self.names = ("", "")
        top = QtWidgets.QHBoxLayout()
        self.view_combo = QtWidgets.QComboBox()
        self.view_combo.setObjectName("linked_view")
        for v in ("axial", "coronal", "sagittal"):
            self.view_combo.addItem(v.capitalize(), v)
        self.mode_combo = QtWidgets.QComboBox()
        self.mode_combo.setObjectName("linked_mode")
        for key, label in LINK_MODES.items():
            self.mode_combo.addItem(label, key)
        self.info = QtWidgets.QLabel()
        self.info.setObjectName("linked_info")
        top.addWidget(QtWidgets.QLabel("View"))
        top.addWidget(self.view_combo)
        top.addWidget(QtWidgets.QLabel("A shows"))
        top.addWidget(self.mode_combo)
        top.addWidget(self.info, 1)
        self.label_a, self.label_b = QtWidgets.QLabel(), QtWidgets.QLabel()
        self.views = QtWidgets.QHBoxLayout()
        self.view_a: FusedSliceView | None = None
        self.view_b: SliceView | None = None
        col_a, col_b = QtWidgets.QVBoxLayout(), QtWidgets.QVBoxLayout()
        col_a.addWidget(self.label_a)
        col_b.addWidget(self.label_b)
        self.col_a, self.col_b = col_a, col_b
        self.views.addLayout(col_a, 1)
        self.views.addLayout(col_b, 1)
        lay = QtWidgets.QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(self.views, 1)
        self._make_views("axial")
        self.view_combo.currentIndexChanged.connect(lambda _i: self._make_views(self.view_combo.currentData()))
        self.mode_combo.currentIndexChanged.connect(lambda _i: self._apply_mode())
        self.state_a.crosshairChanged.connect(lambda: self._follow(self.state_a, self.state_b, self.a_to_b))
        self.state_b.crosshairChanged.connect(
            lambda: self._follow(self.state_b, self.state_a, np.linalg.inv(self.a_to_b)))
        self.state_a.windowChanged.connect(self._same_window)
        self.resize(1200, 640)

    # ---------------------------------------------------------------- set up
    def _make_views(self, view: str) -> None:
        for old, col in ((self.view_a, self.col_a), (self.view_b, self.col_b)):
            if old is not None:
                col.removeWidget(old)
                old.deleteLater()
        other = None if self.view_a is None else self.view_a.other
        self.view_a = FusedSliceView(self.state_a, view)
        self.view_b = SliceView(self.state_b, view)
        self.view_a.setObjectName("linked_a")
        self.view_b.setObjectName("linked_b")
        self.col_a.addWidget(self.view_a, 1)
        self.col_b.addWidget(self.view_b, 1)
        if other is not None:
            self.view_a.set_other(other)
        self._apply_mode()

    def set_pair(self, names: tuple[str, str], vol_a, vol_b, b_on_a, a_to_b: np.ndarray) -> None:
        """Show scan A (``vol_a``) and scan B (``vol_b``), ``b_on_a`` = B resampled on A's grid and
        ``a_to_b`` the 4x4 LPS mm map of A's points to B's (from the core)."""
        self.names = names
        self.a_to_b = np.asarray(a_to_b, float)
        self.state_a.set_volume(vol_a)
        self.state_b.set_volume(vol_b, window=(self.state_a.center, self.state_a.width))
        self.view_a.set_other(self.state_a.grid.canonical(b_on_a.array))
        self.label_a.setText(f"A: {names[0]}")
        self.label_b.setText(f"B: {names[1]} (cursor linked through the registration)")
        self._follow(self.state_a, self.state_b, self.a_to_b)
        self._apply_mode()

    def _apply_mode(self) -> None:
        mode = self.mode_combo.currentData()
        self.view_a.set_mode(None if mode == "side" else mode)
        if mode != "side" and self.names[1]:
            self.label_a.setText(f"A: {self.names[0]} with B {self.names[1]} ({LINK_MODES[mode].lower()}; "
                                 "A magenta / B green)" if mode == "fused" else
                                 f"A: {self.names[0]} with B {self.names[1]} ({LINK_MODES[mode].lower()})")
        elif self.names[0]:
            self.label_a.setText(f"A: {self.names[0]}")

    # --------------------------------------------------------------- linking
    def _follow(self, src: ViewerState, dst: ViewerState, m: np.ndarray) -> None:
        """Put ``dst``'s cursor on ``src``'s cursor point mapped by ``m`` (no echo back)."""
        if self._linking or src.grid is None or dst.grid is None:
            return
        self._linking = True
        try:
            p = src.crosshair_world()
            q = m[:3, :3] @ p + m[:3, 3]
            xyz = dst.world_to_xyz(q)
            inside = bool(np.all(xyz >= -0.5) and np.all(xyz <= np.asarray(dst.grid.shape_xyz) - 0.5))
            dst.set_crosshair(xyz)
            a, b = (p, q) if src is self.state_a else (q, p)
            self.info.setText(f"cursor A ({a[0]:.1f}, {a[1]:.1f}, {a[2]:.1f}) mm = B ({b[0]:.1f}, {b[1]:.1f}, "
                              f"{b[2]:.1f}) mm LPS" + ("" if inside else "; outside the other scan"))
        finally:
            self._linking = False

    def _same_window(self) -> None:
        self.state_b.set_window(self.state_a.center, self.state_a.width)
