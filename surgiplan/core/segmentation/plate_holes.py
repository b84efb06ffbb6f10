"""Holes in a thin bone plate (the iliac wing) spanned by the plate itself.

On an osteoporotic CT in 3 mm slices the thinnest part of the iliac wing (the iliac fossa, a
plate of a millimetre or two) falls below any bone threshold that keeps muscle out, and the
hip bone shows holes of a few centimetres there (issue 23's real CT: cancellous bone 100-200
HU, the fossa's bone 0-140 HU, the iliacus muscle 40-60 HU on one side and the gluteal muscles
on the other). A closing cannot span them without also bridging real gaps between bones
(measured: a 9-15 mm closing limited to >= 70-100 HU added 90-200 mL and left the fossa
holes, which are darker than that), and a lower threshold lets the muscles in.

Seen along the plate's normal, such a hole is a hole in the projected mask with bone all around
it. :func:`fill_plate_holes` takes each such hole up to ``max_area_mm2`` and spans it with a
plate: its mid-surface (the mean depth along the normal of the voxel centres in each pixel of the
view) is a quadratic surface fitted to the rim's (the wing's curvature; inverse-distance weights
for a hole with a rim of under 12 pixels), its thickness the rim's volume over its area.
:func:`fill_plate_holes_tiled` does this on cubes of a region, each with its own normal (the
wing is a bowl). Real openings (the obturator foramen, the greater sciatic notch, the pelvic
ring) are kept out by the region the caller gives (the wings: above the hip joints, lateral of
the sacrum).

Index space [k, j, i]; spacing in mm; masks boolean.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def plate_normal(mask: np.ndarray, sp) -> np.ndarray:
    """Unit normal (mm, k j i) of the plane that fits the voxels of ``mask`` best (the direction
    of least spread, PCA)."""
    p = np.argwhere(mask) * np.asarray(sp, float)
    if len(p) < 3:
        return np.array([0.0, 1.0, 0.0])
    p -= p.mean(axis=0)
    _, _, vt = np.linalg.svd(p, full_matrices=False)
    return vt[-1] / np.linalg.norm(vt[-1])


def _quadratic(q: np.ndarray, c0: np.ndarray, g: float) -> np.ndarray:
    """Design matrix of a quadratic surface over pixels ``q`` (n, 2) centred at ``c0``, pixel ``g`` mm."""
    x, y = (q[:, 0] - c0[0]) * g, (q[:, 1] - c0[1]) * g
    return np.column_stack([np.ones(len(q)), x, y, x * x, x * y, y * y])


def fill_plate_holes(mask: np.ndarray, sp, region: np.ndarray | None = None, *, normal=None,
                     max_area_mm2: float = 1500.0, rim_px: int = 3) -> np.ndarray:
    """``mask`` with the holes of a plate (seen along its ``normal``) spanned by the plate.

    Parameters
    ----------
    mask : ndarray of bool
        The bone, [k, j, i].
    sp : sequence of float
        Spacing (k, j, i) in mm.
    region : ndarray of bool, optional
        The plate: only the voxels of ``mask`` in it are projected, and only voxels in it are
        added (default: all of ``mask``).
    normal : sequence of float, optional
        Unit viewing direction (mm, k j i); default the plate's own (:func:`plate_normal`).
    max_area_mm2 : float
        Largest hole filled as seen along the normal, mm^2 (default 15 cm^2: the holes of
        issue 23's iliac fossae were 1-10 cm^2).
    rim_px : int
        Width of the rim (pixels of the view, as large as the largest spacing) whose faces are
        interpolated.

    Returns
    -------
    ndarray of bool
        A new mask (the input is not changed): a voxel is added when its centre, seen along the
        normal, falls in a hole and lies between the interpolated faces.
    """
    mask = np.asarray(mask, bool)
    sp = np.asarray(sp, float)
    out = mask.copy()
    region = None if region is None else np.broadcast_to(np.asarray(region, bool), mask.shape)
    plate = mask if region is None else mask & region
    if plate.sum() < 10:
        return out
    n = np.asarray(normal, float) if normal is not None else plate_normal(plate, sp)
    n = n / np.linalg.norm(n)
    a = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(n, a)
    g = float(sp.max())
    # every voxel of the plate's box, in plate coordinates (u, v across; w along the normal)
    nz = np.argwhere(plate)
    lo, hi = nz.min(axis=0), nz.max(axis=0) + 1
    box = tuple(slice(int(x0), int(x1)) for x0, x1 in zip(lo, hi, strict=True))
    xyz = np.stack(np.meshgrid(*[np.arange(x0, x1) * s for x0, x1, s in zip(lo, hi, sp, strict=True)],
                               indexing="ij"), axis=-1)
    u, v, w = xyz @ a, xyz @ b, xyz @ n
    pl = plate[box]
    u0, v0 = u[pl].min(), v[pl].min()
    iu = np.floor((u - u0) / g).astype(int)
    iv = np.floor((v - v0) / g).astype(int)
    shape = (int(iu[pl].max()) + 1, int(iv[pl].max()) + 1)
    proj = np.zeros(shape, bool)
    proj[iu[pl], iv[pl]] = True
    count = np.zeros(shape)
    w_sum = np.zeros(shape)
    np.add.at(count, (iu[pl], iv[pl]), 1.0)
    np.add.at(w_sum, (iu[pl], iv[pl]), w[pl])
    w_mean = w_sum / np.maximum(count, 1.0)  # the mid-surface (a pixel's centres are spread evenly)
    holes = ndimage.binary_fill_holes(proj) & ~proj
    lab, nh = ndimage.label(holes)
    if nh == 0:
        return out
    w_lo = np.full(shape, np.nan)
    w_hi = np.full(shape, np.nan)
    for m in range(1, nh + 1):
        hole = lab == m
        if hole.sum() * g * g > max_area_mm2:
            continue
        near = ndimage.binary_dilation(hole, iterations=1)
        rim = ndimage.binary_dilation(hole, iterations=rim_px + 1) & proj & ~near  # whole pixels of plate
        if not rim.any():
            rim = ndimage.binary_dilation(hole, iterations=rim_px) & proj
        rp = np.argwhere(rim)
        hp = np.argwhere(near)  # the hole and its edge pixels (partly plate, partly hole)
        rim_mid = w_mean[tuple(rp.T)]
        if len(rp) >= 12:  # a quadratic surface through the rim's mid-surface: the bowl's curvature
            c0 = hp.mean(axis=0)
            coef, *_ = np.linalg.lstsq(_quadratic(rp, c0, g), rim_mid, rcond=None)
            mid = _quadratic(hp, c0, g) @ coef
        else:  # a small hole: the rim's mid-surface, weighted by inverse squared distance
            d = np.sqrt((((hp[:, None, :] - rp[None, :, :]) * g) ** 2).sum(axis=2))
            wt = 1.0 / np.maximum(d, 1e-3) ** 2
            mid = (wt / wt.sum(axis=1, keepdims=True)) @ rim_mid
        # the plate's thickness from its rim: volume over area seen along the normal
        half = 0.5 * float(count[tuple(rp.T)].sum() * np.prod(sp) / (len(rp) * g * g))
        w_lo[tuple(hp.T)] = mid - half
        w_hi[tuple(hp.T)] = mid + half
    inside = (iu >= 0) & (iu < shape[0]) & (iv >= 0) & (iv < shape[1])
    lo_w = np.full(w.shape, np.nan)
    hi_w = np.full(w.shape, np.nan)
    lo_w[inside] = w_lo[iu[inside], iv[inside]]
    hi_w[inside] = w_hi[iu[inside], iv[inside]]
    with np.errstate(invalid="ignore"):
        add = (w >= lo_w - 1e-6) & (w <= hi_w + 1e-6)  # nan compares False
    if region is not None:
        add &= region[box]
    out[box] |= add
    return out


def fill_plate_holes_tiled(mask: np.ndarray, sp, region: np.ndarray, *, tile_mm: float = 90.0,
                           max_area_mm2: float = 1500.0) -> np.ndarray:
    """:func:`fill_plate_holes` on half-overlapping cubes of ``tile_mm`` (mm) of ``region``, each
    seen along its own plate's normal: a curved plate (the iliac wing is a bowl) seen whole
    along one direction hides its holes behind its other parts. On issue 23's CT, 60 mm cubes
    left the largest fossa holes (they span two cubes) and 90 mm closed them all but two pits
    (13 mL added, CT of the added voxels median 60 HU: the fossa's thin bone)."""
    sp = np.asarray(sp, float)
    out = np.asarray(mask, bool).copy()
    region = np.broadcast_to(region, out.shape)
    nz = np.argwhere(mask & region)
    if not len(nz):
        return out
    lo, hi = nz.min(axis=0), nz.max(axis=0) + 1
    size = [max(4, int(round(tile_mm / s))) for s in sp]
    starts = [range(int(lo[a]), max(int(lo[a]) + 1, int(hi[a]) - size[a] // 2), max(1, size[a] // 2))
              for a in range(3)]
    for k0 in starts[0]:
        for j0 in starts[1]:
            for i0 in starts[2]:
                box = tuple(slice(s0, s0 + size[a]) for a, s0 in enumerate((k0, j0, i0)))
                sub = region[box] & out[box]
                if sub.sum() < 30:
                    continue
                out[box] = fill_plate_holes(out[box], sp, region[box], max_area_mm2=max_area_mm2)
    return out
