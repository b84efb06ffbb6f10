"""The ``vessel`` preset: the contrast-filled aorta (with the iliacs) and its thin branches.

See :mod:`surgiplan.core.segmentation.presets` (``vessel``) for what it finds; this module holds
the preset's steps so that presets.py stays about the bone presets. Parameters in HU and mm,
positions in LPS mm, arrays indexed [k, j, i].
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
        o[a] + m[a, 0] * i[None, None, :] + m[a, 1] * j[None, :, None] + m[a, 2] * k[:, None, None] for a in range(3)
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
            blob, -max(volume.spacing), volume.spacing
        )
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


TISSUE_HU = 40.0  # unenhanced soft tissue (muscle, vessel wall) around a contrast-filled lumen


@dataclass
class TubeChain:
    """A run of round, bright, non-bone cross-sections stacked over consecutive axial slices.

    ``members``: (k, section mask of the slice, equivalent diameter mm, median HU) from the
    foot end up (increasing k when the slices run foot to head).
    """

    members: list = field(default_factory=list)
    dz_mm: float = 1.0

    @property
    def length_mm(self) -> float:
        """Extent along the slice axis, mm (first to last member, both counted)."""
        return (abs(self.members[-1][0] - self.members[0][0]) + 1) * self.dz_mm

    @property
    def diameter_mm(self) -> float:
        """Median equivalent diameter of the sections, mm."""
        return float(np.median([m[2] for m in self.members]))

    @property
    def hu(self) -> float:
        """Median of the sections' median HU."""
        return float(np.median([m[3] for m in self.members]))


def _is_bone_section(
    hu: np.ndarray, comp: np.ndarray, px_mm: float, rise_hu: float = 60.0, bright_frac: float = 0.3
) -> bool:
    """Whether 2D section ``comp`` of slice ``hu`` (HU) looks like bone rather than blood.

    Bone has a cortex brighter than its marrow: its inner rim (2 mm) is brighter than its core by
    more than ``rise_hu`` HU, or more than ``bright_frac`` of the 2 mm band outside it is brighter
    than the core + 100 HU (a cortex left out of the lumen range). Blood is brightest in the middle
    (partial volume at its edge) and has fat or soft tissue around it.
    """
    it = max(1, int(round(2.0 / px_mm)))
    core = ndimage.binary_erosion(comp, iterations=it)
    inner = comp & ~core
    ring = ndimage.binary_dilation(comp, iterations=it) & ~comp
    core_hu = float(np.median(hu[core] if core.any() else hu[comp]))
    if inner.any() and float(np.mean(hu[inner])) - core_hu > rise_hu:
        return True
    return bool(ring.any() and np.mean(hu[ring] > core_hu + 100.0) > bright_frac)


def _tube_chains(
    volume: Volume,
    lumen: np.ndarray,
    *,
    d_min_mm: float = 10.0,
    d_max_mm: float = 35.0,
    solidity: float = 0.85,
    aspect: float = 0.6,
    gap_mm: float = 6.0,
) -> list[TubeChain]:
    """Round bright tubes of ``lumen`` [k, j, i] followed over the axial slices, longest first.

    A candidate section is a 2D piece of a slice with an equivalent diameter ``d_min_mm`` ..
    ``d_max_mm`` mm, solidity (area over convex hull) >= ``solidity``, minor/major axis >= ``aspect``
    and not bone (:func:`_is_bone_section`). A section continues a chain whose last section lies
    at most ``gap_mm`` mm of slices below with its centre within half a diameter (at least 5 mm).
    """
    from skimage.measure import regionprops

    px = float(min(volume.spacing[0], volume.spacing[1]))
    dz = float(volume.spacing[2])
    gap = max(1, int(round(gap_mm / dz)))
    order = range(lumen.shape[0]) if volume.direction[2, 2] > 0 else range(lumen.shape[0] - 1, -1, -1)
    chains: list[TubeChain] = []
    last: list[tuple[int, np.ndarray, float, int]] = []  # (step, centre mm, diameter mm, chain index)
    for step, k in enumerate(order):
        if not lumen[k].any():
            continue
        lab, _ = ndimage.label(lumen[k], structure=np.ones((3, 3), bool))
        hu = volume.array[k]
        taken: set[int] = set()
        for rp in regionprops(lab):
            d = 2.0 * np.sqrt(rp.area / np.pi) * px
            if not (d_min_mm <= d <= d_max_mm) or rp.solidity < solidity:
                continue
            if rp.axis_minor_length < aspect * rp.axis_major_length:
                continue
            pad = max(2, int(round(3.0 / px)))
            box = tuple(slice(max(0, s.start - pad), s.stop + pad) for s in rp.slice)
            comp = lab[box] == rp.label
            if _is_bone_section(hu[box], comp, px):
                continue
            centre = np.asarray(rp.centroid) * px
            best, best_dist = None, max(5.0, 0.5 * d)
            for n, (s0, c0, _d0, ci) in enumerate(last):
                dist = float(np.hypot(*(centre - c0)))
                if 0 < step - s0 <= gap and ci not in taken and dist <= best_dist:
                    best, best_dist = n, dist
            section = np.zeros(lab.shape, bool)
            section[box] = comp
            member = (int(k), section, float(d), float(np.median(hu[lab == rp.label])))
            if best is None:
                chains.append(TubeChain([member], dz))
                last.append((step, centre, d, len(chains) - 1))
            else:
                ci = last[best][3]
                chains[ci].members.append(member)
                last[best] = (step, centre, d, ci)
            taken.add(last[-1][3] if best is None else last[best][3])
        last = [x for x in last if step - x[0] <= gap]
    chains.sort(key=lambda c: (c.length_mm, c.hu), reverse=True)
    return chains


def _extend_foot(
    volume: Volume, lumen: np.ndarray, k: int, section: np.ndarray, *, grow: float = 1.4, shrink: float = 0.5
) -> tuple[int, np.ndarray]:
    """Slice and section of the tube's lowest round part below the chain's foot section ``section`` (slice k).

    Steps down slice by slice into the piece of ``lumen`` that overlaps the current section
    while it stays within ``shrink`` .. ``grow`` times the current area (not a bifurcation, not
    joined to a neighbour) and is not bone: a chain broken by a less round stretch (a dissection
    flap, a renal vein crossing) still seeds at the tube's foot.
    """
    px = float(min(volume.spacing[0], volume.spacing[1]))
    step = -1 if volume.direction[2, 2] > 0 else 1
    cur = section
    while 0 <= k + step < lumen.shape[0]:
        lab, _ = ndimage.label(lumen[k + step], structure=np.ones((3, 3), bool))
        hit = lab[cur & (lab > 0)]
        if not hit.size:
            break
        nxt = lab == np.bincount(hit).argmax()
        if not (shrink * cur.sum() <= nxt.sum() <= grow * cur.sum()) or _is_bone_section(
            volume.array[k + step], nxt, px
        ):
            break
        k, cur = k + step, nxt
    return k, cur


def _aorta_seed(
    volume: Volume, lumen: np.ndarray, *, min_length_mm: float = 60.0, d_range_mm: tuple[float, float] = (12.0, 30.0)
) -> tuple[tuple[int, int, int], TubeChain, list[str]]:
    """Seed voxel (k, j, i) in the aorta: the foot end of the longest round bright tube of ``lumen``.

    The aorta is the longest contrast-filled tube of a trunk CT, round in axial slices and
    continuous over many of them; a vertebral body is as bright (marrow) but wider and rimmed by
    cortex, the iliacs and the renal arteries are shorter. Returns the seed, the chain and the
    doubts (a chain shorter than ``min_length_mm`` mm or of median diameter outside ``d_range_mm``).
    Raises InputError when no round bright tube is found.
    """
    chains = _tube_chains(volume, lumen)
    if not chains:
        raise InputError(
            "vessel: no round contrast-filled tube (aorta) found",
            hint="Check that this is a contrast CT (blood 150-500 HU) with the aorta in view, "
            "or place the vessel by hand.",
        )
    c = chains[0]
    doubts = []
    if c.length_mm < min_length_mm:
        doubts.append(
            f"vessel: the longest round bright tube is only {c.length_mm:.0f} mm long "
            f"(an aorta in a trunk CT is >= {min_length_mm:.0f} mm): check that the segment is the aorta"
        )
    lo, hi = d_range_mm
    if not lo <= c.diameter_mm <= hi:
        doubts.append(
            f"vessel: the tube's median diameter is {c.diameter_mm:.1f} mm (an aorta is {lo:g}-{hi:g} mm): "
            "check the segment (aneurysm, child, or not the aorta)"
        )
    # the seed lies low in the tube, where the old reader's rule put it: the thickest blob of the
    # lowest fifth of the lumen, now only among the pieces joined to the aorta's chain and not bone
    lab, _ = islands.label_components(lumen)
    k0 = c.members[0][0]
    joined = lab == np.bincount(lab[k0][c.members[0][1]]).argmax()
    try:
        seed = _round_blob_seed(volume, joined, _world_axes(volume))
    except InputError:
        seed = None
    if seed is not None:
        sl, _ = ndimage.label(joined[seed[0]], structure=np.ones((3, 3), bool))
        if _is_bone_section(volume.array[seed[0]], sl == sl[seed[1], seed[2]], float(min(volume.spacing[:2]))):
            seed = None
    if seed is None:
        k, section = _extend_foot(volume, lumen, k0, c.members[0][1])
        d = ndimage.distance_transform_edt(section)
        j, i = np.unravel_index(int(np.argmax(d)), d.shape)
        seed = (int(k), int(j), int(i))
    return seed, c, doubts


THICK_ML = 1.0  # a bright structure of at least this volume after the opening is a chamber/organ, not a branch


def _vessel(
    volume,
    progress=None,
    low: float = 150.0,
    high: float = 800.0,
    open_mm: float = 2.0,
    faint_low: float | None = None,
    faint_mm: float = 4.0,
    branch_mm: float = 60.0,
    bone_hu: float = 600.0,
    false_lumen: bool = True,
    smooth_mm: float = 1.0,
    adapt_low: bool = True,
    round_limbs: bool = True,
    **kw,
):
    from surgiplan.core.segmentation import vessel_tracking
    from surgiplan.core.segmentation.vessel_tracking import restore_false_lumen, track_tube

    def lumen_at(lo: float) -> tuple[np.ndarray, np.ndarray]:
        report(progress, 0.05, f"threshold {lo:g}..{high:g} HU")
        if smooth_mm > min(volume.spacing):
            # sub-millimetre voxels: their noise (sd ~20 HU) would let an enhancing organ just
            # below ``lo`` (kidney) through as a porous net touching the renal arteries
            sm = ndimage.gaussian_filter(volume.array, [smooth_mm / s for s in volume.spacing[::-1]], output=np.int16)
            lum = (sm >= lo) & (sm <= high)
            del sm
        else:
            lum = threshold(volume, lo, high)
        lum = islands.remove_small(lum, 1000.0, volume.spacing)
        if not lum.any():
            raise InputError(f"vessel: nothing between {lo:g} and {high:g} HU: is this a contrast CT?")
        report(progress, 0.2, f"opening {open_mm:g} mm")
        return lum, margin_sitk.opening(lum, open_mm, volume.spacing)

    lumen, opened = lumen_at(low)
    seed, chain, doubts = _aorta_seed(volume, opened)
    if adapt_low:
        # a late (venous) phase: blood near the foot end of the aorta only just above ``low``
        # (150-180 HU) would leave the lower aorta and the iliacs out. Below the foot of the
        # round tube, threshold half-way between the blood there and soft tissue instead
        # (never above ``low``), away from bone (cortex >= ``bone_hu`` closed and filled per
        # slice with its marrow, and 2 mm around it): the iliacs run along the pelvic bones.
        foot = [m[3] for m in chain.members[: max(3, len(chain.members) // 5)]]
        mid = 0.5 * (float(np.median(foot)) + TISSUE_HU)
        if mid < low - 10.0:
            lo2 = float(np.floor(mid / 5.0) * 5.0)
            below = slice(0, seed[0] + 1) if volume.direction[2, 2] > 0 else slice(seed[0], None)
            sub = Volume(volume.array[below], volume.spacing, volume.origin, volume.direction)
            lum2 = threshold(sub, lo2, high)
            bone = morphology.fill_holes(margin_sitk.closing(sub.array >= bone_hu, 2.0, sub.spacing), per_slice=True)
            lum2 &= ~margin_sitk.margin(bone, 2.0, sub.spacing)
            lumen[below] = lum2 | (lumen[below] & ~bone)
            lumen = islands.remove_small(lumen, 1000.0, volume.spacing)
            opened = margin_sitk.opening(lumen, open_mm, volume.spacing)
            report(progress, 0.25, f"below the aorta's foot: {lo2:g} HU (blood there ~{np.median(foot):.0f} HU)")
    report(progress, 0.5, "following the vessel slice by slice")
    dz = float(volume.direction[2, 2])
    if abs(dz) < 0.7:
        raise InputError(
            "vessel: the scan is not axial (slices must run head-foot)", hint="Reformat it to axial slices first."
        )
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
        vessel = restore_false_lumen(
            morphology.fill_holes(vessel, per_slice=True),
            volume.array,
            float(volume.spacing[2]),
            pixel_mm=float(volume.spacing[0]),
            smooth_mm=1.5,
            lumen_hu=low,
        )
    if faint_low is not None and faint_mm > 0:
        # a faintly opacified (false) lumen right next to the bright one
        faint = threshold(volume, faint_low, high) & margin_sitk.margin(vessel, faint_mm, volume.spacing)
        vessel |= margin_sitk.opening(faint, 1.0, volume.spacing)
    vessel = islands.keep_at_seed(vessel, [seed])
    vessel = morphology.fill_holes(vessel, per_slice=True)
    if round_limbs:
        # below the foot of the aorta's round tube: the iliac arteries as round tubes, not the
        # iliac veins pressed against them (as bright in a late phase)
        report(progress, 0.8, "iliac arteries as round tubes")
        k_foot, foot_sec = chain.members[0][0], chain.members[0][1]
        vessel = vessel_tracking.round_limbs(
            vessel,
            k_foot,
            foot_sec,
            spacing_mm=(min(volume.spacing[:2]), volume.spacing[2]),
            hu=volume.array,
            down=-1 if dz > 0 else 1,
        )
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
    return (out, doubts) if doubts else out


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


def _thin_branches(
    bright: np.ndarray,
    hu: np.ndarray,
    bone_hu: float,
    opened: np.ndarray,
    vessel: np.ndarray,
    branch_mm: float,
    rim_mm: float,
    spacing,
) -> np.ndarray:
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
