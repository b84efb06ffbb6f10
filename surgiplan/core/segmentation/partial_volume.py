"""Partial-volume-correct bone: the boundary half-way between the LOCAL bone and soft-tissue values.

A fixed threshold (200 HU) puts a blurred bone surface where the scanner's point-spread
function has smeared it, 0.5-1 mm outside a bright cortex and inside a faint one. The true
edge of a blurred step sits where the image is half-way between the two sides' values, and
those values change along the surface (thick bright cortex at the femoral shaft, a thin faint
shell at an osteoporotic head; muscle or fat outside). :func:`refine_bone_mask` therefore

1. takes a rough bone mask (a low threshold on the lightly smoothed CT, holes filled),
2. in a band of ``band_mm`` around its boundary, measures the local bone value (the brightest
   smoothed CT within ``peak_mm``, i.e. the cortex peak, averaged along the surface) and the local
   soft-tissue value (the mean CT in a shell ``gap_mm``..``gap_mm + shell_mm`` outside the rough
   boundary, where blur no longer carries bone, spread along the surface),
3. keeps a band voxel when its smoothed CT is at least the local mid value, keeps the rough
   mask's core, and fills the cancellous bone and marrow enclosed by the cortex (3D, with the
   scan's first and last slices as lids, and slice by slice when ``fill_per_slice``).

Measured on :mod:`surgiplan.core.samples.ct_phantom` (benchmarks/bench_bone_partial_volume.py).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.jobs import Progress, report

#: cortex is below this; brighter is metal, which must not raise the local bone value
BONE_PEAK_CAP_HU = 2000.0


def _sig(mm: float, spacing_kji) -> tuple[float, ...]:
    return tuple(float(mm) / float(s) for s in spacing_kji)


def _ball(radius_mm: float, spacing_kji) -> np.ndarray:
    r = [max(1, int(np.floor(radius_mm / s))) for s in spacing_kji]
    g = np.ogrid[tuple(slice(-n, n + 1) for n in r)]
    d2 = sum((gi * s) ** 2 for gi, s in zip(g, spacing_kji, strict=True))
    return d2 <= radius_mm ** 2 + 1e-9


def _norm_conv(values: np.ndarray, weight: np.ndarray, sigma_vox) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian-weighted local mean of ``values`` over ``weight`` (and the weight density)."""
    w = ndimage.gaussian_filter(weight.astype(np.float32), sigma_vox, mode="nearest")
    v = ndimage.gaussian_filter((values * weight).astype(np.float32), sigma_vox, mode="nearest")
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / w, w


def refine_bone_mask(ct: np.ndarray, rough: np.ndarray, spacing, *, band_mm: float = 2.5,
                     peak_mm: float = 2.0, gap_mm: float = 1.5, shell_mm: float = 3.0,
                     spread_mm: float = 4.0, smooth_mm: float = 0.4, min_contrast_hu: float = 60.0,
                     valley_mm: float = 2.5, valley_fraction: float = 0.3, valley_noise: float = 6.0,
                     joint_mm: float = 2.5,
                     fill_per_slice: bool = False, progress: Progress | None = None) -> np.ndarray:
    """Bone mask whose boundary is half-way between the local cortex and soft-tissue values.

    Parameters
    ----------
    ct : ndarray [k, j, i]
        CT in HU.
    rough : ndarray of bool [k, j, i]
        A rough bone mask (e.g. >= 150-200 HU, holes filled): where to look.
    spacing : (si, sj, sk)
        Voxel size in mm.
    band_mm : float
        Half-width (mm) of the band around the rough boundary that is re-decided.
    peak_mm : float
        Radius (mm) in which the local bone (cortex peak) value is the brightest voxel.
    gap_mm, shell_mm : float
        The soft tissue is measured in the shell from ``gap_mm`` to ``gap_mm + shell_mm``
        outside the rough boundary.
    spread_mm : float
        Gaussian sigma (mm) over which the local values are averaged along the surface.
    smooth_mm : float
        Gaussian sigma (mm) of the noise smoothing before the comparison.
    min_contrast_hu : float
        The local mid value is at least this far above the local soft tissue (no bone where
        there is no contrast to speak of).
    valley_mm : float
        Half-width (mm) of the grey closing that finds narrow dark gaps (joint spaces).
    valley_fraction, valley_noise : float
        A gap counts when its depth below the closing is at least this fraction of the local
        bone/soft contrast and this many robust noise sd (texture of cancellous bone).
    joint_mm : float
        Gaps thicker than 2 x ``joint_mm`` are not joint spaces (cancellous bone behind cortex).
    fill_per_slice : bool
        Also fill holes slice by slice (axial): marrow canals open at a scan end or through a
        nutrient foramen. Off for a skull.

    Returns
    -------
    ndarray of bool [k, j, i]
    """
    rough = np.asarray(rough, bool)
    out = np.zeros(rough.shape, bool)
    if not rough.any():
        return out
    sp = tuple(float(s) for s in spacing)[::-1]  # (k, j, i)
    pad_mm = band_mm + gap_mm + shell_mm + 2 * spread_mm
    box = _box(rough, [int(np.ceil(pad_mm / s)) for s in sp])
    a = np.asarray(ct[box], np.float32)
    m0 = rough[box]
    report(progress, 0.1, "partial volume: local values")
    a_s = ndimage.gaussian_filter(a, _sig(smooth_mm, sp), mode="nearest")
    # distances (mm) outside and inside the rough boundary
    d_out, d_in = _distances(m0, sp)
    band = (d_out <= band_mm) & (d_in <= band_mm)
    shell = (d_out > gap_mm) & (d_out <= gap_mm + shell_mm)
    soft, w_soft = _norm_conv(a, shell, _sig(spread_mm, sp))
    soft_global = float(np.median(a[shell])) if shell.any() else 0.0
    soft = np.where(w_soft > 1e-3, soft, soft_global)
    report(progress, 0.4, "partial volume: cortex peaks")
    # metal and its blurred rim (> BONE_PEAK_CAP_HU, grown by peak_mm) never sets the bone value
    metal = a_s > BONE_PEAK_CAP_HU
    if metal.any():
        metal = ndimage.maximum_filter(metal, size=_size(peak_mm, sp))
    capped = np.where((m0 | (d_out <= gap_mm)) & ~metal, a_s, -1000.0)
    peak = ndimage.maximum_filter(capped, size=_size(peak_mm, sp))
    ridge = band & m0
    peak_l, w_peak = _norm_conv(peak, ridge, _sig(spread_mm, sp))
    peak_l = np.where(w_peak > 1e-3, peak_l, peak)
    mid = np.maximum(0.5 * (peak_l + soft), soft + min_contrast_hu)
    report(progress, 0.6, "partial volume: joint spaces")
    # a narrow dark gap between two bones (a joint space) blurred to above the mid value: the
    # valley of the image below its grey closing; its boundary is half-way down the valley
    cl = ndimage.grey_erosion(ndimage.grey_dilation(a_s, size=_size(valley_mm, sp)), size=_size(valley_mm, sp))
    depth = np.where(band | m0, cl - a_s, 0.0).astype(np.float32)
    del cl
    floor = ndimage.maximum_filter(depth, size=_size(peak_mm, sp))
    # texture and noise make shallow valleys everywhere inside bone: a joint is deeper than both
    core = m0 & (d_in > band_mm)
    hp = (a_s - ndimage.gaussian_filter(a_s, _sig(1.5, sp), mode="nearest"))[core if core.any() else m0]
    rough_sd = float(1.4826 * np.median(np.abs(hp - np.median(hp)))) if hp.size else 0.0
    valley = (floor >= np.maximum(valley_fraction * (peak_l - soft), valley_noise * rough_sd)) & (depth >= 0.5 * floor)
    valley &= a_s < soft + 0.7 * (peak_l - soft)  # never a cortex ridge between two valleys
    report(progress, 0.7, "partial volume: boundary and fill")
    m = _fill((m0 & ~band) | (band & (a_s >= mid)), fill_per_slice)
    # only valleys open to the outside are joint spaces (a dark spot of trabecular texture is not)
    valley &= m
    # a joint space is a thin sheet; a thick "valley" is cancellous bone behind a bright cortex,
    # and it and its rim are never taken away (a valley through a thin cortex would empty a bone)
    core_v = _distances(valley, sp)[1] > joint_mm if valley.any() else valley
    if core_v.any():
        valley &= _distances(core_v, sp)[0] > joint_mm + max(sp)
    outside = ndimage.binary_dilation(~m) & valley
    if outside.any():
        m &= ~ndimage.binary_propagation(outside, mask=valley)
        m = _fill(m, fill_per_slice)
    del d_out, d_in, soft, peak, peak_l, mid
    out[box] = m
    return out


def _distances(m: np.ndarray, sp) -> tuple[np.ndarray, np.ndarray]:
    """(distance outside, distance inside) of mask ``m`` in mm, float32 [k, j, i]: outside, to the
    nearest voxel of ``m``; inside, to the nearest voxel not in ``m`` (0 on the other side), as
    scipy's EDT gives them, by SimpleITK's signed Maurer distance (multi-threaded; the EDT took
    most of the time)."""
    import SimpleITK as sitk

    def outside(x: np.ndarray) -> np.ndarray:
        img = sitk.GetImageFromArray(np.ascontiguousarray(x).view(np.uint8))
        img.SetSpacing(tuple(float(s) for s in sp[::-1]))
        sd = sitk.SignedMaurerDistanceMap(img, insideIsPositive=False, squaredDistance=False,
                                          useImageSpacing=True, backgroundValue=0)
        return np.maximum(sitk.GetArrayViewFromImage(sd), 0.0).astype(np.float32)

    m = np.asarray(m, bool)
    return outside(m), outside(~m)


def _fill(m: np.ndarray, per_slice: bool) -> np.ndarray:
    """Fill cavities; a cavity cut open by any face of the grid (a partial field of view, in z or
    in plane) counts as closed: each face is capped by its own filled outline first."""
    from surgiplan.core.segmentation import morphology

    p = np.pad(m, 1)
    p[0, 1:-1, 1:-1] = ndimage.binary_fill_holes(m[0])
    p[-1, 1:-1, 1:-1] = ndimage.binary_fill_holes(m[-1])
    p[1:-1, 0, 1:-1] = ndimage.binary_fill_holes(m[:, 0])
    p[1:-1, -1, 1:-1] = ndimage.binary_fill_holes(m[:, -1])
    p[1:-1, 1:-1, 0] = ndimage.binary_fill_holes(m[:, :, 0])
    p[1:-1, 1:-1, -1] = ndimage.binary_fill_holes(m[:, :, -1])
    m = ndimage.binary_fill_holes(p)[1:-1, 1:-1, 1:-1] | m
    if per_slice:
        m = morphology.fill_holes(m, per_slice=True)
    return m


def _size(radius_mm: float, spacing_kji) -> tuple[int, ...]:
    return tuple(2 * max(1, int(round(radius_mm / s))) + 1 for s in spacing_kji)


def _box(mask: np.ndarray, pad) -> tuple[slice, ...]:
    out = []
    for ax in range(3):
        nz = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))
        out.append(slice(max(int(nz[0]) - pad[ax], 0), min(int(nz[-1]) + 1 + pad[ax], mask.shape[ax])))
    return tuple(out)


def partial_volume_bone(volume, low: float = 150.0, min_island_ml: float = 1.0, *, fill_per_slice: bool = False,
                        progress: Progress | None = None, **options) -> np.ndarray:
    """Bone of a CT ``volume`` with a partial-volume-correct boundary (bool [k, j, i]).

    The rough mask is the CT smoothed by ``smooth_mm`` (0.4 mm) at >= ``low`` HU (150: below
    the faint cortex of osteoporotic bone, above muscle and its noise), islands under
    ``min_island_ml`` removed, cavities filled; :func:`refine_bone_mask` then moves its boundary
    to the local half-way value and removes joint spaces. ``options`` go to
    :func:`refine_bone_mask`.
    """
    from surgiplan.core.errors import InputError
    from surgiplan.core.jobs import sub_progress
    from surgiplan.core.segmentation import islands

    sp = tuple(float(s) for s in volume.spacing)[::-1]
    report(progress, 0.02, f"rough bone >= {low:g} HU")
    a = np.asarray(volume.array)
    rough = ndimage.gaussian_filter(a.astype(np.float32), _sig(options.get("smooth_mm", 0.4), sp)) >= low
    if not rough.any():
        raise InputError(f"no voxel reaches {low:g} HU: this does not look like a CT with bone",
                         hint="Open a CT (HU), or segment by hand.")
    rough = islands.remove_small(rough, min_island_ml * 1000.0, volume.spacing)
    if not rough.any():
        raise InputError(f"no bone of at least {min_island_ml:g} mL above {low:g} HU in this scan",
                         hint="Open a CT with bone, or segment by hand.")
    rough = _fill(rough, False)
    m = refine_bone_mask(a, rough, volume.spacing, fill_per_slice=fill_per_slice,
                         progress=sub_progress(progress, 0.2, 0.95), **options)
    return islands.remove_small(m, min_island_ml * 1000.0, volume.spacing)
