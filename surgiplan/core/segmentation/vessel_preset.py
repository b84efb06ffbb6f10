"""The ``vessel`` preset: the contrast-filled aorta (with the iliacs) and its thin branches.

See :mod:`surgiplan.core.segmentation.presets` (``vessel``) for what it finds; this module holds
the preset's steps so that presets.py stays about the bone presets. Parameters in HU and mm,
positions in LPS mm, arrays indexed [k, j, i].
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import report
from surgiplan.core.segmentation import islands, margin_sitk, morphology
from surgiplan.core.segmentation.patch import changed_box
from surgiplan.core.segmentation.threshold import threshold


def _world_axes(volume: Volume) -> list[np.ndarray]:
    """LPS coordinates of every voxel centre along x, y, z as three [k, j, i]-broadcastable arrays."""
    k, j, i = (np.arange(n, dtype=np.float64) for n in volume.array.shape)
    m = volume.direction * np.asarray(volume.spacing)[None, :]
    o = np.asarray(volume.origin)
    return [
        o[a] + m[a, 0] * i[None, None, :] + m[a, 1] * j[None, :, None] + m[a, 2] * k[:, None, None]
        for a in range(3)
    ]


def _round_blob_seed(volume: Volume, lumen: np.ndarray, xyz, cortex_hu: float = 800.0) -> tuple[int, int, int]:
    """Centre voxel (k, j, i) of the thickest lumen blob in the lowest 20 % of slices.

    Blobs wrapped in cortical bone (>= ``cortex_hu`` in more than 10 % of the band
    across their edge: a vertebral body's marrow is as bright as contrast) are skipped.
    """
    zf = np.broadcast_to(xyz[2], lumen.shape)
    z = zf[lumen]
    lo, hi = float(z.min()), float(z.min() + 0.2 * (z.max() - z.min()))
    slab = lumen & (zf >= lo) & (zf <= hi)
    sp = tuple(volume.spacing[::-1])
    best, best_r = None, -1.0
    lab, sizes = islands.label_components(slab)
    for n in range(1, min(9, len(sizes))):  # the 8 largest blobs (numbered by decreasing size)
        if sizes[n] < 10:
            break
        blob = lab == n
        # the band across the blob's edge (one voxel in, two out): cortex when it is a bone
        rim = margin_sitk.margin(blob, 2.0 * max(volume.spacing), volume.spacing) & ~margin_sitk.margin(
            blob, -max(volume.spacing), volume.spacing)
        if rim.any() and np.mean(volume.array[rim] >= cortex_hu) > 0.1:
            continue
        box = changed_box(blob)
        d = ndimage.distance_transform_edt(np.pad(blob[box], 1), sampling=sp)[1:-1, 1:-1, 1:-1]
        if d.max() > best_r:
            best_r = float(d.max())
            best = tuple(int(v) + b.start for v, b in zip(np.unravel_index(np.argmax(d), d.shape), box, strict=True))
    if best is None:
        raise InputError("vessel: no contrast-filled lumen found (only bone marrow)")
    return best


THICK_ML = 1.0  # a bright structure of at least this volume after the opening is a chamber/organ, not a branch


def _vessel(volume, progress=None, low: float = 150.0, high: float = 800.0, open_mm: float = 2.0,
            faint_low: float | None = None, faint_mm: float = 4.0, branch_mm: float = 60.0,
            bone_hu: float = 600.0, false_lumen: bool = True,
            smooth_mm: float = 1.0, **kw):
    from surgiplan.core.segmentation.vessel_tracking import restore_false_lumen, track_tube

    report(progress, 0.05, f"threshold {low:g}..{high:g} HU")
    if smooth_mm > min(volume.spacing):
        # sub-millimetre voxels: their noise (sd ~20 HU) would let an enhancing organ just
        # below ``low`` (kidney) through as a porous net touching the renal arteries
        sm = ndimage.gaussian_filter(volume.array, [smooth_mm / s for s in volume.spacing[::-1]], output=np.int16)
        lumen = (sm >= low) & (sm <= high)
        del sm
    else:
        lumen = threshold(volume, low, high)
    lumen = islands.remove_small(lumen, 1000.0, volume.spacing)
    if not lumen.any():
        raise InputError(f"vessel: nothing between {low:g} and {high:g} HU: is this a contrast CT?")
    report(progress, 0.2, f"opening {open_mm:g} mm")
    opened = margin_sitk.opening(lumen, open_mm, volume.spacing)
    xyz = _world_axes(volume)
    seed = _round_blob_seed(volume, opened, xyz)
    report(progress, 0.5, "following the vessel slice by slice")
    dz = float(volume.direction[2, 2])
    if abs(dz) < 0.7:
        raise InputError("vessel: the scan is not axial (slices must run head-foot)",
                         hint="Reformat it to axial slices first.")
    opts = {"grow_limit": 1.4, **{k: v for k, v in kw.items() if k in ("grow_limit", "shrink_stop", "round_hull")}}
    if dz > 0:
        tube = track_tube(opened, seed, fallback=lumen, **opts)
    else:  # slices run head to foot: track on the flipped stack
        nk = opened.shape[0]
        tube = track_tube(opened[::-1], (nk - 1 - seed[0], seed[1], seed[2]), fallback=lumen[::-1], **opts)[::-1]
    # recover the lumen voxels the opening shaved off near the vessel, but only those
    # nearer to it than to another thick bright structure (pulmonary artery, a vein
    # or a heart chamber touching the aorta: their rims belong to them)
    others = opened & ~tube
    near_mm = open_mm + max(volume.spacing)
    vessel = tube | (lumen & _nearer_to(tube, others, near_mm, volume.spacing))
    if false_lumen:
        report(progress, 0.7, "dissection: looking for an unopacified false lumen")
        vessel = restore_false_lumen(morphology.fill_holes(vessel, per_slice=True), volume.array,
                                     float(volume.spacing[2]), pixel_mm=float(volume.spacing[0]), smooth_mm=1.5,
                                     lumen_hu=low)
    if faint_low is not None and faint_mm > 0:
        # a faintly opacified (false) lumen right next to the bright one
        faint = threshold(volume, faint_low, high) & margin_sitk.margin(vessel, faint_mm, volume.spacing)
        vessel |= margin_sitk.opening(faint, 1.0, volume.spacing)
    vessel = islands.keep_at_seed(vessel, [seed])
    vessel = morphology.fill_holes(vessel, per_slice=True)
    out = {"vessel": vessel}
    if branch_mm > 0:
        report(progress, 0.85, "thin branches")
        # a branch is as bright as the vessel, up to the partial volume of a thin tube:
        # at least half-way between the lumen threshold and the vessel's median
        branch_low = 0.5 * (low + float(np.median(volume.array[tube])))
        bright = lumen & (volume.array >= branch_low)
        branches = _thin_branches(bright, volume.array, bone_hu, opened, vessel, branch_mm, near_mm, volume.spacing)
        if branches.any():
            out["vessel_branches"] = branches
    return out


def _nearer_to(mask: np.ndarray, others: np.ndarray, distance_mm: float, spacing) -> np.ndarray:
    """Voxels within ``distance_mm`` of ``mask`` and nearer to it than to ``others`` (mm, Euclidean)."""
    from surgiplan.core.segmentation.patch import changed_box

    out = np.zeros(mask.shape, bool)
    box = changed_box(mask)
    if box is None:
        return out
    pad = [int(np.ceil(distance_mm / s)) + 1 for s in tuple(spacing)[::-1]]
    box = tuple(slice(max(0, b.start - p), min(n, b.stop + p)) for b, p, n in zip(box, pad, mask.shape, strict=True))
    d_own = margin_sitk.distance_outside(mask[box], spacing)
    sub_o = others[box]
    d_other = margin_sitk.distance_outside(sub_o, spacing) if sub_o.any() else np.inf
    out[box] = (d_own <= distance_mm + 1e-6) & (d_own < d_other)
    return out


def _thin_branches(bright: np.ndarray, hu: np.ndarray, bone_hu: float, opened: np.ndarray, vessel: np.ndarray,
                   branch_mm: float, rim_mm: float, spacing) -> np.ndarray:
    """Thin contrast-filled branches leaving ``vessel`` (renal, visceral, head and neck arteries).

    Geodesic reconstruction from ``vessel`` inside the bright lumen ``bright``,
    limited to ``branch_mm`` mm of path (26-connected steps of the smallest
    spacing), and kept ``rim_mm`` away from every other thick bright structure
    (pieces of the opened lumen ``opened`` of >= THICK_ML mL: a branch running
    into a kidney or a heart chamber stops before it) and from dense voxels
    (CT ``hu`` >= ``bone_hu``, closed by 2 mm and filled per slice: bone with its
    marrow, which is as bright as a branch; undiluted contrast in a vein), found
    only within ``branch_mm`` of the vessel. What is left near the vessel is
    thinner than the opening.
    """
    from surgiplan.core.segmentation.patch import changed_box

    out = np.zeros(vessel.shape, bool)
    reach = margin_sitk.margin(vessel, branch_mm, spacing)
    box = changed_box(reach)
    if box is None:
        return out
    ves = vessel[box]
    dense = morphology.fill_holes(margin_sitk.closing(hu[box] >= bone_hu, 2.0, spacing), per_slice=True)
    others = islands.remove_small(opened[box] & ~ves, THICK_ML * 1000.0, spacing)
    # bone: a bright cortex ring around darker marrow in an axial slice (a
    # vertebral body, a rib); a vessel branch has no dark core
    ring = margin_sitk.closing((bright[box] | dense) & ~ves, 2.0 * max(spacing), spacing)
    marrow = morphology.fill_holes(ring, per_slice=True) & ~ring
    block = others | dense | margin_sitk.margin(marrow, 2.0 * max(spacing), spacing)
    allowed = bright[box] & ~ves & reach[box]
    if block.any():
        allowed &= ~margin_sitk.margin(block, rim_mm, spacing)
    start = allowed & margin_sitk.margin(ves, max(spacing), spacing)
    if not start.any():
        return out
    steps = int(np.ceil(branch_mm / min(spacing)))
    out[box] = ndimage.binary_dilation(start, np.ones((3, 3, 3), bool), iterations=steps, mask=allowed)
    return out
