"""Geometry of a stack of DICOM slices, and its corrections (as dcm2niix does them).

Slices are ordered by the projection of ImagePositionPatient on the slice
normal (row x column direction of ImageOrientationPatient), never by file name
or InstanceNumber. :func:`plan_stack` then finds:

* duplicate positions (kept once, reported);
* gantry tilt: slices not stacked along their normal (in-plane offsets that
  grow along the stack). :func:`unshear` shifts each slice in-plane so the
  stack becomes an orthogonal grid, enlarging the matrix to hold the shifted
  slices (dcm2niix's ``_Tilt`` output does the same);
* uneven spacing and missing slices (gaps). :func:`resample_slices` puts the
  stack on a regular grid at the finest spacing present (linear between
  neighbouring slices, dcm2niix's ``_Eq`` output), or the loader refuses.

All positions are LPS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from surgiplan.core.errors import GeometryError
from surgiplan.core.imaging.dicom_headers import FrameHeader

#: two slices closer than this along the normal share a position (mm)
DUPLICATE_TOL_MM = 0.01
#: in-plane offsets smaller than this are not a tilt (mm)
SHEAR_TOL_MM = 0.05
#: a tilted stack's in-plane offsets grow linearly along the normal; a slice further than
#: this from that line (mm, or 2 pixels if more) has a damaged position
SHEAR_LINE_TOL_MM = 1.0
#: resampling uneven slices may make at most this many slices per acquired one (or
#: RESAMPLE_MAX_SLICES): beyond that a stray slice far from the others (a damaged
#: position) is far likelier than a real gap. dcm2niix's own reference of the shared
#: DICOMDIR CT (4 slices, one 202 mm away) resamples to 165 slices: 41 per slice.
RESAMPLE_MAX_FACTOR = 100
RESAMPLE_MAX_SLICES = 4096
#: pixel spacings outside (0, this] mm are damaged headers
MAX_PIXEL_SPACING_MM = 1000.0


@dataclass
class StackPlan:
    """How to turn the frames of a series into a regular LPS grid.

    ``order`` indexes the kept frames, sorted along ``normal``; ``z`` (mm) is
    each kept frame's position along the normal; ``shift_ij`` (voxels) the
    in-plane offset of each kept frame relative to the first (non-zero only
    under gantry tilt); ``origin`` is the LPS position of frame ``order[0]``.
    """

    order: list[int]
    z: np.ndarray
    shift_ij: np.ndarray
    row_dir: np.ndarray
    col_dir: np.ndarray
    normal: np.ndarray
    origin: np.ndarray
    spacing_ij: tuple[float, float]
    spacing_k: float
    regular: bool
    sheared: bool
    tilt_deg: float
    warnings: list[str] = field(default_factory=list)
    uneven_detail: str = ""
    finest_spacing: float | None = None

    @property
    def direction(self) -> np.ndarray:
        return np.column_stack([self.row_dir, self.col_dir, self.normal])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v)
    if not np.isfinite(n) or n < 1e-6:
        raise GeometryError("ImageOrientationPatient has a zero-length direction")
    return v / n


def _orientation(frames: list[FrameHeader]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ori = np.asarray(frames[0].orientation, dtype=float)
    u = _unit(ori[:3])
    v = _unit(ori[3:])
    dot = float(np.dot(u, v))
    if abs(dot) > 0.01:
        raise GeometryError(
            f"ImageOrientationPatient row and column directions are not perpendicular "
            f"(cosine {dot:.3f}) in {frames[0].path}",
            hint="The file's geometry is damaged.",
        )
    v = _unit(v - dot * u)  # tidy rounding of the stored cosines
    return u, v, np.cross(u, v)


def _fmt(p) -> str:
    return "(" + ", ".join(f"{x:.1f}" for x in p) + ")"


def plan_stack(frames: list[FrameHeader], default_spacing: float | None = None) -> StackPlan:
    """Sort, de-duplicate and check a series' frames; say what needs correcting.

    Frames without geometry are stacked in InstanceNumber order with an identity
    direction and a warning. Raises GeometryError for inconsistent orientation.
    """
    warnings: list[str] = []
    h0 = frames[0]
    ps = h0.pixel_spacing or (1.0, 1.0)
    si, sj = float(ps[1]), float(ps[0])
    if not all(0.0 < x <= MAX_PIXEL_SPACING_MM for x in (si, sj)):  # also False for NaN
        raise GeometryError(
            f"PixelSpacing {sj:g} \\ {si:g} mm is not a usable pixel size",
            path=h0.path,
            hint="The file's geometry is damaged; re-export the series or pick another one.",
        )
    if h0.pixel_spacing is None:
        warnings.append("no PixelSpacing: 1 mm pixels assumed")
    if any(f.position is None or f.orientation is None for f in frames):
        order = sorted(range(len(frames)), key=lambda k: (frames[k].instance_number or 0, k))
        thick = h0.spacing_between_slices or h0.slice_thickness or 1.0
        warnings.append(
            "no ImagePositionPatient/ImageOrientationPatient: slices stacked in instance-number "
            "order with an assumed axial orientation; positions are not patient coordinates"
        )
        n = len(order)
        return StackPlan(
            order=order,
            z=np.arange(n) * thick,
            shift_ij=np.zeros((n, 2)),
            row_dir=np.array([1.0, 0, 0]),
            col_dir=np.array([0, 1.0, 0]),
            normal=np.array([0, 0, 1.0]),
            origin=np.zeros(3),
            spacing_ij=(si, sj),
            spacing_k=float(thick),
            regular=True,
            sheared=False,
            tilt_deg=0.0,
            warnings=warnings,
        )
    u, v, n = _orientation(frames)
    for f in frames[1:]:
        if f.orientation == h0.orientation:
            continue
        fu, fv, _ = _orientation([f])
        if np.dot(fu, u) < 0.999 or np.dot(fv, v) < 0.999:
            raise GeometryError(
                f"slices of one series have different orientations ({f.path.name} differs from "
                f"{h0.path.name})",
                hint="Pick one orientation group of the series (scan list shows them as parts).",
            )
    pos = np.array([f.position for f in frames], dtype=float)
    d = pos @ n
    order = sorted(
        range(len(frames)), key=lambda k: (round(d[k], 4), frames[k].instance_number or 0, k)
    )
    # duplicates: same place along the normal and in-plane
    kept: list[int] = []
    dups: list[int] = []
    for k in order:
        if (
            kept
            and abs(d[k] - d[kept[-1]]) < DUPLICATE_TOL_MM
            and np.linalg.norm(pos[k] - pos[kept[-1]]) < 0.1
        ):
            dups.append(k)
            continue
        kept.append(k)
    if dups:
        where = ", ".join(_fmt(pos[k]) for k in dups[:3]) + (" ..." if len(dups) > 3 else "")
        warnings.append(
            f"{len(dups)} slice(s) repeat the position of another slice (at LPS {where} mm): "
            "kept the first of each by instance number, dropped "
            + ", ".join(
                frames[k].path.name
                + (f"[frame {frames[k].frame}]" if frames[k].n_frames > 1 else "")
                for k in dups[:5]
            )
            + (" ..." if len(dups) > 5 else "")
        )
    order = kept
    z = d[order]
    rel = pos[order] - pos[order[0]]
    inplane = rel - np.outer(rel @ n, n)
    shift_ij = np.column_stack([inplane @ u / si, inplane @ v / sj])
    sheared = bool(len(order) > 1 and np.max(np.linalg.norm(inplane, axis=1)) > SHEAR_TOL_MM)
    tilt = 0.0
    if sheared:
        _check_shear_is_a_tilt(frames, order, z, inplane, min(si, sj))
        span = z[-1] - z[0]
        tilt = (
            float(np.degrees(np.arctan2(np.linalg.norm(inplane[-1]), span))) if span > 0 else 90.0
        )
        stated = h0.gantry_tilt_deg
        warnings.append(
            f"gantry tilt: slices are stacked at {tilt:.1f} deg to their normal "
            f"(GantryDetectorTilt {stated:+.1f} deg); each slice was shifted in-plane "
            "(linear interpolation) onto an orthogonal grid, as dcm2niix does"
        )
    plan = StackPlan(
        order=order,
        z=z,
        shift_ij=shift_ij,
        row_dir=u,
        col_dir=v,
        normal=n,
        origin=pos[order[0]],
        spacing_ij=(si, sj),
        spacing_k=1.0,
        regular=True,
        sheared=sheared,
        tilt_deg=tilt,
        warnings=warnings,
    )
    if len(order) == 1:
        plan.spacing_k = float(
            default_spacing or h0.spacing_between_slices or h0.slice_thickness or 1.0
        )
        return plan
    gaps = np.diff(z)
    med = float(np.median(gaps))
    tol = max(0.02, 0.01 * med)
    if float(np.max(np.abs(gaps - med))) <= tol:
        plan.spacing_k = float((z[-1] - z[0]) / (len(z) - 1))
        return plan
    plan.regular = False
    finest = float(max(gaps.min(), 0.2 * med))
    plan.finest_spacing = finest
    plan.spacing_k = finest
    n_out = resampled_count(z, finest)
    if n_out > max(RESAMPLE_MAX_FACTOR * len(z), RESAMPLE_MAX_SLICES):
        k = int(np.argmax(gaps))
        a, b = frames[order[k]], frames[order[k + 1]]
        raise GeometryError(
            f"the slices do not form one stack: {a.path.name} and {b.path.name} are "
            f"{gaps[k]:.1f} mm apart (median spacing {med:.2f} mm); resampling would make "
            f"{n_out} slices out of {len(z)}",
            path=b.path,
            hint="A slice position is damaged or a stray file belongs to another scan; "
            "remove it or pick another series.",
        )
    missing = []
    for k, g in enumerate(gaps):
        m = g / med
        if m > 1.5 and abs(m - round(m)) < 0.1:
            missing.append(
                f"between slice {k + 1} at LPS {_fmt(pos[order[k]])} and slice {k + 2} at "
                f"{_fmt(pos[order[k + 1]])} mm ({g:.2f} mm gap, about {round(m) - 1} slice(s) missing)"
            )
    if missing:
        warnings.append(
            "missing slices " + "; ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        )
    plan.uneven_detail = (
        f"slice spacing varies from {gaps.min():.2f} to {gaps.max():.2f} mm (median {med:.2f} mm)"
    )
    return plan


def _check_shear_is_a_tilt(frames, order, z, inplane, pixel_mm: float) -> None:
    """GeometryError naming the slice whose in-plane offset is off the tilt's straight line.

    Under gantry tilt the offset of slice k is (z_k - z_0) tan(tilt) along one in-plane
    direction: a straight line through slice 0. A damaged ImagePositionPatient (one
    slice a kilometre to the side) is not a tilt, and correcting it as one would build a
    canvas of millions of pixels.
    """
    dz = z - z[0]
    denom = float(dz @ dz)
    if denom <= 0:
        return
    slope = (dz @ inplane) / denom  # least squares through slice 0
    resid = np.linalg.norm(inplane - np.outer(dz, slope), axis=1)
    tol = max(SHEAR_LINE_TOL_MM, 2.0 * pixel_mm)
    k = int(np.argmax(resid))
    if resid[k] > tol:
        f = frames[order[k]]
        raise GeometryError(
            f"slice positions are inconsistent: {f.path.name} is {resid[k]:.1f} mm off the "
            "straight line the other slices' ImagePositionPatient follow (not a gantry tilt)",
            path=f.path,
            hint="The file's position is damaged; remove it or pick another series.",
        )


def shear_extent(shift_ij: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi): whole-voxel (i, j) range the tilt-corrected grid adds around slice 0's grid.

    The corrected grid starts ``lo`` voxels from slice 0's first pixel (lo <= 0: it is
    enlarged towards negative i/j when slices are offset that way) and has
    ``hi - lo`` more columns/rows than the acquired slices.
    """
    lo = np.floor(shift_ij.min(axis=0) + 1e-3)
    hi = np.ceil(shift_ij.max(axis=0) - 1e-3)
    return lo, hi


def resampled_count(z: np.ndarray, spacing: float) -> int:
    """Number of slices :func:`resample_slices` makes from positions ``z`` at ``spacing``."""
    return int(np.floor((z[-1] - z[0]) / spacing + 1e-6)) + 1


@dataclass(frozen=True)
class OutputGrid:
    """The grid the loader builds from a plan, known from headers alone."""

    size_ijk: tuple[int, int, int]
    origin: np.ndarray
    spacing: tuple[float, float, float]
    direction: np.ndarray


def output_grid(plan: StackPlan, rows: int, cols: int) -> OutputGrid:
    """Size, origin and spacing of the volume the loader makes (after tilt and spacing fixes).

    The tilt correction enlarges each slice by the in-plane offsets (:func:`shear_extent`)
    and moves the origin by ``lo`` voxels along the row and column directions; uneven
    spacing becomes :func:`resampled_count` slices at the finest spacing.
    """
    si, sj = plan.spacing_ij
    origin = np.asarray(plan.origin, dtype=float)
    ni, nj = cols, rows
    if plan.sheared:
        lo, hi = shear_extent(plan.shift_ij)
        ni += int(hi[0] - lo[0])
        nj += int(hi[1] - lo[1])
        origin = origin + lo[0] * si * plan.row_dir + lo[1] * sj * plan.col_dir
    nk = len(plan.order) if plan.regular else resampled_count(plan.z, plan.spacing_k)
    return OutputGrid((ni, nj, nk), origin, (si, sj, plan.spacing_k), plan.direction)


def unshear(stack: np.ndarray, shift_ij: np.ndarray, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """Shift each slice in-plane by ``-shift_ij`` so the stack is orthogonal.

    ``stack`` is [k, j, i]; ``shift_ij`` (k, 2) the in-plane offset (voxels, i and j)
    of each slice relative to the first. Returns (new float32 stack enlarged to hold
    every shifted slice, (i, j) voxel offset of the new voxel (0, 0) in slice 0's grid).
    Linear interpolation; outside the acquired slice the value is ``fill``.
    """
    from scipy import ndimage

    lo, hi = shear_extent(shift_ij)
    nk, nj, ni = stack.shape
    ext_i = int(hi[0] - lo[0])
    ext_j = int(hi[1] - lo[1])
    out = np.empty((nk, nj + ext_j, ni + ext_i), dtype=np.float32)
    canvas = np.full((nj + ext_j, ni + ext_i), fill, dtype=np.float32)
    for k in range(nk):
        canvas.fill(fill)
        canvas[:nj, :ni] = stack[k]
        si = shift_ij[k, 0] - lo[0]
        sj = shift_ij[k, 1] - lo[1]
        ndimage.shift(
            canvas, (sj, si), output=out[k], order=1, mode="constant", cval=fill, prefilter=False
        )
    return out, lo


def resample_slices(
    stack: np.ndarray, z: np.ndarray, spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of slices at positions ``z`` (mm, ascending) onto a regular grid.

    Returns (float32 stack, new positions z0 + m * spacing). Each output slice
    blends the two acquired slices around it; acquired slices are reproduced
    exactly where the grid meets them.
    """
    n_out = resampled_count(z, spacing)
    zn = z[0] + spacing * np.arange(n_out)
    out = np.empty((n_out,) + stack.shape[1:], dtype=np.float32)
    idx = np.clip(np.searchsorted(z, zn, side="right") - 1, 0, len(z) - 2)
    for m in range(n_out):
        a = idx[m]
        w = (zn[m] - z[a]) / (z[a + 1] - z[a])
        w = min(max(w, 0.0), 1.0)
        if w < 1e-6:
            out[m] = stack[a]
        elif w > 1 - 1e-6:
            out[m] = stack[a + 1]
        else:
            np.multiply(stack[a], 1.0 - w, out=out[m], casting="unsafe")
            out[m] += w * stack[a + 1].astype(np.float32)
    return out, zn
