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

Contrast blood that **touches** the skeleton (the aorta against a vertebra, the heart against the
sternum and ribs) is one piece with it; :func:`attached_pools` cuts the mask at its narrow necks
(cores 3 mm inside it), judges each core's region by the same missing rim and by how much of it
faces soft tissue, and hands the pools to the same segment (docs/bone_contrast_touching.md).
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
    touching: bool = False  # cut off the skeleton at a neck (:func:`attached_pools`), not a piece of its own


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
    from surgiplan.core.segmentation.morphology import _crop_pad

    bone = np.asarray(bone, bool)
    out = np.zeros(bone.shape, bool)
    box = _crop_pad(bone, (1, 1, 1))  # labels on the bone's box (+1 voxel), not the whole grid
    if box is None:
        return out, []
    vv = float(np.prod(spacing)) / 1000.0
    lab, sizes = label_components(bone[box])
    if len(sizes) < 3 or sizes[2] * vv < min_ml:
        return out, []  # numbered by decreasing size: no piece but the largest is judged
    found: list[Piece] = []
    # piece 1 (the largest) is the skeleton's main piece, never judged
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if c == 1 or sl is None or sizes[c] * vv < min_ml:
            continue
        sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)  # within the box (it has the voxel)
        at = tuple(slice(o.start + s.start, o.start + s.stop) for o, s in zip(box, sl, strict=True))
        comp = lab[sl] == c
        v = np.asarray(ct[at], np.float32)
        inside = ndimage.binary_erosion(comp)
        if not inside.any():
            continue
        rim_rise = float(np.median(v[comp & ~inside]) - np.median(v[inside]))
        cortex = float((v[comp] >= cortex_hu).mean())
        if rim_rise > max_rim_rise_hu or cortex > max_cortex_fraction:
            continue
        out[at] |= comp
        ctr = tuple(int((s.start + s.stop) // 2) for s in at)
        found.append(Piece(float(sizes[c] * vv), float(np.median(v[comp])), rim_rise, cortex, ctr))
    return out, found


def describe(pieces: list[Piece], total_ml: float | None = None) -> str:
    """What the ``bone`` preset says when it moved ``pieces`` to the ``contrast`` segment
    (``total_ml``: the segment's volume, when small branches cut off with the pieces add to them)."""
    ml = sum(p.volume_ml for p in pieces)
    branches = 0.0 if total_ml is None else total_ml - ml
    each = ", ".join(f"{p.volume_ml:.0f} mL at {p.median_hu:.0f} HU" + (" (touching bone)" if p.touching else "")
                     for p in pieces[:6])
    more = f" and {len(pieces) - 6} more" if len(pieces) > 6 else ""
    if branches >= 0.05:
        more += f", with {branches:.1f} mL of small vessels cut off with them"
        ml = float(total_ml)
    cut = any(p.touching for p in pieces)
    how = ("each is a piece of its own, or cut off the skeleton where it touches it at a narrow neck, "
           if cut else "each is a piece of its own ")
    return (
        f"'contrast': {ml:.1f} mL in {len(pieces)} piece(s) ({each}{more}) left out of 'bone': {how}"
        f"with no brighter cortex rim"
        + ("" if cut else f" and almost no voxel >= {CORTEX_HU:.0f} HU")
        + ", as contrast-enhanced kidneys, heart or vessels look. If one is bone, merge 'contrast' into "
        "'bone' (or paint it); if it is an organ, delete the 'contrast' segment."
    )


def _face_shifts(m: np.ndarray, op) -> np.ndarray:
    """``m`` combined by ``op`` (&=, |=) with its six face neighbours; at the grid's edge the
    missing neighbour is the voxel itself (as scipy.ndimage's 6-neighbour erosion or dilation of
    ``np.pad(m, 1, mode="edge")``)."""
    out = m.copy()
    for ax in range(3):
        lo, hi = [slice(None)] * 3, [slice(None)] * 3
        lo[ax], hi[ax] = slice(None, -1), slice(1, None)
        op(out[tuple(lo)], m[tuple(hi)], out=out[tuple(lo)])
        op(out[tuple(hi)], m[tuple(lo)], out=out[tuple(hi)])
    return out


def _box_grown(m: np.ndarray) -> np.ndarray:
    """``m`` dilated by the 3 x 3 x 3 cube (as scipy.ndimage.binary_dilation with it), one axis at a time."""
    out = m
    for ax in range(3):
        lo, hi = [slice(None)] * 3, [slice(None)] * 3
        lo[ax], hi[ax] = slice(None, -1), slice(1, None)
        g = out.copy()
        g[tuple(lo)] |= out[tuple(hi)]
        g[tuple(hi)] |= out[tuple(lo)]
        out = g
    return out


def _face_eroded(m: np.ndarray) -> np.ndarray:
    return _face_shifts(m, np.logical_and)


def _face_grown(m: np.ndarray) -> np.ndarray:
    return _face_shifts(m, np.logical_or)


#: inscribed radius (mm) of the cores a bone mask is cut into: a neck thinner than about twice
#: this (contrast blood pressed against a vertebra, the heart against the sternum) parts them
CORE_MM = 3.0
#: a core of at least this volume (mL) is judged; thinner parts (a rib, a small vessel) stay as they are
MIN_CORE_ML = 0.5
#: a contrast pool's core has its median CT value in this range (HU): metal, cortex and undiluted
#: contrast are brighter; osteoporotic marrow is as bright as blood, so the rim and exposure decide
POOL_HU = (150.0, 700.0)
#: metal (HU) and the volume of it (mL) above which a region is never a pool: metal's streaks and
#: blooming make a dark rim next to a bright core (undiluted contrast in the veins stays under it)
METAL_HU, METAL_ML = 2500.0, 1.0
#: a joint space or a hole of the mask narrower than about twice this (mm) does not count as outside
#: when the rim is measured: only the surface facing open soft tissue does
OPEN_MM = 3.0
#: at least this fraction of a pool's surroundings (voxels next to it) is not bone: a pool touches the
#: skeleton along a small part of its surface. Measured (6-neighbour shell outside the region): the
#: TCIA CT's aorta 0.97, the contrast CT's heart and great vessels 0.88; the cancellous bone of an
#: osteoporotic femoral head 0.71 and of two ilia beside the sacroiliac joints 0.69 and 0.77 (their rim
#: is as dim as blood's: thin cortex below 200 HU at 3 mm), vertebrae and ribs 0.6-0.97 (bright rim)
MIN_EXPOSED = 0.8


def attached_pools(
    ct: np.ndarray,
    bone: np.ndarray,
    spacing,
    *,
    core_mm: float = CORE_MM,
    min_core_ml: float = MIN_CORE_ML,
    min_ml: float = MIN_ORGAN_ML,
    max_rim_rise_hu: float = MAX_RIM_RISE_HU,
    pool_hu: tuple[float, float] = POOL_HU,
    open_mm: float = OPEN_MM,
    min_exposed: float = MIN_EXPOSED,
    debug: list | None = None,
) -> tuple[np.ndarray, list[Piece]]:
    """Contrast blood (aorta, heart, great vessels) joined to the skeleton in ``bone``, cut off at its neck.

    ``bone`` is shrunk by ``core_mm`` (Euclidean, mm): the cores left are its thick parts (a
    vertebral body, a femoral head, the aorta, the heart's chambers); a neck thinner than about
    twice ``core_mm`` between a vessel and a bone is gone. Each voxel of ``bone`` within ``core_mm``
    plus one voxel of a core goes to the nearest core (Euclidean distance): that core's region. A
    region is a contrast pool when

    * its core's median is within ``pool_hu`` (HU);
    * it has no cortex rim: its outer layer (voxels with a face neighbour in the open outside, i.e.
      outside ``bone`` closed by ``open_mm``) is at most ``max_rim_rise_hu`` brighter than its core
      (medians). Bone's cortex is brighter than its marrow; blood blurs into fat;
    * it is exposed: at least ``min_exposed`` of the voxels next to it are not bone, or belong to a
      pool already found (a pool touches the skeleton; an osteoporotic bone's dim inside is
      surrounded by the rest of that bone);
    * it holds at least ``min_ml`` mL and at most METAL_ML mL of metal (>= METAL_HU).

    What the pools cut off the rest of ``bone`` and is smaller than ``min_ml`` (a vessel's branches)
    goes with them, unless it was a piece of its own before.

    Parameters are as :func:`contrast_pieces`' (CT in HU [k, j, i], ``spacing`` (i, j, k) mm).
    ``debug``, a list, receives one tuple per judged core.

    Returns
    -------
    (ndarray of bool [k, j, i], list of Piece)
        The union of the pools (a subset of ``bone``) and one :class:`Piece` each (its region's
        mL, its core's median HU, its rim rise and the fraction of its outer layer at
        >= CORTEX_HU), largest first.
    """
    from surgiplan.core.segmentation import margin_sitk
    from surgiplan.core.segmentation.islands import label_components
    from surgiplan.core.segmentation.morphology import _crop_pad

    bone = np.asarray(bone, bool)
    out = np.zeros(bone.shape, bool)
    box = _crop_pad(bone, (1, 1, 1))
    if box is None:
        return out, []
    b = bone[box]
    a = ct[box]
    vv = float(np.prod(spacing)) / 1000.0
    core = margin_sitk.margin(b, -core_mm, spacing, tiled=True)
    if not core.any():
        return out, []
    lab, sizes = label_components(core)
    del core
    reach = core_mm + float(max(spacing))
    pad = tuple(int(np.ceil(reach / s)) + 2 for s in tuple(spacing)[::-1])
    # the distances to a core are needed only within ``reach`` of it: on tiles next to the core's
    # (the same numbers, margin_sitk.distance_near) when the spacing allows it
    surface = None  # voxels of ``b`` with a face neighbour outside it (the grid's edge is not outside)
    cands = []  # [region's slices, region, its bony neighbours, neighbour count, Piece]: all but the exposure passed
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or sizes[c] * vv < min_core_ml:
            break  # numbered by decreasing size
        csl = tuple(slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(sl, pad, lab.shape, strict=True))
        lc = lab[csl]
        own = lc == c
        core_med = float(np.median(np.asarray(a[csl][own], np.float32)))
        if not pool_hu[0] <= core_med <= pool_hu[1]:
            continue
        others = (lc > 0) & ~own
        del lc
        bb = b[csl]
        near = margin_sitk.tiles_near(own, spacing, reach, where=bb)
        if near is None:
            d_own = margin_sitk.distance_outside(own, spacing)
            d_other = margin_sitk.distance_outside(others, spacing) if others.any() else np.inf
            region = bb & (d_own <= reach) & (d_own < d_other)
            del d_own, d_other
        else:  # crop by crop (the same crops for both maps): no map of the whole box
            region = np.zeros(bb.shape, bool)
            mine = margin_sitk._near(own, spacing, reach, *near)
            theirs = margin_sitk._near(others, spacing, reach, *near) if others.any() else None
            for inner, d_own in mine:
                d_other = np.inf if theirs is None else next(theirs)[1]
                if d_own is not None:
                    region[inner] = bb[inner] & (d_own <= reach) & (d_own < (np.inf if d_other is None else d_other))
        del own, others
        # the region lies >= 2 voxels inside ``csl`` (or at the grid's edge): its outer layer and its
        # neighbours are those of its own box grown by one voxel
        rsl = _crop_pad(region, (1, 1, 1))
        if rsl is None:  # never: the core itself is in its region
            continue
        region = region[rsl]
        rsl = tuple(slice(c0.start + r.start, c0.start + r.stop) for c0, r in zip(csl, rsl, strict=True))
        bb = b[rsl]
        v = np.asarray(a[rsl], np.float32)
        if surface is None:
            surface = b & ~_face_eroded(b)
        # outer layer: voxels with a face neighbour outside the bone
        outer = region & surface[rsl]
        ml = float(region.sum() * vv)
        rim_rise = float(np.median(v[outer]) - core_med) if outer.any() else np.inf
        if rim_rise <= max_rim_rise_hu and ml >= min_ml and open_mm > 0:
            # the same on the open outside only: joint spaces and holes of the mask closed
            op = ~margin_sitk.closing(b[csl], open_mm, spacing)
            op = op[tuple(slice(r.start - c0.start, r.stop - c0.start) for c0, r in zip(csl, rsl, strict=True))]
            outer = region & _face_grown(op)
            rim_rise = max(rim_rise, float(np.median(v[outer]) - core_med) if outer.any() else np.inf)
        cortex = float((v[outer] >= CORTEX_HU).mean()) if outer.any() else 0.0
        shell = _face_grown(region) & ~region
        exposed = float((shell & ~bb).sum() / max(shell.sum(), 1))
        if debug is not None:
            debug.append((c, float(sizes[c] * vv), core_med, ml, rim_rise, exposed, cortex,
                          tuple(int(s.start + o.start) for s, o in zip(sl, box, strict=True))))
        if ml < min_ml or rim_rise > max_rim_rise_hu or (v[region] >= METAL_HU).sum() * vv > METAL_ML:
            continue
        ctr = tuple(int(o.start + (s.start + s.stop) // 2) for o, s in zip(box, sl, strict=True))
        cands.append([rsl, region, shell & bb, int(shell.sum()), Piece(ml, core_med, rim_rise, cortex, ctr, True)])
    del lab
    pools = np.zeros(b.shape, bool)
    found: list[Piece] = []
    changed = True
    while changed:  # a pool's neighbour counts as exposed where it touches the pools already found
        changed = False
        for cand in cands:
            csl, region, bony, n_shell, piece = cand
            if csl is None:
                continue
            if 1.0 - float((bony & ~pools[csl]).sum()) / max(n_shell, 1) >= min_exposed:
                pools[csl] |= region
                found.append(piece)
                cand[0] = None
                changed = True
    if found:
        # what the pools cut off the skeleton and is smaller than a pool (branches: coronary,
        # pulmonary, intercostal vessels) goes with them; it was joined to the bone only through them
        rest, rest_sizes = label_components(b & ~pools)
        small = np.flatnonzero(rest_sizes * vv < min_ml)
        small = small[small > 0]
        if len(small):
            touch = np.unique(rest[_box_grown(pools) & (rest > 0)])
            cut = np.isin(rest, np.intersect1d(small, touch))
            before, _ = label_components(b)
            # not a piece of its own before the cut (an island the threshold left stays as it was)
            n_before = np.bincount(before.ravel())
            n_cut = np.bincount(before[cut], minlength=len(n_before))
            own_piece = np.isin(before, np.flatnonzero((n_cut == n_before) & (n_before > 0)))
            pools |= cut & ~own_piece
    out[box] = pools
    found.sort(key=lambda p: -p.volume_ml)
    return out, found
