"""Knee bones by anatomy: femur, tibia, patella and fibula separated along their joint spaces.

The old knee preset took the top slab of the scan as femur and the bottom slab as tibia: a scan
stored feet-first, or one ending at the condyles, named them wrongly or not at all. Here:

1. Which way is proximal comes from the scan axes (LPS: +z is superior, so the femur lies at
   higher z than the tibia whatever the slice order; :func:`scan_axes.axis_signs`).
2. Joint spaces are where the CT lies well below its grey closing (:func:`seeded.valley_depth`:
   a 1-3 mm dark gap between two bright bone surfaces, even one bridged at 200-400 HU by partial
   volume). Solid bone without those voxels, shrunk by 0-3 mm until the femur and tibia come
   apart, falls into one core per bone.
3. The cores are named by anatomy: the femur is the large core highest along z, the tibia the
   large core wholly below the femur's lowest point; the patella is a core in front (LPS -y) of
   the femur, above the tibia; the fibula a core below the femur, lateral to the tibia's axis.
4. A watershed on the valley depth from the cores (whole cores as markers, so a front cannot
   overrun a bone through a contact bridged within one thick slice) gives every bone voxel to
   the bone it is joined to.

All lengths are in mm and coordinates LPS; masks are boolean ``[k, j, i]`` on the scan's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, check_cancelled, report
from surgiplan.core.segmentation import islands, morphology

#: least plausible volume (mL) in view: a femur or tibia cut 30 mm from the joint line still has
#: tens of mL; an adult patella is 8-25 mL; a fibular head cut by the scan a few mL
KNEE_MIN_ML = {"femur": 20.0, "tibia": 20.0, "patella": 4.0, "fibula": 1.5}
KNEE_MAX_ML = {"patella": 40.0}


@dataclass
class _Piece:
    mask: np.ndarray  # bool, on the cropped grid
    ml: float
    centre: np.ndarray  # LPS mm
    z_lo: float
    z_hi: float
    shrunk_mm: float = 0.0  # the cores were shrunk by this much


def find_knee_bones(volume: Volume, bone: np.ndarray, *, joint_hu: float = 200.0, closing_mm: float = 3.0,
                    progress: Progress | None = None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Femur, tibia, patella and fibula of a knee CT, named by anatomy.

    Parameters
    ----------
    volume : Volume
        Axial CT in HU (any slice order; the direction matrix says which way is superior).
    bone : ndarray of bool [k, j, i]
        Solid bone (cortex with its cancellous core; metal included so it never splits a bone).
    joint_hu : float
        Depth (HU) below the grey closing from which a voxel counts as joint space.
    closing_mm : float
        Half-width (mm) of the grey closing (joint spaces up to about twice as wide).

    Returns
    -------
    masks : dict
        {"femur", "tibia"[, "patella"][, "fibula"]: bool [k, j, i]}.
    notes : list of str
        What was not found and why (a patella or fibula out of view).

    Raises
    ------
    InputError
        No femur and tibia apart (no joint in view, or a joint fused or bridged beyond 3 mm),
        with advice to place seeds.
    """
    from surgiplan.core.segmentation.scan_axes import axis_signs, spacing_kji
    from surgiplan.core.segmentation.seeded import valley_depth

    axis_signs(volume, "knee-bones")  # an axial scan; +z (superior) is read from the direction matrix
    bone = np.asarray(bone, bool)
    sp = spacing_kji(volume)
    box = morphology._crop_pad(bone, tuple(int(np.ceil(2 * closing_mm / s)) + 1 for s in sp))
    if box is None:
        raise InputError("knee-bones: no bone in this scan", hint="Check that it is a CT of the knee.")
    sub = bone[box]
    report(progress, 0.05, "joint spaces: depth below the grey closing")
    valley = valley_depth(np.asarray(volume.array[box]), sp, closing_mm)
    org = np.array([s.start for s in box], float)
    vml = float(np.prod(sp)) / 1000.0
    lists: list[list[_Piece]] = []
    ft = None
    named: dict[str, _Piece] = {}
    for n_try, (depth, r_mm) in enumerate(_TRIES):
        check_cancelled(progress)
        report(progress, 0.1 + 0.05 * n_try, f"bone cores (joint space >= {depth:g} HU deep, shrunk {r_mm:g} mm)")
        c = sub & (valley < depth * joint_hu / 200.0)
        if r_mm > 0:
            c = morphology.margin(c, -r_mm, volume.spacing)
        lists.append(_pieces(volume, c, org, vml, r_mm))
        here = _femur_tibia(lists[-1])
        if here is not None:
            own = _complete(here, lists[-1:])  # all bones apart in one try: its cores are consistent
            if len(own) > len(named):
                ft, named = here, own
            if len(named) == 4:
                break
    if ft is not None and len(named) < 4:
        named = _complete(ft, lists)  # a patella or fibula apart only in another try
    if ft is None:
        raise InputError("knee-bones: femur and tibia not found apart (no joint space between a bone above "
                         "and a bone below)", hint="Check that the scan shows the knee joint, or place one "
                                                  "seed in each bone (--seed femur=X,Y,Z --seed tibia=...).")
    keep_off_tibia = None
    if "fibula" not in named:  # its head bridged to the tibia: look for its shaft apart lower down
        fib = _fibula_shaft(volume, named, sub & (valley < joint_hu), org, vml)
        if fib is not None:
            named["fibula"], keep_off_tibia = fib
    notes = [f"no {n} found" for n in ("patella", "fibula") if n not in named]
    report(progress, 0.55, "separating the bones along the joint spaces")
    from skimage.segmentation import watershed

    # the whole cores as markers (a seed ball inside a bone could be overrun through a bridged
    # contact); a patella or fibula core may come from a try where it was apart while the femur's
    # or tibia's core still held it: those give up the small bone grown back by its shrink + 2 mm
    markers = np.zeros(sub.shape, np.int32)
    small = [n for n in named if n in ("patella", "fibula")]
    for n in small:
        markers[named[n].mask] = list(named).index(n) + 1
    for n in ("femur", "tibia"):
        m = named[n].mask & (markers == 0)
        if n == "tibia" and keep_off_tibia is not None:
            m &= ~keep_off_tibia
        for o in small:
            if (m & named[o].mask).any():
                m &= ~morphology.margin(named[o].mask, named[o].shrunk_mm + 2.0, volume.spacing)
        markers[m] = list(named).index(n) + 1
    lab = watershed(valley, markers, mask=sub)
    del valley
    parts = {}
    for i, n in enumerate(named, start=1):
        parts[n] = np.zeros(bone.shape, bool)
        parts[n][box] = lab == i
    report(progress, 1.0, "knee: " + ", ".join(parts))
    return parts, notes


def solid_knee_bone(volume: Volume, image: np.ndarray, *, low: float = 300.0, close_mm: float = 1.5,
                    min_island_ml: float = 1.0, exclude: np.ndarray | None = None) -> np.ndarray:
    """Knee bone with its cancellous core: ``image`` (the smoothed CT) >= ``low`` HU, the cortex
    closed by ``close_mm`` and what it encloses filled in 3D (a cavity cut by the scan's first or
    last slice counts as closed). Not slice by slice as :func:`bone_fill.solid_bone` also does:
    in a coronal slice the condyles and the tibial plateau enclose the intercondylar notch, which
    would become bone bridging femur and tibia."""
    m = np.asarray(image) >= low
    if exclude is not None:
        m &= ~exclude
    if not m.any():
        raise InputError(f"knee-bones: no voxel reaches {low:g} HU: this does not look like a CT with bone",
                         hint="Check that the scan is a CT in Hounsfield units.")
    m = islands.remove_small(m, min_island_ml * 1000.0, volume.spacing)
    closed = morphology.closing(m, close_mm, volume.spacing) if close_mm > 0 else m
    inner = morphology.fill_holes_lidded(closed) & ~closed
    out = m | inner | (closed & ndimage.binary_dilation(inner))  # the closing only seals what it encloses
    if exclude is not None:
        out &= ~exclude
    return out


def _pieces(volume: Volume, core: np.ndarray, org, vml: float, shrunk_mm: float = 0.0) -> list[_Piece]:
    out = []
    for m in islands.split_islands(core, min_voxels=max(1, int(1.0 / vml))):  # >= 1 mL, largest first
        idx = np.nonzero(m)
        kji = np.column_stack(idx).astype(float) + org
        step = max(1, len(kji) // 20000)
        w = volume.index_to_world(kji[::step, ::-1])
        out.append(_Piece(m, float(len(idx[0]) * vml), w.mean(axis=0), float(w[:, 2].min()), float(w[:, 2].max()),
                          shrunk_mm))
        if len(out) >= 12:
            break
    return out


#: (joint-space depth in HU for ``joint_hu`` = 200, shrink in mm) tried in turn until femur, tibia,
#: patella and fibula are all apart: a narrow patellofemoral space under a thin cortex is only
#: 120-250 HU deep, while cancellous texture reaches 150 HU (so the deep cut comes first); where a
#: condyle touches the plateau within one thick slice the joint space is not dark at all (both
#: cortices share the slice) and only shrinking by 4-6 mm parts them
_TRIES = ((200.0, 0.0), (200.0, 1.0), (150.0, 1.0), (120.0, 1.0), (120.0, 2.0), (200.0, 3.0), (200.0, 4.5),
          (200.0, 6.0))


def _complete(ft, lists: list[list[_Piece]]) -> dict[str, _Piece]:
    """Femur and tibia ``ft`` with the patella and fibula from the first list of pieces that has
    them apart (a patella comes apart at a shallower joint-space depth than a femur whose condyles
    touch the plateau within a slice; such femur or tibia pieces never pass for patella or fibula)."""
    femur, tibia = ft[0], ft[1]
    out = {"femur": femur, "tibia": tibia}
    for pieces in lists:
        rest = [p for p in pieces if p is not femur and p is not tibia]
        if "patella" not in out:
            pat = _patella(femur, tibia, rest)
            if pat is not None:
                out["patella"] = pat
                rest = [p for p in rest if p is not pat]
        if "fibula" not in out:
            fib = _fibula(femur, tibia, rest)
            if fib is not None:
                out["fibula"] = fib
    return out


def _femur_tibia(pieces: list[_Piece]):
    """(femur, tibia, the other pieces) or None: the femur the large piece highest along z, the
    tibia the large piece whose centre lies below the femur's lowest point."""
    big = [p for p in pieces if p.ml >= KNEE_MIN_ML["femur"]]
    if len(big) < 2:
        return None
    femur = max(big, key=lambda p: p.centre[2])
    below = [p for p in big if p is not femur and p.centre[2] < femur.z_lo and p.z_hi < femur.centre[2]]
    if not below:
        return None
    tibia = max(below, key=lambda p: p.ml)
    return femur, tibia, [p for p in pieces if p is not femur and p is not tibia]


def _patella(femur: _Piece, tibia: _Piece, rest: list[_Piece]) -> _Piece | None:
    """The piece in front of the femur (LPS -y) above the tibia, of a patella's size."""
    cands = [p for p in rest if KNEE_MIN_ML["patella"] <= p.ml <= KNEE_MAX_ML["patella"]
             and p.centre[1] < femur.centre[1] - 10.0 and p.centre[2] > tibia.z_hi]
    return min(cands, key=lambda p: p.centre[1]) if cands else None


def _fibula(femur: _Piece, tibia: _Piece, rest: list[_Piece]) -> _Piece | None:
    """The largest piece below the femur whose centre lies 15 mm or more to the side of the tibia's."""
    cands = [p for p in rest if p.ml >= KNEE_MIN_ML["fibula"] and p.z_hi < femur.z_lo
             and abs(p.centre[0] - tibia.centre[0]) >= 15.0 and p.ml < 0.5 * tibia.ml]
    return max(cands, key=lambda p: p.ml) if cands else None


def _fibula_shaft(volume: Volume, named: dict[str, _Piece], core: np.ndarray, org, vml: float,
                  below_mm: float = 35.0, head_mm: float = 15.0):
    """(fibula piece, voxels kept off the tibia's marker) or None: when the fibular head is bridged
    to the tibia in every try, its shaft still stands apart in the unshrunk ``core`` more than
    ``below_mm`` below the tibia's top. The shaft is the piece there 15 mm or more to the side of
    the tibial shaft; the tibia's marker then leaves out ``head_mm`` around the shaft's axis
    carried up to the head, so the watershed can give the head to the fibula."""
    tib = named["tibia"]
    nk = tib.mask.shape[0]
    kk = np.arange(nk, dtype=float) + org[0]
    z = volume.index_to_world(np.column_stack([np.zeros((nk, 2)), kk]))[:, 2]
    slab = core & (z < tib.z_hi - below_mm)[:, None, None]
    pieces = _pieces(volume, slab, org, vml)
    if len(pieces) < 2:
        return None
    shaft = pieces[0]  # the tibial shaft: the largest
    cands = [p for p in pieces[1:] if abs(p.centre[0] - shaft.centre[0]) >= 15.0
             and p.ml >= KNEE_MIN_ML["fibula"] and p.ml < 0.5 * shaft.ml]
    if not cands:
        return None
    fib = max(cands, key=lambda p: p.ml)
    idx = np.argwhere(fib.mask).astype(float) + org
    if len(np.unique(idx[:, 0])) < 3:
        return None
    w = volume.index_to_world(idx[:, ::-1])
    fx = np.polyfit(w[:, 2], w[:, 0], 1)
    fy = np.polyfit(w[:, 2], w[:, 1], 1)
    sp = np.asarray(volume.spacing, float)
    near = np.zeros(tib.mask.shape, bool)
    jj, ii = np.ogrid[: tib.mask.shape[1], : tib.mask.shape[2]]
    for k in np.nonzero(z >= fib.z_lo)[0]:
        c = volume.world_to_index(np.array([[np.polyval(fx, z[k]), np.polyval(fy, z[k]), z[k]]]))[0]
        near[k] = (((ii + org[2] - c[0]) * sp[0]) ** 2 + ((jj + org[1] - c[1]) * sp[1]) ** 2) < head_mm ** 2
    return fib, near


def knee_doubts(volume: Volume, masks: dict[str, np.ndarray]) -> list[str]:
    """Implausible knee bones (too small or too large in view), each with its volume."""
    vml = volume.voxel_volume_mm3 / 1000.0
    out = []
    for n, m in masks.items():
        ml = float(m.sum() * vml)
        if n in KNEE_MIN_ML and ml < KNEE_MIN_ML[n]:
            out.append(f"{n} {ml:.1f} mL (less than {KNEE_MIN_ML[n]:g} mL)")
        if n in KNEE_MAX_ML and ml > KNEE_MAX_ML[n]:
            out.append(f"{n} {ml:.1f} mL (more than {KNEE_MAX_ML[n]:g} mL)")
    return out
