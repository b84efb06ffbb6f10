"""Solid bone from a clinical CT: cortex and the cancellous bone inside it, whatever its HU.

Osteoporotic trabecular bone (100-300 HU) and a thin cortex blurred below 500 HU by 3 mm
slices defeat a single threshold: a high one leaves the marrow out, a low one lets contrast
blood in. :func:`solid_bone` thresholds a lightly smoothed CT (``low``), closes the cortex
(``close_mm``) and fills what it encloses: in 3D and slice by slice in the sagittal and
coronal planes. Not in the axial plane: there the neural arch rings the spinal canal and a
fill would make the canal bone; in sagittal and coronal slices the canal runs out of the
scan (and between the laminae), so it stays open.

All lengths are in mm, values in HU; masks are boolean ``[k, j, i]`` on the volume's grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report
from surgiplan.core.segmentation import islands, morphology
from surgiplan.core.segmentation.patch import changed_box


def smoothed(volume: Volume, sigma_mm: float = 0.6) -> np.ndarray:
    """The CT smoothed by a Gaussian of ``sigma_mm`` (mm, per axis), float32 [k, j, i]."""
    sig = [sigma_mm / float(s) if sigma_mm > 0.25 * float(s) else 0.0 for s in tuple(volume.spacing)[::-1]]
    return ndimage.gaussian_filter(np.asarray(volume.array, np.float32), sig)


def fill_planes(mask: np.ndarray, axes=(1, 2)) -> np.ndarray:
    """Fill the holes of ``mask`` slice by slice across each array axis in ``axes`` (0 = axial k,
    1 = coronal j, 2 = sagittal i); the union of the fills (and the mask)."""
    mask = np.asarray(mask, bool)
    out = mask.copy()
    box = changed_box(mask)
    if box is None:
        return out
    sub = mask[box]
    acc = sub.copy()
    for ax in axes:
        moved = np.moveaxis(sub, ax, 0)
        filled = np.stack([ndimage.binary_fill_holes(s) if s.any() else s for s in moved])
        acc |= np.moveaxis(filled, 0, ax)
    out[box] = acc
    return out


def solid_bone(volume: Volume, *, low: float = 200.0, sigma_mm: float = 0.6, close_mm: float = 1.5,
               min_island_ml: float = 1.0, exclude: np.ndarray | None = None, image: np.ndarray | None = None,
               lids: bool = False, progress: Progress | None = None) -> np.ndarray:
    """Bone with its cancellous core filled, for the anatomy presets.

    Parameters
    ----------
    volume : Volume
        CT in HU.
    low : float
        Threshold (HU) on the smoothed CT.
    sigma_mm : float
        Gaussian smoothing (mm) before the threshold (noise of thin slices).
    close_mm : float
        Morphological closing radius (mm) that seals gaps in a thin cortex before the fill.
    min_island_ml : float
        Islands smaller than this (mL) are dropped (calcifications, contrast specks).
    exclude : ndarray of bool, optional
        Voxels never bone (the table, metal).
    image : ndarray, optional
        The smoothed CT when the caller already has it.
    lids : bool
        Count a cavity cut open by the scan's first or last slice as closed (a femoral neck or
        a sacrum cut by the field of view); off where a tube runs through the scan (the canal).

    Returns
    -------
    ndarray of bool
        Solid bone [k, j, i].
    """
    report(progress, 0.05, f"bone >= {low:g} HU (smoothed {sigma_mm:g} mm)")
    img = smoothed(volume, sigma_mm) if image is None else image
    m = img >= low
    if exclude is not None:
        m &= ~exclude
    if not m.any():
        raise InputError(f"no voxel reaches {low:g} HU: this does not look like a CT with bone",
                         hint="Check that the scan is a CT in Hounsfield units.")
    report(progress, 0.3, "removing small islands")
    m = islands.remove_small(m, min_island_ml * 1000.0, volume.spacing)
    report(progress, 0.5, "closing the cortex and filling the cancellous bone")
    box = changed_box(m)
    out = m.copy()
    if box is None:
        return out
    pad = [int(np.ceil(close_mm / s)) + 1 for s in tuple(volume.spacing)[::-1]]
    box = tuple(slice(max(0, b.start - p), min(n, b.stop + p)) for b, p, n in zip(box, pad, m.shape, strict=True))
    sub = m[box]
    if close_mm > 0:
        ball = morphology.ball(close_mm, volume.spacing)
        closed = ndimage.binary_closing(np.pad(sub, [(p, p) for p in pad]), ball)
        closed = closed[pad[0]:-pad[0], pad[1]:-pad[1], pad[2]:-pad[2]] | sub
    else:
        closed = sub
    if lids:  # a bone cut by the scan's first or last slice: cap it with that slice's filled outline
        caps = [ndimage.binary_fill_holes(closed[0])[None], ndimage.binary_fill_holes(closed[-1])[None]]
        capped = np.concatenate([caps[0], closed, caps[1]])
        filled = fill_planes(ndimage.binary_fill_holes(capped), axes=(1, 2))[1:-1]
    else:
        filled = fill_planes(ndimage.binary_fill_holes(closed), axes=(1, 2))
    inner = filled & ~closed
    # the closing only seals: keep its bridges next to what they enclose, not on the outside
    out[box] = sub | inner | (closed & ndimage.binary_dilation(inner, iterations=1))
    if exclude is not None:
        out &= ~exclude
    return out
