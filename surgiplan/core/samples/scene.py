"""What an anatomy generator returns: the grid, layers, tissues, scanner settings and ground truth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.samples.dicom_writer import SeriesHeader
from surgiplan.core.samples.ground_truth import Truth
from surgiplan.core.samples.phantom import Grid, Layer, Tissue

SIZES = ("small", "full")


@dataclass
class Scene:
    """A digital patient ready to be rasterised.

    ``value_range`` clips the real-world values (HU for CT) before they are stored;
    ``rescale`` is (slope, intercept) from stored to real-world value;
    ``post`` optionally modifies the noise-free image in place (e.g. cupping, coil bias).
    """

    name: str
    grid: Grid
    layers: list[Layer]
    tissues: dict[str, Tissue]
    background: float
    psf_fwhm_mm: tuple[float, float, float]
    noise_sd: float
    header: SeriesHeader
    truth: Truth
    rescale: tuple[float, float] = (1.0, -1024.0)
    value_range: tuple[float, float] = (-1024.0, 3071.0)
    noise_kind: str = "gaussian"
    post: Callable[[np.ndarray, Grid], None] | None = None
    extra_files: dict = field(default_factory=dict)


def axial_grid(
    centre_xy: tuple[float, float],
    fov_mm: float,
    z_range: tuple[float, float],
    size: str,
    *,
    small_mm: float,
    full_slice_mm: float = 1.0,
    full_matrix: int = 512,
    small_fov_mm: float | None = None,
) -> Grid:
    """An axial CT grid (rows along +y posterior, columns along +x left, slices inferior to superior).

    ``full``: 512 x 512 over ``fov_mm``, ``full_slice_mm`` slices. ``small``: ``small_mm`` isotropic
    over ``small_fov_mm`` (default ``fov_mm``).
    """
    if size == "full":
        n = full_matrix
        px = fov_mm / n
        dz = full_slice_mm
    else:
        fov = small_fov_mm or fov_mm
        n = int(round(fov / small_mm))
        px = small_mm
        dz = small_mm
    nz = int(round((z_range[1] - z_range[0]) / dz)) + 1
    x0 = centre_xy[0] - (n - 1) / 2 * px
    y0 = centre_xy[1] - (n - 1) / 2 * px
    return Grid(shape=(nz, n, n), spacing=(px, px, dz), origin=(x0, y0, z_range[0]))
