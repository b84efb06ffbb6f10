"""One-click segmentation presets: bone, hip-bones, knee-bones, spine-bones, vessel.

Each preset is a short chain of the editing tools (threshold -> islands ->
morphology -> seeded watershed) with anatomical seeds found automatically from
the patient axes (LPS: +x patient left, +y posterior, +z superior), so it works
on any scan orientation. Parameters are in HU and mm.

* ``bone``: CT >= 200 HU, closed cavities filled, islands < 1 mL removed, then its outer surface
  moved (by at most 1.5 mm / one voxel, only at a bone-like cortex) to half-way between the local
  cortex and soft tissue (issue 23); ``partial_volume=False`` (CLI ``--fixed-threshold``): 200 HU.
* ``hip-bones``: femoral heads found as spheres in their sockets (:mod:`hip_anatomy`; no shaft
  needed), each femur (head, neck, trochanters) cut from the hip bone along the joint space,
  ``femur_left`` / ``femur_right`` named from the head's side of the midline, ``metal`` its own
  segment. With both hips and the sacrum in view the pelvis comes as ``hip_bone_left``,
  ``hip_bone_right``, ``sacrum`` and ``lumbar_spine`` (split at the sacroiliac joints, the pubic
  symphysis and the L5-S1 disc), else as one ``pelvis`` with the reason as a doubt
  (``split_pelvis=False``: always one ``pelvis``).
* ``knee-bones``: ``femur``, ``tibia``, ``patella``, ``fibula`` by anatomy (:mod:`knee_anatomy`:
  cores apart at the joint spaces, named from the scan axes, split by a watershed on the
  joint-space map), ``metal`` as its own segment.
* ``spine-bones``: >= 500 HU, closed cavities filled (not slice by slice: the
  neural arch rings the canal; a cavity cut open by the scan's first or last
  slice counts as closed: the sacrum's marrow), vertebrae as separate pieces;
  the lowest piece is the ``sacrum`` when it is clearly the largest and the
  vertebrae are named up from it (L5, L4, ...), else L1.. from the top
  (``names`` to override).
* ``vessel``: contrast lumen (150..800 HU by default): after a 2 mm opening,
  the tube through the largest round bright blob of the lowest slices (the
  aorta, with the iliacs when present) followed slice by slice, stopping where
  it opens into a heart chamber and not following the small blobs that split
  off above the arch (head and neck branches). The opened-away rim is added
  back only where it is nearer to the tube than to another thick bright
  structure (pulmonary artery, veins). Segment ``vessel``. Thin branches
  (renal, visceral, intercostal arteries) follow as a second segment
  ``vessel_branches``: geodesic reconstruction from the vessel inside the
  lumen at least half-way between the threshold and the vessel's median,
  <= ``branch_mm`` (60 mm) of path, kept clear of other thick bright structures
  and of bone (cortex ring around marrow); ``branch_mm=0`` turns it off.
"""

from __future__ import annotations

import re

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.segmentation import islands, morphology
from surgiplan.core.segmentation.segmentation import Segmentation
from surgiplan.core.segmentation.threshold import threshold
from surgiplan.core.segmentation.vessel_preset import THICK_ML, _vessel  # noqa: F401 - the vessel preset

PRESETS = ("bone", "hip-bones", "knee-bones", "spine-bones", "vessel")


def apply_preset(volume: Volume, preset: str, progress: Progress | None = None, **options) -> Segmentation:
    """Run preset ``preset`` on a CT ``volume``; returns a new Segmentation on its grid.

    ``options`` tune the preset (e.g. ``low=``, ``high=`` HU). Raises InputError for
    an unknown preset or when the anatomy is not found (e.g. no bone above the
    threshold: wrong scan or MR).
    """
    key = preset.lower().replace("_", "-")
    funcs = {
        "bone": _bone, "hip-bones": _hip, "knee-bones": _knee, "spine-bones": _spine, "vessel": _vessel,
    }
    if key not in funcs:
        raise InputError(f"unknown preset '{preset}'", hint=f"Use one of: {', '.join(PRESETS)}.")
    seg = Segmentation.from_volume(volume)
    masks = funcs[key](volume, progress=progress, **options)
    if isinstance(masks, tuple):  # (masks, what the preset doubts: see plausibility.check_anatomy)
        masks, doubts = masks
        if doubts:
            seg.metadata["preset_doubts"] = list(doubts)
    for name, m in masks.items():
        if not m.any():
            raise InputError(f"preset '{preset}': found no '{name}' in this scan",
                             hint="Check that it is a CT of that region, or segment by hand.")
        seg.add_segment(name, m)
    report(progress, 1.0, f"{preset}: {', '.join(masks)}")
    return seg


#: Words of a scan's DICOM texts (BodyPartExamined, study/series description) per preset, checked
#: in this order: a CTA of the pelvis is a vessel scan, a knee with "femur" in it a knee scan.
_SCAN_WORDS = (
    ("vessel", re.compile(r"\b(cta|angio\w*|aort\w*|runoff|vascular)", re.I)),
    ("knee-bones", re.compile(r"\b(knee|genu|tibia\w*|patell\w*)", re.I)),
    ("hip-bones", re.compile(r"\b(hips?|pelvis|pelvic|femur|femor\w*|acetab\w*|coxa\w*)", re.I)),
    ("spine-bones", re.compile(r"\b(spine|spinal|lumbar|[lt]-?spine|lws|vertebr\w*|sacrum)", re.I)),
)
_SAMPLE_ANATOMY = {"hip": "hip", "knee": "knee", "spine": "spine", "vascular": "vascular"}


def suggest_preset(metadata: dict | None) -> str:
    """The preset a scan most likely wants, from its metadata; ``"bone"`` without a clue.

    A sample scan's name (``metadata["sample"]``) gives its anatomy's preset (the anatomy
    registry's ``preset``); otherwise the DICOM texts (``body_part``/``BodyPartExamined``,
    ``study_description``, ``series_description``) are read for the region. A chest, head or
    unknown scan gets "All bone", never a region's preset that would find nothing.

    >>> suggest_preset({"study_description": "CT THORAX"})
    'bone'
    >>> suggest_preset({"body_part": "KNEE"})
    'knee-bones'
    """
    from surgiplan.core.planning.anatomy import ANATOMIES

    md = metadata or {}
    sample = str(md.get("sample") or "")
    for prefix, anatomy in _SAMPLE_ANATOMY.items():
        if sample.startswith(prefix) and not sample.endswith("mri"):
            return ANATOMIES[anatomy].preset
    text = " ".join(str(md.get(k) or "") for k in (
        "body_part", "body_part_examined", "BodyPartExamined", "study_description", "StudyDescription",
        "series_description", "SeriesDescription")).replace("_", " ")
    for preset, words in _SCAN_WORDS:
        if words.search(text):
            return preset
    return "bone"


# ----------------------------------------------------------------- helpers
def _world_axes(volume: Volume) -> np.ndarray:
    """LPS coordinates of every voxel centre along x, y, z as three [k, j, i]-broadcastable arrays."""
    k, j, i = (np.arange(n, dtype=np.float64) for n in volume.array.shape)
    m = volume.direction * np.asarray(volume.spacing)[None, :]
    o = np.asarray(volume.origin)
    return [
        o[a] + m[a, 0] * i[None, None, :] + m[a, 1] * j[None, :, None] + m[a, 2] * k[:, None, None]
        for a in range(3)
    ]


def _z_of(volume: Volume, mask: np.ndarray) -> np.ndarray:
    """LPS z (mm) of the voxels of ``mask`` (same order as np.nonzero)."""
    idx = np.array(np.nonzero(mask), float)  # k, j, i
    return volume.index_to_world(idx[::-1].T)


def bone_mask(volume: Volume, low: float = 200.0, min_island_ml: float = 1.0, progress: Progress | None = None,
              fill_marrow: bool = True, partial_volume: bool = False) -> np.ndarray:
    """CT bone: >= ``low`` HU, closed cavities filled, islands < ``min_island_ml`` removed.

    ``fill_marrow``: also fill holes slice by slice (axial), which makes long bones
    solid (marrow canal) but would fill a skull's cranial cavity: off for ``bone``.
    ``partial_volume``: ``low`` is only the rough mask; the boundary then sits half-way between
    the local cortex and soft-tissue values and joint spaces are left out
    (:func:`surgiplan.core.segmentation.partial_volume.partial_volume_bone`).
    """
    if partial_volume:
        from surgiplan.core.segmentation.partial_volume import partial_volume_bone

        return partial_volume_bone(volume, low, min_island_ml, fill_per_slice=fill_marrow, progress=progress)
    report(progress, 0.05, f"threshold >= {low:g} HU")
    m = threshold(volume, low, None)
    if not m.any():
        raise InputError(f"no voxel reaches {low:g} HU: this does not look like a CT with bone")
    report(progress, 0.3, "removing small islands")
    m = islands.remove_small(m, min_island_ml * 1000.0, volume.spacing)
    report(progress, 0.6, "filling marrow cavities")
    m = morphology.fill_holes(m)
    if fill_marrow:
        m = morphology.fill_holes(m, per_slice=True)
    return m


def _bone(volume, progress=None, low: float | None = None, min_island_ml: float = 1.0, partial_volume: bool = True,
          split_contrast: bool = True, split_touching: bool = True, **_):
    """All bone: >= ``low`` (200) HU, its outer surface moved to half-way between the local cortex
    and soft tissue (:func:`partial_volume.partial_volume_bone`; ``partial_volume=False``: the fixed
    threshold's surface). Issue 23: a fixed 200 HU surface sat 0.5-1 mm outside the bone (+10 %
    volume on CT phantoms). The move is capped at 1.5 mm (>= 1 voxel) and made only where a
    bone-like cortex faces the outside, so contrast-filled organs and vessels keep their 200 HU
    rim; on the 512 x 512 x 134 TCIA trunk CT the surface takes about four times the fixed
    threshold's time (benchmarks/bench_bone_partial_volume.py --real). The CT table, found by its shape
    (:func:`table.table_mask`), is left out, as the anatomy presets leave it out. Pieces of their own
    with no cortex rim (contrast-enhanced kidneys, heart: :mod:`contrast_organs`) go to a
    ``contrast`` segment, with a doubt that says so (``split_contrast=False``: they stay bone); so does
    contrast blood that touches the skeleton (aorta, heart), cut off at its neck
    (:func:`contrast_organs.attached_pools`; ``split_touching=False``: only the pieces of their own)."""
    low = 200.0 if low is None else low
    m = bone_mask(volume, low, min_island_ml, progress, fill_marrow=False, partial_volume=partial_volume)
    from surgiplan.core.segmentation.table import body_mask, may_hold_table, table_mask, to_full

    if m.shape[0] > 3 and may_hold_table(volume):  # the CT table (a curved plate, 200-1000 HU) is not bone
        body = body_mask(volume, coarse=True)  # on the table's grid: brought to full size only if needed
        table = table_mask(volume, body=body)
        if table.any():
            body = to_full(body, volume)
            # the table is found on a coarser grid: its rails' edge voxels, outside the body, go too
            st = np.zeros((3, 3, 3), bool)
            st[1] = True
            m &= ~(table | (ndimage.binary_dilation(table, st, iterations=2) & ~body))
    if split_contrast:
        from surgiplan.core.segmentation.contrast_organs import attached_pools, contrast_pieces, describe

        organs, pieces = contrast_pieces(np.asarray(volume.array), m, volume.spacing)
        if split_touching:
            report(progress, 0.9, "contrast blood touching the skeleton")
            pools, touching = attached_pools(np.asarray(volume.array), m & ~organs if pieces else m, volume.spacing)
            if touching:  # else no pool: two passes over the grid saved
                organs |= pools
                pieces += touching
        if pieces:
            ml = float(organs.sum() * volume.voxel_volume_mm3 / 1000.0)
            return {"bone": m & ~organs, "contrast": organs}, [describe(pieces, ml)]
    return {"bone": m}


def _seed_at_max_distance(mask2d_or_3d: np.ndarray, spacing_kji) -> tuple[int, ...] | None:
    if not mask2d_or_3d.any():
        return None
    d = ndimage.distance_transform_edt(mask2d_or_3d, sampling=spacing_kji)
    return tuple(int(v) for v in np.unravel_index(np.argmax(d), d.shape))


def _axial_slab(volume: Volume, mask: np.ndarray, z_lo: float, z_hi: float, xyz) -> np.ndarray:
    return mask & (xyz[2] >= z_lo) & (xyz[2] <= z_hi)


HIP_ML = {"femur": 15.0, "pelvis": 40.0}  # least plausible volumes in view (mL)
SOFT_BONE_HU = 150.0  # bone threshold when the heads were found by rays (osteoporotic, issue 23)


def _hip(volume, progress=None, low: float = 300.0, split_pelvis: bool = True, **_):
    """Femurs and hip bone by anatomy (:mod:`hip_anatomy`): femoral heads as spheres in their
    sockets (no shaft needed), the femur cut from the hip bone along the joint space, named
    left/right from the head's side of the body's midline (LPS +x is patient left). The table
    is left out; metal is its own segment and counts as bone while splitting (a stem never cuts
    a femur in two). Refused with advice when no head is found or a bone is implausibly small.
    When the sphere votes find no head (osteoporotic bone, 3 mm slices), the heads are found by
    rays and the femurs cut by the joint-space valley (issue 23; :func:`hip_anatomy.find_heads_by_rays`,
    :func:`hip_anatomy.split_femur_soft`). Holes of the thin iliac wings are spanned
    (:func:`_fill_wing_holes`).

    With both hips and the sacrum in view (``split_pelvis``), the pelvis is returned as
    ``hip_bone_left``, ``hip_bone_right``, ``sacrum`` and the ``lumbar_spine`` above the L5-S1 disc
    (:func:`_split_pelvis_parts`); when that split is not sure, one ``pelvis`` and the reason, which
    :func:`plausibility.check_anatomy` reports."""
    from surgiplan.core.segmentation import hip_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed, solid_bone
    from surgiplan.core.segmentation.head_radius import open_joint_shells
    from surgiplan.core.segmentation.metal import metal_mask, streak_only
    from surgiplan.core.segmentation.scan_axes import axis_signs, spacing_kji
    from surgiplan.core.segmentation.table import body_mask, table_mask

    axis_signs(volume, "hip-bones")
    sp = spacing_kji(volume)
    report(progress, 0.05, "body, table and metal")
    body = body_mask(volume)
    exclude = table_mask(volume, body=body) | ~body
    metal = metal_mask(volume)
    img = smoothed(volume, 0.6)
    bone = solid_bone(volume, low=low, image=img, exclude=exclude, lids=True,
                      progress=sub_progress(progress, 0.1, 0.3))
    bone = _partial_volume_surface(volume, bone, exclude, progress=sub_progress(progress, 0.3, 0.4))
    bone |= metal
    report(progress, 0.4, "femoral heads: spheres in their sockets")
    mid_i = _midline_column(volume, body)
    near_metal = morphology.margin(metal, 3.0, volume.spacing) if metal.any() else None
    heads = hip_anatomy.find_heads(img, sp, midline_i=mid_i, ignore=near_metal)
    if near_metal is not None:  # an iliac screw by the socket pulls the voted centre off
        heads = [hip_anatomy.refine_near_metal(img, sp, h, near_metal) for h in heads]
    soft = False
    if not heads:  # osteoporotic bone in thick slices: too few strong edges to vote (issue 23)
        heads = hip_anatomy.find_heads_by_rays(img, sp, mid_i, progress=sub_progress(progress, 0.4, 0.5))
        soft = bool(heads)
    if not heads:
        raise InputError("hip-bones: no femoral head found (a sphere of 18-30 mm radius in its socket)",
                         hint="Check that the scan shows the hip joints, or place one seed in each femur "
                              "and one in the hip bone.")
    if soft:
        # cancellous bone ~100-200 HU: bone filled from 150 HU, the joint space by its valley (issue 23)
        # a metal implant's streaks raise soft tissue above the bone threshold: never bone (issue 23);
        # the heads and their sockets (to 15 mm past the sphere) are left to the joint split
        streaks = np.zeros_like(metal)
        if metal.any():
            kk, jj, ii = np.indices(img.shape, sparse=True)
            judge = img >= SOFT_BONE_HU
            for h in heads:
                c = np.asarray(h.centre)
                judge &= (((kk - c[0]) * sp[0]) ** 2 + ((jj - c[1]) * sp[1]) ** 2
                          + ((ii - c[2]) * sp[2]) ** 2) > (h.radius_mm + 15.0) ** 2
            streaks = streak_only(img, metal, sp, judge)
        soft_bone = solid_bone(volume, low=SOFT_BONE_HU, image=img, exclude=exclude | streaks, lids=True) | metal
        femurs, rest = hip_anatomy.split_femur_soft(np.asarray(volume.array), soft_bone, sp, heads, img=img,
                                                    progress=sub_progress(progress, 0.5, 0.9))
        # the fossa and joint space, filled as bone enclosed by head + socket, are not hip bone
        rest = hip_anatomy.drop_joint_fat(rest, ((img >= SOFT_BONE_HU) & ~exclude) | metal, femurs)
    else:
        heads = [hip_anatomy.Head(h.centre, h.radius_mm, hip_anatomy.joint_radius(img, sp, h, low), h.score)
                 for h in heads]
        femurs, rest = hip_anatomy.split_femur(img, bone, sp, heads, progress=sub_progress(progress, 0.5, 0.9))
        # a joint space narrower than the blur is bright enough to be bone: neither bone's (issue 23 phantoms)
        fits: list = []
        femurs, rest = open_joint_shells(img, sp, heads, femurs, rest, up_sign=axis_signs(volume)[2], fits=fits)
    x_mid = float(volume.index_to_world(np.array([[mid_i, 0.0, 0.0]]))[0, 0])
    out: dict[str, np.ndarray] = {}
    vml = volume.voxel_volume_mm3 / 1000.0
    pelvis = islands.remove_small(rest & ~metal, 5000.0, volume.spacing)
    pelvis = _fill_wing_holes(pelvis, sp, heads, mid_i, up_sign=axis_signs(volume)[2]) & ~metal & ~exclude
    for f in femurs:
        pelvis &= ~f
    out["pelvis"] = pelvis
    doubts = []
    for h, f in zip(heads, femurs, strict=True):
        cw = volume.index_to_world(np.array([h.centre[::-1]]))[0]
        name = "femur_left" if cw[0] > x_mid else "femur_right"
        out[name] = islands.keep_largest(f) & ~metal
        # a femur hangs below its head: bone well above the head's top is the ilium
        kk = np.nonzero(out[name])[0]
        if len(kk):
            z = volume.index_to_world(np.column_stack([np.zeros((len(kk), 2)), kk]).astype(float))[:, 2]
            above = float(np.mean(z > cw[2] + h.radius_mm + 10.0))
            if above > 0.15:
                doubts.append(f"{name}: {100 * above:.0f} % of it lies above its head (radius {h.radius_mm:.1f} mm)")
    doubts += [f"{n} {m.sum() * vml:.1f} mL" for n, m in out.items() if m.sum() * vml < HIP_ML[n.split("_")[0]]]
    if doubts:
        raise InputError("hip-bones: implausible result (" + "; ".join(doubts) + ")",
                         hint="Place one seed in each femur and one in the hip bone.")
    unsure = []
    if not soft:  # a voted head whose joint space is not seen, or blurred into one band (issue 23 phantoms)
        from surgiplan.core.segmentation.head_radius import joint_doubts

        for h, fit in zip(heads, fits, strict=True):
            cw = volume.index_to_world(np.array([h.centre[::-1]]))[0]
            unsure += joint_doubts(img, sp, h, "femur_left" if cw[0] > x_mid else "femur_right", fit=fit)
    if split_pelvis and len(heads) == 2:
        parts, why = _split_pelvis_parts(volume, pelvis, sp, heads, mid_i, exclude,
                                         progress=sub_progress(progress, 0.9, 1.0))
        if parts:
            del out["pelvis"]
            out = parts | out
        elif why:
            unsure.append(why)
    if metal.any():
        out["metal"] = metal
    return out, unsure


def _split_pelvis_parts(volume, pelvis: np.ndarray, sp, heads, mid_i: float, exclude: np.ndarray,
                        progress=None) -> tuple[dict | None, str | None]:
    """The pelvis as {"hip_bone_left", "hip_bone_right", "sacrum", "lumbar_spine", "other_bone"}
    (:func:`pelvis_split.split_pelvis`, the lumbar vertebrae from
    :func:`spine_anatomy.find_vertebrae` so that the L5-S1 disc bounds the sacrum), or (None,
    why) when the split is not sure: no sacrum found along the spine, the split refused, or a
    hip bone or the sacrum outside :data:`plausibility.VOLUME_ML` (a lumbar spine or other bone
    of under 1 mL is left out of the dict)."""
    from surgiplan.core.segmentation import spine_anatomy
    from surgiplan.core.segmentation.pelvis_split import split_pelvis
    from surgiplan.core.segmentation.plausibility import VOLUME_ML
    from surgiplan.core.segmentation.scan_axes import axis_signs

    si, sj, sk = axis_signs(volume)
    head = "pelvis kept in one piece (not split into hip bones and sacrum)"
    report(progress, 0.0, "pelvis: the spine's discs above the sacrum")
    try:
        levels, _notes, _dbg = spine_anatomy.find_vertebrae(volume, exclude=exclude)
    except InputError as exc:
        return None, f"{head}: no spine found above it ({exc})"
    if "sacrum" not in levels:
        return None, f"{head}: no sacrum found at the bottom of the spine"
    lumbar = np.zeros(pelvis.shape, bool)
    for name, m in levels.items():
        if name != "sacrum":
            lumbar |= m
    try:
        parts = split_pelvis(np.asarray(volume.array), pelvis, sp, heads, mid_i, up_sign=sk, ant_sign=-sj,
                             lumbar=lumbar, progress=sub_progress(progress, 0.4, 1.0))
    except InputError as exc:
        return None, f"{head}: {exc}"
    vml = volume.voxel_volume_mm3 / 1000.0
    # +i points to the patient's left when si = +1: then the low-i hip bone is the right one
    low_name, high_name = ("hip_bone_right", "hip_bone_left") if si > 0 else ("hip_bone_left", "hip_bone_right")
    out = {low_name: parts["hip_bone_low_i"], high_name: parts["hip_bone_high_i"], "sacrum": parts["sacrum"]}
    for name, kind in (("hip_bone_left", "hip_bone"), ("hip_bone_right", "hip_bone"), ("sacrum", "sacrum")):
        ml = float(out[name].sum() * vml)
        lo, hi = VOLUME_ML[kind]
        if not lo <= ml <= hi:
            return None, (f"{head}: the split gave {name} {ml:.0f} mL, outside {lo:.0f}-{hi:.0f} mL; place one "
                          "seed in each hip bone and one in the sacrum and separate from seeds")
    for name, key in (("lumbar_spine", "spine"), ("other_bone", "rest")):
        if parts[key].sum() * vml >= 1.0:
            out[name] = parts[key]
    return out, None


WING_ABOVE_MM = 30.0  # the iliac wings: above the femoral heads' centres by this much (mm)
WING_LATERAL_MM = 40.0  # and this far from the midline (the sacrum and the spine lie nearer)


def _fill_wing_holes(pelvis: np.ndarray, sp, heads, mid_i: float, up_sign: int = 1) -> np.ndarray:
    """The iliac wings' holes (thin bone below the threshold, issue 23) spanned by the wing
    (:func:`plate_holes.fill_plate_holes_tiled`), on each side: bone ``WING_ABOVE_MM`` above the
    heads' centres and ``WING_LATERAL_MM`` from the midline column ``mid_i``."""
    from surgiplan.core.segmentation.plate_holes import fill_plate_holes_tiled

    kk, _jj, ii = np.indices(pelvis.shape, sparse=True)
    top = max(up_sign * h.centre[0] for h in heads)
    above = up_sign * kk * sp[0] >= top * sp[0] + WING_ABOVE_MM
    out = pelvis
    for side in (-1, 1):
        region = above & (side * (ii - mid_i) * sp[2] >= WING_LATERAL_MM)
        out = fill_plate_holes_tiled(out, sp, region, tile_mm=90.0)
    return out


def _knee(volume, progress=None, low: float = 300.0, **_):
    """Femur, tibia, patella and fibula by anatomy (:mod:`knee_anatomy`): separated along the
    joint spaces (a watershed on the joint-space map), named from the scan axes (the femur is
    the bone above, whatever the slice order) and the patella in front of the femur. Solid bone
    (cancellous core filled) with its boundary half-way between local cortex and soft tissue; the
    table is left out; metal is its own segment and counts as bone while splitting. A partial
    field of view (no shafts) is fine; an implausible result is refused with advice."""
    from surgiplan.core.segmentation import knee_anatomy
    from surgiplan.core.segmentation.bone_fill import smoothed
    from surgiplan.core.segmentation.metal import metal_mask
    from surgiplan.core.segmentation.table import body_mask, table_mask

    report(progress, 0.05, "body, table and metal")
    body = body_mask(volume)
    exclude = table_mask(volume, body=body) | ~body
    metal = metal_mask(volume)
    report(progress, 0.1, f"bone >= {low:g} HU, cancellous core filled")
    bone = knee_anatomy.solid_knee_bone(volume, smoothed(volume, 0.6), low=low, exclude=exclude)
    bone = _partial_volume_surface(volume, bone, exclude, progress=sub_progress(progress, 0.3, 0.45))
    bone |= metal
    parts, _notes = knee_anatomy.find_knee_bones(volume, bone, progress=sub_progress(progress, 0.45, 0.95))
    out = {n: islands.keep_largest(m & ~metal) for n, m in parts.items()}
    doubts = knee_anatomy.knee_doubts(volume, out)
    if doubts:
        raise InputError("knee-bones: implausible result (" + "; ".join(doubts) + ")",
                         hint="Place one seed in each bone (--seed femur=X,Y,Z --seed tibia=... --seed patella=...).")
    if metal.any():
        out["metal"] = metal
    return out


def _midline_column(volume, body: np.ndarray) -> float:
    """Array column (i) of the patient's midline: the body's centre when the whole width of the
    body is in view, else the scanner's isocentre (LPS x = 0: a field of view of one hip cuts
    the body, and its centre would lie on that hip's side)."""
    cols = np.nonzero(body.any(axis=(0, 1)))[0]
    if len(cols) and cols[0] > 0 and cols[-1] < body.shape[2] - 1:
        return float(np.nonzero(body)[2].mean())
    return float(volume.world_to_index(np.array([[0.0, 0.0, volume.origin[2]]]))[0, 0])


def _partial_volume_surface(volume, rough, exclude, progress=None):
    """The bone's surface moved to half-way between the local cortex and soft tissue
    (:func:`partial_volume.refine_bone_mask`), where that module is present."""
    try:
        from surgiplan.core.segmentation.partial_volume import refine_bone_mask
    except ImportError:
        return rough
    out = refine_bone_mask(volume.array, rough, volume.spacing, progress=progress)
    return out & ~exclude


LUMBAR_ML = (15.0, 160.0)  # a lumbar vertebra with its posterior elements (adult: tens of mL)


def _spine(volume, progress=None, low: float = 500.0, names=None, min_ml: float = 5.0, anatomy: bool | None = None,
           **_):
    """Vertebrae by level. When the bones above ``low`` HU already fall apart into plausible
    pieces (each lumbar one within LUMBAR_ML, the sacrum the largest at the bottom: a clean scan)
    those pieces are named up from the sacrum; otherwise (``anatomy=True`` forces it) the anatomy
    finder (:mod:`spine_anatomy`: canal, body column, discs along the curve, watershed at the
    joints) splits a solid bone mask, with the table and metal left out. An implausible result
    is refused with advice, never returned."""
    from surgiplan.core.segmentation import spine_anatomy
    from surgiplan.core.segmentation.metal import metal_mask
    from surgiplan.core.segmentation.table import body_mask, table_mask

    vml = volume.voxel_volume_mm3 / 1000.0
    if anatomy is not True:
        coarse = _coarse(volume)  # a quick look first: a big trunk scan rarely falls apart cleanly
        if anatomy is False or names or coarse is volume or _plausible_spine(
                _spine_islands(coarse, None, low, None, min_ml), coarse.voxel_volume_mm3 / 1000.0):
            out = _spine_islands(volume, sub_progress(progress, 0, 0.3), low, names, min_ml)
            if anatomy is False or names or _plausible_spine(out, vml):
                return out
    report(progress, 0.3, "finding the spine by its anatomy")
    body = body_mask(volume)
    metal = metal_mask(volume)
    exclude = table_mask(volume, body=body) | ~body | metal
    masks, notes, _dbg = spine_anatomy.find_vertebrae(volume, exclude=exclude,
                                                      progress=sub_progress(progress, 0.35, 0.95))
    bad = {n: float(m.sum() * vml) for n, m in masks.items()
           if n.startswith("L") and not LUMBAR_ML[0] <= m.sum() * vml <= LUMBAR_ML[1]}
    if bad:
        raise InputError(
            "spine-bones: the vertebrae found are implausible ("
            + ", ".join(f"{n} {ml:.1f} mL" for n, ml in bad.items())
            + f"; a lumbar vertebra is {LUMBAR_ML[0]:g}-{LUMBAR_ML[1]:g} mL). " + "; ".join(notes),
            hint="Segment the bone with the 'bone' preset and separate the vertebrae with seeds "
                 "(one seed in each vertebral body).")
    if metal.any():
        masks["metal"] = metal
    return masks


def _coarse(volume: Volume) -> Volume:
    """Every 2nd pixel in plane of a scan with more than 8 M voxels (the same volume otherwise)."""
    if volume.array.size <= 8_000_000:
        return volume
    sp = (volume.spacing[0] * 2, volume.spacing[1] * 2, volume.spacing[2])
    return Volume(volume.array[:, ::2, ::2], sp, volume.origin, volume.direction)


def _plausible_spine(masks: dict, vml: float) -> bool:
    lumbar = [m.sum() * vml for n, m in masks.items() if n.startswith("L")]
    return ("sacrum" in masks and len(lumbar) == 5
            and all(LUMBAR_ML[0] <= ml <= LUMBAR_ML[1] for ml in lumbar))


def _spine_islands(volume, progress, low, names, min_ml):
    # no slice-wise filling: the neural arch rings the spinal canal in axial slices
    bone = bone_mask(volume, low, progress=progress, fill_marrow=False)
    bone = morphology.fill_holes_lidded(bone)  # the sacrum's marrow, cut open by the scan's lower edge
    pieces = islands.split_islands(bone, min_voxels=int(min_ml * 1000.0 / volume.voxel_volume_mm3))
    if not pieces:
        raise InputError("spine-bones: no vertebra found")
    centres = [np.array([idx.mean() for idx in np.nonzero(p)])[::-1] for p in pieces]  # i, j, k
    zc = [float(volume.index_to_world(c[None])[0, 2]) for c in centres]
    order = np.argsort(zc)[::-1]  # superior first
    pieces = [pieces[n] for n in order]
    if names:
        names = list(names)
    else:
        names = spine_names([float(p.sum()) for p in pieces])
    return {n: p for n, p in zip(names, pieces, strict=False) if n}


def spine_names(volumes: list[float], sacrum_ratio: float = 1.5) -> list[str]:
    """Names for bone pieces ordered superior to inferior, from their volumes (any unit).

    The lowest piece is the sacrum when it is more than ``sacrum_ratio`` times the
    median of the pieces above (the sacrum outweighs any lumbar vertebra); the
    vertebrae are then counted up from it (L5 sits on the sacrum), else down from
    L1 at the top. Pieces beyond L1..L5 (+ sacrum) are left unnamed (dropped).
    """
    n = len(volumes)
    if n >= 2 and volumes[-1] > sacrum_ratio * float(np.median(volumes[:-1])):
        above = [f"L{5 - i}" for i in range(min(n - 1, 5))][::-1]  # ..., L4, L5 just above the sacrum
        return [""] * (n - 1 - len(above)) + above + ["sacrum"]
    return [f"L{i + 1}" for i in range(min(n, 5))]
