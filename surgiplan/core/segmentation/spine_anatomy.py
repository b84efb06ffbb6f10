"""Vertebrae of a clinical CT found by anatomy: spinal canal, body column, discs, levels.

1. **Spinal canal** (:func:`track_canal`): in each axial slice, the dark (CSF, < ``csf_hu``)
   holes enclosed by bone whose strip in front (5-40 mm anterior) is mostly bone (the
   vertebral body; a marrow cavity has soft tissue in front of its cortex). Slices without
   a closed ring (between the arches, at the discs) are interpolated; outliers more than
   ``jump_mm`` from the running median are dropped.
2. **Body column** (:func:`body_curve`): in front of the canal, the centroid of the solid bone
   within 25 mm of the midline; slices at a disc take the interpolated centre. The curve
   follows the lordosis and the sacrum's tilt.
3. **Discs** (:func:`find_discs`): the mean CT over a 7 mm disc perpendicular to the curve,
   sampled every mm of arc length; a disc is a minimum at least ``min_dip_hu`` below the
   bodies on both sides, at least ``min_level_mm`` from the next one. Measured along the
   curve, so the tilted L5-S1 disc is seen as a gap, not smeared over axial slices.
4. **Levels** (:func:`name_levels`): the lowest body segment is the sacrum when its bone is
   wide (alae + iliac wings, > ``sacrum_width_mm`` across the body centre); vertebrae are
   counted up from it (L5, L4, ..., L1, T12, ...). Without a sacrum in view they are named
   from the ribs (the lowest level with ribs is T12) when ribs are seen, else only numbered.
5. **Split** (:func:`split_vertebrae`): a marker-controlled watershed on the negated smoothed
   CT inside the solid bone, from each body's core (away from its discs) and from the ribs
   and iliac bone (far lateral): fronts run along bright cortex through the pedicles into
   the arches and meet in the dark facet and costovertebral joints.

Index space [k, j, i]; mm from the spacing; patient directions from
:func:`surgiplan.core.segmentation.scan_axes.axis_signs`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report
from surgiplan.core.segmentation import islands


@dataclass
class SpineFrame:
    """The spine's curve in index space: canal and body centres per axial slice (NaN: none)."""

    canal: np.ndarray  # (nk, 2) j, i of the canal centre
    body: np.ndarray  # (nk, 2) j, i of the vertebral body column
    seen: np.ndarray  # (nk,) bool: canal found in that slice (not interpolated)


@dataclass
class Level:
    """One body segment between two discs along the curve (arc length in mm)."""

    name: str
    s_lo: float
    s_hi: float
    points: np.ndarray = field(repr=False)  # (n, 3) k, j, i of the curve inside the segment


def _interp_nan(v: np.ndarray) -> np.ndarray:
    """Fill NaNs by linear interpolation, constant beyond the ends."""
    v = v.copy()
    ok = np.isfinite(v)
    if ok.sum() == 0:
        return v
    x = np.arange(len(v))
    v[~ok] = np.interp(x[~ok], x[ok], v[ok])
    return v


def track_canal(img: np.ndarray, bone: np.ndarray, sp: np.ndarray, ant_sign: int, *, csf_hu: float = 80.0,
                area_mm2=(30.0, 900.0), jump_mm: float = 12.0, body: np.ndarray | None = None,
                midline_mm: float = 35.0) -> SpineFrame:
    """Canal centre (j, i) per axial slice; see the module docstring.

    ``img``: smoothed CT; ``bone``: dense bone (cortex) mask; ``sp``: spacing (k, j, i) mm;
    ``ant_sign``: -1 when anterior is toward smaller j (LPS +y posterior), else +1; ``body``:
    the patient (the canal lies within ``midline_mm`` of its midline, in its posterior half).
    """
    nk = img.shape[0]
    px = float(sp[1] * sp[2])
    canal = np.full((nk, 2), np.nan)
    score_best = np.zeros(nk)
    st = ndimage.generate_binary_structure(2, 1)
    for k in range(nk):
        b = bone[k]
        if not b.any():
            continue
        mid_i = mid_j = None
        if body is not None and body[k].any():
            mid_j, mid_i = ndimage.center_of_mass(body[k])
        b = ndimage.binary_closing(b, st, iterations=1)
        holes = ndimage.binary_fill_holes(b) & ~b & (img[k] < csf_hu)
        lab, n = ndimage.label(holes)
        if n == 0:
            continue
        areas = ndimage.sum_labels(holes, lab, np.arange(1, n + 1)) * px
        cents = ndimage.center_of_mass(holes, lab, np.arange(1, n + 1))
        for area, (cj, ci) in zip(areas, cents, strict=True):
            if not area_mm2[0] <= area <= area_mm2[1]:
                continue
            if mid_i is not None and (abs(ci - mid_i) * sp[2] > midline_mm or (cj - mid_j) * ant_sign > 0):
                continue  # off the midline or in the anterior half of the body
            score = _strip(bone[k], cj, ci, ant_sign, 5.0, 40.0, sp)
            score += 0.5 * _strip(bone[k], cj, ci, -ant_sign, 5.0, 25.0, sp)
            if score <= 0.2:
                continue
            # a dark marrow cavity also has bone in front: the canal is the most posterior hole
            post = -ant_sign * cj
            if not np.isfinite(canal[k, 0]) or post > -ant_sign * canal[k, 0] + 3.0 / sp[1]:
                score_best[k] = score
                canal[k] = (cj, ci)
    seen = np.isfinite(canal[:, 0])
    if seen.sum() < 3:
        raise InputError("spine-bones: no spinal canal found (a dark tube inside the vertebral rings)",
                         hint="Check that the scan shows the spine, or place seeds on the vertebrae.")
    # drop outliers against the running median of the seen slices
    for a in range(2):
        med = ndimage.median_filter(_interp_nan(canal[:, a]), size=7, mode="nearest")
        bad = np.abs(canal[:, a] - med) * sp[1 + a] > jump_mm
        canal[bad] = np.nan
    seen = np.isfinite(canal[:, 0])
    for a in range(2):
        canal[:, a] = ndimage.uniform_filter1d(_interp_nan(canal[:, a]), 3, mode="nearest")
    return SpineFrame(canal=canal, body=np.full((nk, 2), np.nan), seen=seen)


def steady_ends(frame: SpineFrame, sp: np.ndarray, n_near: int = 5, jump_mm: float = 6.0) -> SpineFrame:
    """The canal with every seen slice more than ``jump_mm`` from the median of its ``n_near``
    nearest seen slices dropped (a sacral foramen taken for the canal at the end of the track,
    where the running median of :func:`track_canal` has no neighbours on one side), then
    interpolated again (constant beyond the ends)."""
    ks = np.nonzero(frame.seen)[0]
    if len(ks) <= n_near:
        return frame
    keep = np.ones(len(ks), bool)
    for n, k in enumerate(ks):
        near = ks[np.argsort(np.abs(ks - k))[1:n_near + 1]]
        med = np.median(frame.canal[near], axis=0)
        keep[n] = np.all(np.abs(frame.canal[k] - med) * sp[1:] <= jump_mm)
    canal = np.full_like(frame.canal, np.nan)
    canal[ks[keep]] = frame.canal[ks[keep]]
    for a in range(2):
        canal[:, a] = _interp_nan(canal[:, a])
    seen = np.zeros_like(frame.seen)
    seen[ks[keep]] = True
    return SpineFrame(canal=canal, body=frame.body, seen=seen)


def disc_slabs(img: np.ndarray, pts: np.ndarray, tan: np.ndarray, discs, sp: np.ndarray, *, hu: float,
               half_mm: float = 3.0, radius_mm: float = 28.0) -> np.ndarray:
    """Voxels of the discs: within ``half_mm`` of each disc's plane (normal to the body curve at
    arc index ``discs``), within ``radius_mm`` of the curve, and darker than ``hu``."""
    out = np.zeros(img.shape, bool)
    for d in discs:
        c, t = pts[d], tan[d]
        lo = np.maximum(0, np.floor(c - (radius_mm + half_mm) / sp).astype(int))
        hi = np.minimum(img.shape, np.ceil(c + (radius_mm + half_mm) / sp).astype(int) + 1)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        g = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), -1)
        v = (g - c) * sp
        along = v @ t
        across = np.linalg.norm(v - along[..., None] * t, axis=-1)
        out[box] |= (np.abs(along) <= half_mm) & (across <= radius_mm) & (img[box] < hu)
    return out


def _strip(bone2d: np.ndarray, cj: float, ci: float, sign: int, d0: float, d1: float, sp: np.ndarray,
           half_mm: float = 8.0) -> float:
    """Fraction of bone in the strip ``d0``..``d1`` mm from (cj, ci) along j (``sign``), +-``half_mm``."""
    j0, j1 = cj + sign * d0 / sp[1], cj + sign * d1 / sp[1]
    jl, jh = int(max(0, min(j0, j1))), int(min(bone2d.shape[0], max(j0, j1) + 1))
    il, ih = int(max(0, ci - half_mm / sp[2])), int(min(bone2d.shape[1], ci + half_mm / sp[2] + 1))
    if jh <= jl or ih <= il:
        return 0.0
    return float(bone2d[jl:jh, il:ih].mean())


def body_curve(frame: SpineFrame, solid: np.ndarray, sp: np.ndarray, ant_sign: int,
               half_width_mm: float = 22.0, depth_mm: float = 55.0) -> np.ndarray:
    """Centre (j, i) of the vertebral body column per slice (interpolated across the discs)."""
    nk = solid.shape[0]
    body = np.full((nk, 2), np.nan)
    area = np.zeros(nk)
    for k in range(nk):
        cj, ci = frame.canal[k]
        if not np.isfinite(cj):
            continue
        j0, j1 = cj + ant_sign * 3.0 / sp[1], cj + ant_sign * depth_mm / sp[1]
        jl, jh = int(max(0, min(j0, j1))), int(min(solid.shape[1], max(j0, j1) + 1))
        il, ih = int(max(0, ci - half_width_mm / sp[2])), int(min(solid.shape[2], ci + half_width_mm / sp[2] + 1))
        win = solid[k, jl:jh, il:ih]
        if win.sum() * sp[1] * sp[2] < 150.0:  # < 1.5 cm^2 of bone: a disc level
            continue
        lab, n = ndimage.label(win)
        sizes = ndimage.sum_labels(win, lab, np.arange(1, n + 1))
        big = lab == (int(np.argmax(sizes)) + 1)
        cj2, ci2 = ndimage.center_of_mass(big)
        body[k] = (cj2 + jl, ci2 + il)
        area[k] = big.sum() * sp[1] * sp[2]
    if np.isfinite(body[:, 0]).sum() < 2:
        raise InputError("spine-bones: no vertebral body found in front of the spinal canal")
    for a in range(2):
        body[:, a] = ndimage.uniform_filter1d(_interp_nan(body[:, a]), 5, mode="nearest")
    frame.body = body
    return body


def curve_samples(body: np.ndarray, sp: np.ndarray, step_mm: float = 1.0):
    """Points (n, 3) k, j, i every ``step_mm`` of arc length along the body curve, their unit
    tangents (mm) and arc lengths (mm)."""
    nk = body.shape[0]
    pts = np.column_stack([np.arange(nk, dtype=float), body])
    mm = pts * sp
    seg = np.linalg.norm(np.diff(mm, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    st = np.arange(0.0, s[-1] + 1e-9, step_mm)
    res = np.column_stack([np.interp(st, s, pts[:, a]) for a in range(3)])
    tan = np.gradient(res * sp, axis=0)
    tan /= np.maximum(np.linalg.norm(tan, axis=1, keepdims=True), 1e-9)
    return res, tan, st


def profile(img: np.ndarray, pts: np.ndarray, tan: np.ndarray, sp: np.ndarray, radius_mm: float = 7.0):
    """Mean CT over a disc of ``radius_mm`` perpendicular to the curve at each point."""
    helper = np.where(np.abs(tan[:, 2:3]) < 0.9, np.array([[0, 0, 1.0]]), np.array([[0, 1.0, 0]]))
    u = np.cross(tan, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    w = np.cross(tan, u)
    offs = [(0.0, 0.0)]
    for r in np.arange(2.0, radius_mm + 1e-6, 2.0):
        n = max(6, int(2 * np.pi * r / 2.0))
        offs += [(r * np.cos(t), r * np.sin(t)) for t in np.linspace(0, 2 * np.pi, n, endpoint=False)]
    offs = np.array(offs)
    mm = pts * sp
    samp = mm[:, None, :] + offs[None, :, 0:1] * u[:, None, :] + offs[None, :, 1:2] * w[:, None, :]
    idx = (samp / sp).reshape(-1, 3).T
    vals = ndimage.map_coordinates(img, idx, order=1, mode="nearest").reshape(len(pts), len(offs))
    return vals.mean(axis=1)


def find_discs(prof: np.ndarray, step_mm: float = 1.0, *, min_dip_hu: float = 40.0,
               min_level_mm: float = 22.0) -> np.ndarray:
    """Arc-length indices of the disc minima of ``prof`` (see the module docstring): dips of at
    least ``min_dip_hu`` or a fifth of the bodies' contrast to soft tissue, whichever is larger."""
    f = ndimage.gaussian_filter1d(prof, 1.0 / step_mm)
    bodies = float(np.percentile(f, 75))
    dip = max(min_dip_hu, (bodies - 40.0) / 5.0)
    peaks, _ = signal.find_peaks(-f, prominence=dip, distance=max(1, int(min_level_mm / step_mm)))
    return peaks


def find_discs_narrow(prof: np.ndarray, step_mm: float = 1.0, *, width_mm: float = 11.0, min_dip_hu: float = 15.0,
                      min_level_mm: float = 22.0) -> np.ndarray:
    """Arc-length indices of the discs of an osteoporotic spine: dips of ``prof`` narrower than
    ``width_mm`` (a grey closing's black top-hat at least ``min_dip_hu`` or a tenth of the bodies'
    contrast to soft tissue deep).

    Low-density vertebral bodies are darkest in their centre (cancellous bone ~100 HU, as dark as
    a disc): a plain dip also finds every mid-body. A disc is a narrow dip between the bright
    endplates (a 3-8 mm gap); a hollow body is a broad one (20-30 mm) and the top-hat ignores it.
    """
    f = ndimage.gaussian_filter1d(prof, 1.0 / step_mm)
    bodies = float(np.percentile(f, 75))
    size = max(3, int(round(width_mm / step_mm)))
    hat = ndimage.grey_closing(f, size=size) - f
    peaks, _ = signal.find_peaks(hat, height=max(min_dip_hu, (bodies - 40.0) / 10.0),
                                 distance=max(1, int(min_level_mm / step_mm)))
    return peaks


def bone_span(prof: np.ndarray, min_hu: float = 120.0, step_mm: float = 1.0, run_mm: float = 10.0,
              longest: bool = False):
    """(first, last) arc index of the curve inside bone: the ends where the profile stays below
    ``min_hu`` for ``run_mm`` or more (the curve extrapolated beyond the spine) are cut off.
    ``longest``: the longest such run of bone only (a curve extrapolated below the sacrum through
    soft tissue into other bone)."""
    f = ndimage.gaussian_filter1d(prof, 2.0 / step_mm)
    inside = ndimage.binary_closing(f >= min_hu, iterations=int(run_mm / step_mm))
    if longest and inside.any():
        lab, n = ndimage.label(inside)
        inside = lab == 1 + int(np.argmax(ndimage.sum_labels(inside, lab, np.arange(1, n + 1))))
    idx = np.nonzero(inside)[0]
    if not len(idx):
        return 0, len(prof) - 1
    return int(idx[0]), int(idx[-1])


def bone_width_mm(solid: np.ndarray, kji, sp: np.ndarray, band_mm: float = 4.0) -> float:
    """Length (mm) along i of the contiguous run of solid bone through the point, max over
    the rows within ``band_mm`` of it."""
    k, j, i = (int(round(v)) for v in kji)
    k = min(max(k, 0), solid.shape[0] - 1)
    best = 0
    dj = int(np.ceil(band_mm / sp[1]))
    for jj in range(max(0, j - dj), min(solid.shape[1], j + dj + 1)):
        row = solid[k, jj]
        if not row[min(max(i, 0), row.size - 1)]:
            continue
        lab, _ = ndimage.label(row)
        best = max(best, int((lab == lab[i]).sum()))
    return best * float(sp[2])


def name_levels(n_segments: int, sacrum: bool, rib_levels: list[bool] | None = None) -> list[str]:
    """Names for body segments ordered inferior to superior.

    With a sacrum (segment 0): sacrum, L5, L4, ..., L1, T12, ... . Without: the lowest level
    with ribs (``rib_levels``) is T12 and the vertebrae below it L1.. down; without ribs,
    levels are counted down from L1 at the top (a lumbar scan).
    """
    lumbar_thoracic = [f"L{n}" for n in range(5, 0, -1)] + [f"T{n}" for n in range(12, 0, -1)]
    if sacrum:
        return ["sacrum"] + lumbar_thoracic[: n_segments - 1]
    if rib_levels and any(rib_levels):
        first_rib = rib_levels.index(True)
        start = 5 - first_rib  # the level just below the lowest ribbed one is L1
        names = []
        for n in range(n_segments):
            pos = start + n  # index into lumbar_thoracic (L5 = 0)
            names.append(lumbar_thoracic[pos] if 0 <= pos < len(lumbar_thoracic) else "")
        return names
    top = [f"L{n}" for n in range(1, 6)]
    return (top[:n_segments][::-1] if n_segments <= 5 else [""] * (n_segments - 5) + top[::-1])


def level_markers(solid: np.ndarray, levels: list[Level], canal: np.ndarray, sp: np.ndarray, *,
                  body_mm: float = 22.0, ring_mm: float = 16.0) -> np.ndarray:
    """Marker image (int32): level n (1..) on its solid bone between its two disc planes (each
    plane normal to the curve 4 mm inside the disc, see :func:`find_vertebrae`) within
    ``body_mm`` of the body curve (the body with its cortex), and in the middle half of the slab
    within ``ring_mm`` of the canal centre (pedicles and laminae around the canal)."""
    markers = np.zeros(solid.shape, np.int32)
    nk = solid.shape[0]
    jj, ii = np.mgrid[: solid.shape[1], : solid.shape[2]]
    for n, lev in enumerate(levels, start=1):
        p = lev.points
        lo, hi = p[0], p[-1]
        t_lo = (p[min(2, len(p) - 1)] - p[0]) * sp
        t_hi = (p[-1] - p[max(len(p) - 3, 0)]) * sp
        t_lo /= max(np.linalg.norm(t_lo), 1e-9)
        t_hi /= max(np.linalg.norm(t_hi), 1e-9)
        ks = p[:, 0]
        k0 = int(max(0, np.floor(ks.min() - 25.0 / sp[0])))
        k1 = int(min(nk, np.ceil(ks.max() + 25.0 / sp[0]) + 1))
        kmid0 = ks.min() + 0.25 * (ks.max() - ks.min())
        kmid1 = ks.min() + 0.75 * (ks.max() - ks.min())
        for k in range(k0, k1):
            sl = solid[k]
            if not sl.any():
                continue
            vox = np.stack([np.full(jj.shape, k, float), jj, ii], axis=-1) * sp
            above = ((vox - lo * sp) @ t_lo) >= 0.0
            below = ((vox - hi * sp) @ t_hi) <= 0.0
            slab = above & below & sl
            if not slab.any():
                continue
            # body: near the curve point of this slice (nearest curve point in k)
            c = p[np.argmin(np.abs(ks - k))]
            near_body = ((jj - c[1]) * sp[1]) ** 2 + ((ii - c[2]) * sp[2]) ** 2 <= body_mm**2
            m = slab & near_body
            if kmid0 <= k <= kmid1:
                cj, ci = canal[k]
                m |= slab & (((jj - cj) * sp[1]) ** 2 + ((ii - ci) * sp[2]) ** 2 <= ring_mm**2)
            markers[k][m & (markers[k] == 0)] = n
    return markers


def split_vertebrae(img: np.ndarray, solid: np.ndarray, levels: list[Level], sp: np.ndarray, canal: np.ndarray,
                    *, lateral_mm: float = 65.0, extra: dict[int, np.ndarray] | None = None,
                    progress: Progress | None = None) -> dict[str, np.ndarray]:
    """One mask per level: watershed on the negated smoothed CT inside ``solid`` from
    :func:`level_markers` and from the far lateral bone (ribs, iliac wings: ``rest``).
    ``extra``: more marker voxels for level n (index into ``levels``), where not yet marked."""
    from skimage.segmentation import watershed

    markers = level_markers(solid, levels, canal, sp)
    for n, m in (extra or {}).items():
        markers[m & solid & (markers == 0)] = n + 1
    ii = np.arange(solid.shape[2])[None, None, :]
    mid = np.asarray(canal[:, 1], float)[:, None, None]
    far = solid & (np.abs(ii - mid) * sp[2] > lateral_mm)
    rest = len(levels) + 1
    markers[far & (markers == 0)] = rest
    report(progress, 0.6, "watershed along the joints")
    lab = watershed(-img, markers, mask=solid)
    return {lev.name: lab == n for n, lev in enumerate(levels, start=1)}


def keep_main_piece(mask: np.ndarray) -> np.ndarray:
    """The largest connected piece of a vertebra (watershed crumbs elsewhere dropped)."""
    return islands.keep_largest(mask)


def find_vertebrae(volume, *, low: float = 250.0, cortex_hu: float = 250.0, sigma_mm: float = 0.7,
                   crop_mm: float = 100.0, sacrum_width_mm: float = 80.0, exclude: np.ndarray | None = None,
                   low_density_hu: tuple[float, ...] = (180.0, 130.0), low_density_sigma_mm: float = 1.5,
                   progress: Progress | None = None):
    """Vertebrae of ``volume`` by anatomy: (masks by level name, notes).

    ``low``: solid bone threshold (HU) on the CT smoothed by ``sigma_mm``; ``cortex_hu``: the
    bone ring around the canal; ``exclude``: voxels never bone (table, outside the body). When no
    canal is ringed at ``cortex_hu`` (osteoporotic bone: a thin cortex blurred below it), it is
    sought again at each of ``low_density_hu`` on the CT smoothed by ``low_density_sigma_mm`` (the
    level seeing it in most slices is kept), solid bone starts 5 HU below that level and discs are
    found as narrow dips (:func:`find_discs_narrow`).
    ``notes`` are sentences about what was assumed (e.g. how the levels were named).
    """
    from surgiplan.core.segmentation.bone_fill import smoothed, solid_bone
    from surgiplan.core.segmentation.scan_axes import axis_signs, spacing_kji

    si, sj, sk = axis_signs(volume, "spine-bones")
    sp = spacing_kji(volume)
    ant = -sj  # anterior is -y
    report(progress, 0.05, "smoothing")
    img = smoothed(volume, sigma_mm)
    report(progress, 0.2, "following the spinal canal")
    f = 2 if max(sp[1], sp[2]) < 1.5 else 1  # the canal is >= 10 mm across: every 2nd pixel will do
    sub_sp = sp * np.array([1.0, f, f])

    def canal_at(image: np.ndarray, hu: float) -> SpineFrame:
        dense = image >= hu
        if exclude is not None:
            dense &= ~exclude
        body = (image > -300.0) if exclude is None else (image > -300.0) & ~exclude
        return track_canal(image[:, ::f, ::f], dense[:, ::f, ::f], sub_sp, ant, body=body[:, ::f, ::f])

    notes = []
    try:
        frame = canal_at(img, cortex_hu)
        low_density = False
    except InputError:
        # osteoporotic bone: a thin cortex blurred below cortex_hu does not ring the canal; look
        # again on a smoother CT at lower bone levels and keep the level that sees the canal most
        img = smoothed(volume, low_density_sigma_mm)
        frame, used = None, None
        for hu in low_density_hu:
            try:
                fr = canal_at(img, hu)
            except InputError:
                continue
            if frame is None or fr.seen.sum() > frame.seen.sum():
                frame, used = fr, hu
        if frame is None:
            raise
        low_density = True
        frame = steady_ends(frame, sub_sp)
        low = min(low, used - 5.0)
        notes.append(f"low-density bone: canal ringed at {used:g} HU, bone from {low:g} HU "
                     f"(CT smoothed {low_density_sigma_mm:g} mm), discs as narrow dips between endplates")
    frame.canal *= f
    # work in a box around the spine: +-crop_mm across and front to back of the canal
    box = []
    for a in (1, 2):
        c = frame.canal[:, a - 1]
        lo = int(max(0, np.floor(c.min() - crop_mm / sp[a])))
        hi = int(min(img.shape[a], np.ceil(c.max() + crop_mm / sp[a]) + 1))
        box.append(slice(lo, hi))
    box = (slice(0, img.shape[0]), *box)
    off = np.array([0, box[1].start, box[2].start], float)
    full_shape = img.shape
    img = img[box]
    # the watershed runs on the CT smoothed less (sigma_mm): the joints between the arches are a voxel wide
    img_fine = smoothed(volume, sigma_mm)[box] if low_density else img
    frame.canal = frame.canal - off[1:]
    report(progress, 0.3, "solid bone around the spine")
    solid = solid_bone(volume, low=low, image=img, exclude=None if exclude is None else exclude[box],
                       close_mm=1.5)
    body = body_curve(frame, solid, sp, ant)
    report(progress, 0.45, "discs along the body column")
    pts, tan, s = curve_samples(body, sp)
    prof = profile(img, pts, tan, sp)
    first, last = bone_span(prof, min_hu=min(120.0, low - 20.0), longest=low_density)
    disc_finder = find_discs_narrow if low_density else find_discs
    discs = np.array([d for d in disc_finder(prof) if first < d < last], int)
    bounds = [first, *discs.tolist(), last]
    segs = []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if (s[b] - s[a]) < 8.0:
            continue
        inner = (s >= s[a] + 4.0) & (s <= s[b] - 4.0)
        # keep only points inside solid bone (the body, not the disc or outside the scan)
        p = pts[inner]
        if len(p):
            idx = np.clip(np.round(p).astype(int), 0, np.array(solid.shape) - 1)
            p = p[solid[tuple(idx.T)]]
        if len(p) < 3 and low_density:  # a hollow body: its centre line below ``low`` in places
            p = pts[inner & (prof >= low - 40.0)]
        if len(p) >= 3:
            segs.append((float(s[a]), float(s[b]), p))
    if not segs:
        raise InputError("spine-bones: no vertebral body found along the spine")
    # a segment at the superior end of the curve, cut by the scan's edge, is not a whole level:
    # all the bone connected above it would join it (the thorax); it is left out
    top_open = (s[last] >= s[-1] - 10.0) if sk > 0 else (s[first] <= 10.0)
    if sk < 0:  # k grows toward inferior: the curve starts at the top; order inferior to superior
        segs = segs[::-1]
    drop_top = top_open and len(segs) > 1
    lowest = segs[0][2]
    width = max(bone_width_mm(solid, lowest[n], sp) for n in np.linspace(0, len(lowest) - 1, 7).astype(int))
    sacrum = width > sacrum_width_mm and len(segs) >= 2
    if sacrum:
        notes.append(f"levels counted up from the sacrum (bone {width:.0f} mm wide at its body)")
    else:
        notes.append("no sacrum in view: levels counted down from L1 at the top; check the names")
    names = name_levels(len(segs), sacrum)
    if drop_top:  # split with a marker of its own, then left out
        names[-1] = "_top"
    levels = [Level(n, a, b, p) for n, (a, b, p) in zip(names, segs, strict=True) if n]
    report(progress, 0.55, f"{len(levels)} levels; splitting at the discs and joints")
    extra = {}
    if low_density and sacrum and len(levels) >= 2 and levels[0].name == "sacrum":
        # the sacrum's dorsal wall lies far from its body marker and L5's arch would flood it:
        # bone within 35 mm of the midline below the L5-S1 disc's plane starts as sacrum
        n_disc = int(np.argmin(np.abs(s - levels[1].s_lo)))
        kk, jj = np.arange(solid.shape[0])[:, None, None], np.arange(solid.shape[1])[None, :, None]
        near = np.abs(np.arange(solid.shape[2])[None, None, :] - frame.canal[:, 1][:, None, None]) * sp[2] < 35.0
        t = tan[n_disc] * (1 if sk > 0 else -1)  # toward superior
        c = pts[n_disc]
        below = ((kk - c[0]) * sp[0] * t[0] + (jj - c[1]) * sp[1] * t[1]) < 0.0
        extra[0] = near & below
    if low_density:  # a disc next to hollow bodies reaches ``low`` on the smoothed CT: carve it out
        solid = solid & ~disc_slabs(img_fine, pts, tan, discs, sp, hu=low + 20.0, half_mm=3.0)
    # lateral_mm: an osteoporotic sacrum's alae and the iliac crests next to L5 are as dark as the
    # vertebrae; a lumbar transverse process ends ~45 mm from the midline
    masks = split_vertebrae(img_fine, solid, levels, sp, frame.canal, extra=extra, progress=progress,
                            lateral_mm=45.0 if low_density else 65.0)
    from surgiplan.core.segmentation.bone_fill import fill_planes
    from surgiplan.core.segmentation.morphology import fill_holes

    out = {}
    for name, m in masks.items():
        if m.any() and not name.startswith("_"):
            full = np.zeros(full_shape, bool)
            full[box] = fill_planes(fill_holes(keep_main_piece(m)), axes=(1, 2))
            out[name] = full
    frame.canal = frame.canal + off[1:]
    frame.body = frame.body + off[1:]
    pts = pts + off
    return out, notes, {"frame": frame, "profile": prof, "discs": discs, "s": s, "pts": pts, "solid": solid}
