"""A slice view that can show a second scan blended into its own: fused colour, checkerboard
or difference, slice by slice as the user scrolls (the second scan already resampled onto
this view's grid through the registration, :func:`surgiplan.core.twin.overlay.pair_on_grid`).

The blending is the core's :func:`surgiplan.core.twin.overlay.blend` (A magenta / B green,
16-pixel tiles, mid-grey where equal) applied to both slices windowed with this view's
window/level; ``mode = None`` is the plain grey view of :class:`SliceView`.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui

from surgiplan.gui.views.slice_view import SliceView
from surgiplan.scene import slices as S


class FusedSliceView(SliceView):
    """A :class:`SliceView` of scan A, optionally blended with scan B on A's grid."""

    def __init__(self, state, view: str, parent=None) -> None:
        super().__init__(state, view, parent)
        self.mode: str | None = None
        #: scan B on A's canonical grid (same shape as ``state.canon``), or None
        self.other: np.ndarray | None = None

    def set_other(self, canon_b: np.ndarray | None) -> None:
        """Scan B as a canonical array on this view's grid (None: nothing to blend)."""
        if canon_b is not None and self.state.canon is not None and canon_b.shape != self.state.canon.shape:
            raise ValueError(f"scan B on A's grid has shape {canon_b.shape}, A has {self.state.canon.shape}")
        self.other = canon_b
        self._img_cache = None
        self.update()

    def set_mode(self, mode: str | None) -> None:
        """``fused``, ``checkerboard``, ``difference`` or None (A alone)."""
        self.mode = mode
        self._img_cache = None
        self.update()

    def blended_slice(self) -> np.ndarray | None:
        """The RGB uint8 slice (rows, cols, 3) shown now, or None in plain mode."""
        from surgiplan.core.twin.overlay import blend

        st = self.state
        if self.mode is None or self.other is None or st.canon is None:
            return None
        idx = self.slice_index()
        a = S.window_to_uint8(S.extract_slice(st.canon, self.view, idx), st.center, st.width) / 255.0
        b = S.window_to_uint8(S.extract_slice(self.other, self.view, idx), st.center, st.width) / 255.0
        return blend(a, b, self.mode)

    def _grey_image(self) -> QtGui.QImage:
        st = self.state
        if self.mode is None or self.other is None:
            return super()._grey_image()
        key = ("blend", self.mode, id(self.other), id(st.canon), self.slice_index(), st.center, st.width)
        if self._img_cache is not None and self._img_cache[0] == key:
            return self._img_cache[1]
        rgb = np.ascontiguousarray(self.blended_slice())
        img = QtGui.QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0],
                           QtGui.QImage.Format.Format_RGB888).copy()
        self._img_cache = (key, img)
        return img
