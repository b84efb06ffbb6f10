"""Oblique and curved reformats: the volume resampled on a plane or along a curve (LPS mm).

A reformat is a 2D image whose pixel ``[r, c]`` lies at the world point
``origin + c * spacing * col_dir + r * spacing * row_dir`` (LPS mm; square
pixels of ``spacing`` mm). Values are interpolated with
``scipy.ndimage.map_coordinates`` (linear by default) at the continuous voxel
indices that :meth:`Volume.world_to_index` gives, so any scan orientation
(direction matrix) and anisotropic spacing come out right; outside the scan is
``fill`` (air, -1024 HU).

* :func:`oblique_slice`: a plane through ``centre`` with normal ``normal``;
* :func:`cross_section`: the plane perpendicular to a line (a screw's axis, a vessel's
  centreline segment, two clicked points) at a point along it;
* :func:`along_line`: the plane containing the line (the screw's trajectory seen from the side);
* :func:`curved_reformat`: a straightened curved planar reformat along a polyline (a
  centreline): each image row is one step along the curve, each column one step across it.

Screen orientation: ``col_dir`` runs left to right and ``row_dir`` top to bottom, chosen so
that the image's up (``-row_dir``) is as close as possible to the patient's superior (+z) or,
for a near-axial plane, anterior (-y), as a radiologist expects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.volume import Volume

#: Value outside the scan (HU of air).
FILL = -1024.0


@dataclass(frozen=True)
class Reformat:
    """A resampled 2D image and where its pixels are (LPS mm).

    ``image`` [rows, cols] float32; ``origin`` the centre of pixel [0, 0]; ``row_dir`` and
    ``col_dir`` unit vectors (LPS) of increasing row and column; ``spacing`` mm per pixel;
    ``normal`` = col_dir x row_dir for a plane (for a curved reformat the local normal varies).
    """

    image: np.ndarray
    origin: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    spacing: float
    normal: np.ndarray
    description: str = ""

    def pixel_to_world(self, rc) -> np.ndarray:
        """World points (LPS mm) of pixel coordinates ``(row, col)`` (N x 2 or 2)."""
        rc = np.asarray(rc, float)
        return (self.origin + rc[..., 1:2] * self.spacing * self.col_dir
                + rc[..., 0:1] * self.spacing * self.row_dir)

    def world_to_pixel(self, xyz) -> np.ndarray:
        """Pixel coordinates ``(row, col)`` of world points (projected onto the plane)."""
        d = np.asarray(xyz, float) - self.origin
        return np.stack([d @ self.row_dir, d @ self.col_dir], axis=-1) / self.spacing


def _unit(v, what: str) -> np.ndarray:
    v = np.asarray(v, float).reshape(3)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n < 1e-9:
        raise InputError(f"reformat: {what} has no length (got {v.tolist()})")
    return v / n


def plane_axes(normal, up_hint=None) -> tuple[np.ndarray, np.ndarray]:
    """(col_dir, row_dir) of a plane with unit ``normal``: image up (-row_dir) nearest ``up_hint``
    (default: superior +z, or anterior -y when the plane is nearly axial)."""
    n = _unit(normal, "plane normal")
    if up_hint is None:
        up_hint = (0.0, 0.0, 1.0) if abs(n[2]) < 0.9 else (0.0, -1.0, 0.0)
    up = np.asarray(up_hint, float) - (np.asarray(up_hint, float) @ n) * n
    if np.linalg.norm(up) < 1e-6:  # hint along the normal: take any perpendicular
        up = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    up /= np.linalg.norm(up)
    row = -up
    col = np.cross(row, n)  # so that col x row = n
    return col / np.linalg.norm(col), row


def _sample(volume: Volume, pts: np.ndarray, order: int, fill: float) -> np.ndarray:
    """Interpolated values at world points ``pts`` [..., 3] (LPS mm)."""
    ijk = volume.world_to_index(pts.reshape(-1, 3))
    coords = ijk[:, ::-1].T  # array is [k, j, i]
    arr = volume.array
    out = ndimage.map_coordinates(arr, coords, order=order, mode="constant", cval=fill, prefilter=order > 1,
                                  output=np.float32)
    return out.reshape(pts.shape[:-1])


def _check(volume: Volume, size_mm, spacing_mm, order: int) -> tuple[float, float, float]:
    if spacing_mm is None:
        spacing_mm = float(min(volume.spacing))
    w, h = (float(s) for s in size_mm)
    if not (np.isfinite(spacing_mm) and spacing_mm > 0):
        raise InputError(f"reformat: pixel spacing must be > 0 mm, got {spacing_mm}")
    if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
        raise InputError(f"reformat: size must be two lengths > 0 mm, got {size_mm}")
    if w / spacing_mm * h / spacing_mm > 4096**2:
        raise InputError(f"reformat: {w:g} x {h:g} mm at {spacing_mm:g} mm is more than 4096^2 pixels",
                         hint="Use a larger spacing or a smaller size.")
    if order not in (0, 1, 3):
        raise InputError(f"reformat: interpolation order must be 0, 1 or 3, got {order}")
    return float(spacing_mm), w, h


def oblique_slice(volume: Volume, centre, normal, *, up_hint=None, size_mm=(200.0, 200.0),
                  spacing_mm: float | None = None, order: int = 1, fill: float = FILL) -> Reformat:
    """The plane through ``centre`` (LPS mm) with ``normal``, ``size_mm`` (width, height) mm wide,
    pixels of ``spacing_mm`` (default: the scan's smallest spacing), centred on ``centre``."""
    sp, w, h = _check(volume, size_mm, spacing_mm, order)
    c = np.asarray(centre, float).reshape(3)
    if not np.all(np.isfinite(c)):
        raise InputError(f"reformat: centre must be three finite numbers (LPS mm), got {c.tolist()}")
    n = _unit(normal, "plane normal")
    col, row = plane_axes(n, up_hint)
    nc, nr = max(1, int(round(w / sp))), max(1, int(round(h / sp)))
    origin = c - 0.5 * (nc - 1) * sp * col - 0.5 * (nr - 1) * sp * row
    r, cc = np.mgrid[0:nr, 0:nc].astype(float)
    pts = origin + cc[..., None] * sp * col + r[..., None] * sp * row
    img = _sample(volume, pts, order, fill)
    return Reformat(img, origin, row, col, sp, n, f"oblique plane through {np.round(c, 1).tolist()} mm")


def _line(p0, p1) -> tuple[np.ndarray, np.ndarray, float]:
    a, b = np.asarray(p0, float).reshape(3), np.asarray(p1, float).reshape(3)
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise InputError("reformat: line points must be finite numbers (LPS mm)")
    d = b - a
    length = float(np.linalg.norm(d))
    if length < 1e-6:
        raise GeometryError("reformat: the two points of the line coincide; pick two distinct points")
    return a, d / length, length


def cross_section(volume: Volume, p0, p1, *, at: float = 0.5, size_mm: float = 80.0,
                  spacing_mm: float | None = None, up_hint=None, order: int = 1, fill: float = FILL) -> Reformat:
    """The plane perpendicular to the line ``p0`` -> ``p1`` at fraction ``at`` along it (0: p0, 1: p1),
    ``size_mm`` square: a vessel's or screw's cross-section."""
    a, d, length = _line(p0, p1)
    out = oblique_slice(volume, a + at * length * d, d, up_hint=up_hint, size_mm=(size_mm, size_mm),
                        spacing_mm=spacing_mm, order=order, fill=fill)
    return Reformat(out.image, out.origin, out.row_dir, out.col_dir, out.spacing, out.normal,
                    f"cross-section at {at * length:.1f} mm of {length:.1f} mm along the line")


def along_line(volume: Volume, p0, p1, *, width_mm: float = 80.0, margin_mm: float = 20.0,
               spacing_mm: float | None = None, toward=None, order: int = 1, fill: float = FILL) -> Reformat:
    """The plane containing the line ``p0`` -> ``p1``: rows run from p0 (top) to p1 (+ ``margin_mm``
    each end), columns across it (``width_mm``). The plane holds the line and, as nearly as
    possible, the direction ``toward`` (default: patient left-right, or anterior-posterior for a
    line running left-right), so a pedicle screw is seen in its axial-oblique plane."""
    a, d, length = _line(p0, p1)
    if toward is None:
        toward = (1.0, 0.0, 0.0) if abs(d[0]) < 0.9 else (0.0, 1.0, 0.0)
    t = np.asarray(toward, float) - (np.asarray(toward, float) @ d) * d
    if np.linalg.norm(t) < 1e-6:
        t = np.cross(d, [0.0, 0.0, 1.0] if abs(d[2]) < 0.9 else [1.0, 0.0, 0.0])
    col = t / np.linalg.norm(t)
    row = d
    sp, w, h = _check(volume, (width_mm, length + 2 * margin_mm), spacing_mm, order)
    nc, nr = max(1, int(round(w / sp))), max(1, int(round(h / sp)) + 1)
    origin = a - margin_mm * row - 0.5 * (nc - 1) * sp * col
    r, cc = np.mgrid[0:nr, 0:nc].astype(float)
    pts = origin + cc[..., None] * sp * col + r[..., None] * sp * row
    img = _sample(volume, pts, order, fill)
    return Reformat(img, origin, row, col, sp, np.cross(col, row),
                    f"plane along the line ({length:.1f} mm), rows from the first point")


def curved_reformat(volume: Volume, curve, *, width_mm: float = 60.0, spacing_mm: float | None = None,
                    toward=None, order: int = 1, fill: float = FILL) -> Reformat:
    """Straightened curved planar reformat along the polyline ``curve`` (N x 3, LPS mm).

    Row ``r`` samples the curve at arc length ``r * spacing``; its columns run across the curve
    along the direction ``toward`` (default left-right) made perpendicular to the local tangent
    (parallel-transported, so the image does not twist). ``origin``, ``row_dir`` and ``col_dir``
    describe the first row only; the image's rows are 1 pixel = ``spacing`` mm of arc.
    """
    p = np.asarray(curve, float)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 2 or not np.all(np.isfinite(p)):
        raise InputError("reformat: a curve is at least two finite X,Y,Z points (LPS mm)")
    seg = np.linalg.norm(np.diff(p, axis=0), axis=1)
    keep = np.r_[True, seg > 1e-9]
    p = p[keep]
    if len(p) < 2:
        raise GeometryError("reformat: the curve's points all coincide")
    s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))]
    sp, w, _ = _check(volume, (width_mm, s[-1] if s[-1] > 0 else 1.0), spacing_mm, order)
    nr = int(np.floor(s[-1] / sp + 1e-6)) + 1
    at = np.arange(nr) * sp
    centres = np.stack([np.interp(at, s, p[:, a]) for a in range(3)], axis=1)
    tang = np.stack([np.interp(at, 0.5 * (s[1:] + s[:-1]), np.diff(p[:, a]) / np.diff(s)) for a in range(3)], axis=1)
    tang /= np.linalg.norm(tang, axis=1, keepdims=True)
    if toward is None:
        toward = (1.0, 0.0, 0.0) if abs(tang[0, 0]) < 0.9 else (0.0, 1.0, 0.0)
    v = np.asarray(toward, float) - (np.asarray(toward, float) @ tang[0]) * tang[0]
    if np.linalg.norm(v) < 1e-6:
        v = np.cross(tang[0], [0.0, 0.0, 1.0])
    across = np.empty_like(tang)
    across[0] = v / np.linalg.norm(v)
    for r in range(1, nr):  # parallel transport: remove the new tangent's component, renormalise
        u = across[r - 1] - (across[r - 1] @ tang[r]) * tang[r]
        across[r] = u / np.linalg.norm(u)
    nc = max(1, int(round(w / sp)))
    offs = (np.arange(nc) - 0.5 * (nc - 1)) * sp
    pts = centres[:, None, :] + offs[None, :, None] * across[:, None, :]
    img = _sample(volume, pts, order, fill)
    return Reformat(img, pts[0, 0], tang[0], across[0], sp, np.cross(across[0], tang[0]),
                    f"curved reformat along {s[-1]:.1f} mm")
