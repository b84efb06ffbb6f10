"""Contrast-enhanced soft tissue that a bone threshold takes in: kidneys, heart, vessel pools.

On a contrast CT, enhanced kidneys (200-300 HU) and the heart's blood pool lie above the
``bone`` preset's 200 HU threshold and come out as "bone". They differ from bone by what is
around them, not by their value alone:

* **no cortex rim**: a bone's outer layer of voxels is brighter than its inside (the cortex, even
  a thin one below 500 HU, blurs into it); an enhanced organ's outer layer is darker or equal (it
  blurs into fat). Measured (median of the outer layer minus median of the inside, HU) on the
  TCIA trunk CT (``../shared/data/ct/ct_abdomen_spine_tcia``): kidneys -13 and -15, the heart -50;
  ribs and costal pieces +20 .. +138, the skeleton +89; the osteoporotic femurs and hip bones of a
  real 3 mm CT +17 .. +131 (:func:`surgiplan.core.segmentation.plausibility._blood_like`).
* **no cortex**: under 1 % of the piece at >= 700 HU (kidneys 0-0.2 %, heart 0.4 %; ribs 0.2-21 %,
  so this only guards against excreted contrast or metal, the rim does the work);
* **organ-sized**: at least ``min_ml`` (5 mL; the kidneys' enhanced parts 84-97 mL);
* **not attached to the skeleton by bone**: a piece of its own in the bone mask (26-connected),
  never the largest piece.

:func:`contrast_pieces` finds them; the ``bone`` preset moves them to a ``contrast`` segment and
says so (a doubt), so that nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: a piece whose outer layer is at most this much brighter than its inside has no cortex (HU)
MAX_RIM_RISE_HU = 0.0
#: CT value of cortex (HU); a contrast organ has almost none of it
CORTEX_HU = 700.0
#: at most this fraction of a contrast organ's voxels reaches CORTEX_HU
MAX_CORTEX_FRACTION = 0.01
#: smaller pieces stay bone (a vessel's cross-section, a rib tip: too few voxels to judge the rim)
MIN_ORGAN_ML = 5.0


@dataclass(frozen=True)
class Piece:
    """One piece of a bone mask judged contrast-enhanced soft tissue (values in mL and HU)."""

    volume_ml: float
    median_hu: float
    rim_rise_hu: float
    cortex_fraction: float
    centre_kji: tuple[int, int, int]


def contrast_pieces(
    ct: np.ndarray,
    bone: np.ndarray,
    spacing,
    *,
    min_ml: float = MIN_ORGAN_ML,
    max_rim_rise_hu: float = MAX_RIM_RISE_HU,
    cortex_hu: float = CORTEX_HU,
    max_cortex_fraction: float = MAX_CORTEX_FRACTION,
) -> tuple[np.ndarray, list[Piece]]:
    """The pieces of ``bone`` that look like contrast-enhanced soft tissue, not bone.

    Parameters
    ----------
    ct : ndarray [k, j, i]
        CT in HU.
    bone : ndarray of bool [k, j, i]
        A bone mask of that CT (e.g. the ``bone`` preset's, >= 200 HU, cavities filled).
    spacing : (si, sj, sk)
        Voxel size in mm.
    min_ml : float
        A piece of at least this volume (mL) is judged; smaller ones stay bone.
    max_rim_rise_hu : float
        The piece's outer voxel layer (6-neighbour erosion) is at most this much brighter than
        its inside (HU, medians): no cortex rim.
    cortex_hu, max_cortex_fraction : float
        At most ``max_cortex_fraction`` of the piece reaches ``cortex_hu`` (HU).

    Returns
    -------
    (ndarray of bool [k, j, i], list of Piece)
        The union of those pieces (a subset of ``bone``) and one :class:`Piece` each, largest first.
    """
    from surgiplan.core.segmentation.islands import label_components

    bone = np.asarray(bone, bool)
    out = np.zeros(bone.shape, bool)
    if not bone.any():
        return out, []
    vv = float(np.prod(spacing)) / 1000.0
    lab, sizes = label_components(bone)
    found: list[Piece] = []
    # piece 1 (the largest) is the skeleton's main piece, never judged
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if c == 1 or sl is None or sizes[c] * vv < min_ml:
            continue
        sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        comp = lab[sl] == c
        v = np.asarray(ct[sl], np.float32)
        inside = ndimage.binary_erosion(comp)
        if not inside.any():
            continue
        rim_rise = float(np.median(v[comp & ~inside]) - np.median(v[inside]))
        cortex = float((v[comp] >= cortex_hu).mean())
        if rim_rise > max_rim_rise_hu or cortex > max_cortex_fraction:
            continue
        out[sl] |= comp
        ctr = tuple(int((s.start + s.stop) // 2) for s in sl)
        found.append(Piece(float(sizes[c] * vv), float(np.median(v[comp])), rim_rise, cortex, ctr))
    return out, found


def describe(pieces: list[Piece]) -> str:
    """What the ``bone`` preset says when it moved ``pieces`` to the ``contrast`` segment."""
    ml = sum(p.volume_ml for p in pieces)
    each = ", ".join(f"{p.volume_ml:.0f} mL at {p.median_hu:.0f} HU" for p in pieces[:6])
    more = f" and {len(pieces) - 6} more" if len(pieces) > 6 else ""
    return (
        f"'contrast': {ml:.1f} mL in {len(pieces)} piece(s) ({each}{more}) left out of 'bone': each is a piece "
        f"of its own with no brighter cortex rim and almost no voxel >= {CORTEX_HU:.0f} HU, as contrast-enhanced "
        f"kidneys, heart or vessels look. If one is bone, merge 'contrast' into 'bone' (or paint it); "
        f"if it is an organ, delete the 'contrast' segment."
    )
