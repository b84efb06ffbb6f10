"""A report figure: a raster image plus vector marks drawn over it in the PDF.

Renders and slices are pixels; what a person must read on them (implant outlines, cut
lines, orientation letters, labels, the scale bar) stays vector in the PDF, drawn by the
layout over the image, so it prints sharp and survives greyscale. Coordinates of marks are
fractions of the image: x from the left edge, y from the top edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Mark:
    """A polyline (``points``: [(x, y), ...] image fractions) drawn as ``style``:
    ``"outline"`` (implant), ``"cut"`` (resection line), ``"axis"`` (trajectory), ``"lesion"``."""

    points: list[tuple[float, float]]
    style: str = "outline"


@dataclass
class Label:
    """Text at (x, y) image fractions, anchored ``"left"``, ``"right"`` or ``"centre"``."""

    x: float
    y: float
    text: str
    anchor: str = "left"


@dataclass
class Figure:
    """An image for the report with its caption, orientation letters and vector marks."""

    pixels: object  # (h, w, 3) RGB or (h, w) grey uint8 array
    caption: str
    edges: tuple[str, str, str, str] = ("", "", "", "")  # patient direction at left, right, top, bottom
    marks: list[Mark] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    mm_per_px: float | None = None  # for a scale bar (slices: true; renders: parallel projection)

    @property
    def width_px(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height_px(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def aspect(self) -> float:
        """Height / width."""
        return self.height_px / max(self.width_px, 1)

    def image(self):
        """The pixels as a PIL image (what reportlab embeds, zlib-compressed, lossless)."""
        from PIL import Image  # reportlab's own image dependency

        return Image.fromarray(self.pixels)

    def png(self) -> bytes:
        """PNG file bytes of the pixels (for saving or previews)."""
        return png_bytes(self.pixels)


def png_bytes(rgb_or_grey) -> bytes:
    """PNG file bytes of an (h, w, 3) RGB or (h, w) grey uint8 array (lossless, compressed)."""
    import io

    import numpy as np
    from PIL import Image  # reportlab's own image dependency

    a = np.ascontiguousarray(rgb_or_grey, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def direction_letter(v) -> str:
    """The patient direction (L, R, P, A, S, I) an LPS vector points to most."""
    import numpy as np

    v = np.asarray(v, float)
    a = int(np.argmax(np.abs(v)))
    return ("RL", "AP", "IS")[a][int(v[a] > 0)]
