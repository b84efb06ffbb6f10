"""Common iliac stenosis from a CT angiogram: centrelines, diameter profiles, lesion.

:func:`find_iliac_stenosis` works on the case's planning scan (CT, HU) and its
vessel label map (``aorta_lumen`` or the ``vessel`` preset's segment):

1. the aortic bifurcation is the highest axial slice, going caudally, where the
   label map (followed caudally from the top slice's largest lumen, keeping the
   blobs overlapping the previous slice's) splits into two lumens that stay
   split for 15 mm (renal branches end sooner) or to the scan's end; the
   scan must be axial (slice axis within 25 deg of the long axis); each common iliac is then tracked slice by
   slice downwards on the CT (lumen = HU above half-way between contrast lumen
   and surrounding fat), following the component nearest the extrapolated
   centre, so a tight stenosis that the label map cut off does not stop it;
2. the per-slice centres are fitted with a quadratic in z (LPS) per side: the
   centreline, with its distal unit direction;
3. the CT is resampled (trilinear) on planes perpendicular to the centreline
   every 0.5 mm of arc length (0.25 mm pixels) and the lumen area is the
   partial-volume integral of ``(HU - background) / (lumen - background)`` over
   the half-maximum lumen region holding the centre, grown by 1 mm to take in
   the blurred edge (within 7 mm of the centre); lumen = median HU inside the
   eroded vessel label, background = median HU of the section's soft tissue
   (wall, plaque: above -30 HU and below half-way to the lumen); calcium
   (> lumen + 200 HU) is left out of the region;
   equivalent diameter = 2 sqrt(area / pi);
4. the stenosis is the smallest diameter of either side (sections within 8 mm
   of the bifurcation and 2 mm of the scan's edge are skipped); the reference
   diameter is the median diameter of the same iliac more than 12 mm away from
   it; the lesion runs, along the centreline, from where the diameter first
   drops below 95 % of the reference to where it recovers.

All positions LPS mm, diameters mm, percent in %.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report

VESSEL_SEGMENTS = ("aorta_lumen", "vessel", "lumen", "aorta")
STEP_MM = 0.5  # arc-length step of the cross-sections
PIXEL_MM = 0.25  # in-plane sampling of the cross-sections
DISC_MM = 7.0  # lumen integration radius
RING_MM = (7.0, 9.0)  # half-width of the sampled section: RING_MM[1]
EDGE_PX = 4  # the lumen region is grown by 1 mm (4 pixels) to take in its blurred edge
SKIP_BIFURCATION_MM = 8.0
SKIP_EDGE_MM = 2.0
HEALTHY_AWAY_MM = 12.0
LESION_FRACTION = 0.95
MIN_BRANCH_MM2 = 7.0  # smallest lumen cross-section (mm^2) counted as an iliac at the bifurcation
SPLIT_PERSIST_MM = 15.0  # renal artery branches end sooner than this; the iliacs do not
TRACK_MM = 6.0  # largest step between consecutive iliac centres (mm)
CALCIUM_ABOVE_HU = 200.0
SOFT_TISSUE_MIN_HU = -30.0  # wall / plaque / blood: background of the lumen integral
CALCIUM_MARGIN_PX = 4  # 1 mm at 0.25 mm pixels


@dataclass
class IliacProfile:
    """Centreline and diameter profile of one common iliac artery (LPS mm)."""

    side: str  # "left" | "right" (patient side)
    arc_mm: np.ndarray  # (N,) arc length from the bifurcation level, distal positive
    points: np.ndarray  # (N, 3) centreline points
    directions: np.ndarray  # (N, 3) unit centreline directions, pointing distally
    diameters_mm: np.ndarray  # (N,) equivalent lumen diameters
    valid: np.ndarray  # (N,) bool: section usable (not near the bifurcation or the scan edge)


@dataclass
class Stenosis:
    """The measured lesion (LPS mm, mm, %)."""

    side: str
    centre: np.ndarray  # centreline point of the narrowest section
    direction: np.ndarray  # distal unit centreline direction there
    minimal_diameter_mm: float
    reference_diameter_mm: float
    percent_diameter: float  # 100 * (1 - minimal / reference)
    proximal_end: np.ndarray  # centreline point where the lesion starts
    distal_end: np.ndarray
    length_mm: float  # proximal to distal end, along the centreline
    profiles: dict[str, IliacProfile] = field(default_factory=dict)

    @property
    def lesion_centre(self) -> np.ndarray:
        return (self.proximal_end + self.distal_end) / 2


def _vessel_mask(seg) -> np.ndarray:
    names = [s.name for s in seg.segments]
    for n in VESSEL_SEGMENTS:
        if n in names:
            return np.asarray(seg.mask(n) if hasattr(seg, "mask") else _mask_of(seg, n), bool)
    raise InputError(f"the segmentation has no vessel segment (segments: {', '.join(names) or 'none'})",
                     hint=f"Segment the lumen first (preset 'vessel'); expected one of {', '.join(VESSEL_SEGMENTS)}.")


def _mask_of(seg, name: str) -> np.ndarray:
    s = next(s for s in seg.segments if s.name == name)
    return seg.layers[getattr(s, "layer", 0)] == s.label


def _components(img2d: np.ndarray, min_voxels: int = 3):
    lab, n = ndi.label(img2d)
    if n == 0:
        return []
    sizes = ndi.sum(img2d, lab, range(1, n + 1))
    cents = ndi.center_of_mass(img2d, lab, range(1, n + 1))
    return [(np.array(c), int(s)) for c, s in zip(cents, sizes, strict=True) if s >= min_voxels]


def _track_iliacs(volume, mask: np.ndarray, threshold: float):
    """Per-slice iliac centres (index space [k, j, i]) below the bifurcation, per side."""
    a = volume.array
    ks = [k for k in range(mask.shape[0]) if mask[k].any()]
    if not ks:
        raise InputError("the vessel segment is empty", hint="Segment the lumen first (preset 'vessel').")
    # slices run along k; "caudal" is the k direction pointing to -z (LPS superior = +z)
    kz = float(np.asarray(volume.direction)[2, 2])
    if abs(kz) < 0.9:
        raise InputError("the scan is not made of axial slices (its slice axis is more than 25 deg off "
                         "the patient's long axis)", hint="Resample the scan to axial slices first.")
    step = -1 if kz > 0 else 1
    # follow the aorta caudally from the largest lumen of the top slice, keeping only the blobs that
    # overlap the previous slice's (so side branches and stray voxels leave the tree) until it splits
    # into two blobs of >= MIN_BRANCH_MM2 each that stay split for SPLIT_PERSIST_MM (or to the scan's end)
    order = sorted(ks, reverse=step < 0)
    px_mm2 = float(volume.spacing[0] * volume.spacing[1])
    lab, n = ndi.label(mask[order[0]])
    sizes = ndi.sum(mask[order[0]], lab, range(1, n + 1))
    tree = lab == 1 + int(np.argmax(sizes))
    split, run, comps = None, 0, []
    for k in order[1:]:
        lab, n = ndi.label(mask[k])
        keep = [v for v in range(1, n + 1) if (tree & (lab == v)).any()]
        if not keep:
            break
        tree = np.isin(lab, keep)
        big = [v for v in keep if (lab == v).sum() * px_mm2 >= MIN_BRANCH_MM2]
        if len(big) >= 2:
            if run == 0:
                split = k
                cents = ndi.center_of_mass(mask[k], lab, big)
                comps = sorted([(np.array(c), int((lab == v).sum())) for c, v in zip(cents, big, strict=True)],
                               key=lambda c: -c[1])[:2]
            run += 1
            if run * volume.spacing[2] >= SPLIT_PERSIST_MM:
                break
        else:
            split, run = None, 0  # a side branch (renal artery) that ended: not the bifurcation
    if split is None or run < 3:
        raise InputError("the vessel segment never splits into two iliac arteries",
                         hint="Check that the scan covers the aortic bifurcation and the common iliacs.")
    x_world = [volume.index_to_world(np.array([c[0][1], c[0][0], split]))[0] for c in comps]
    # LPS: +x is patient left
    starts = {"left": comps[int(np.argmax(x_world))][0], "right": comps[int(np.argmin(x_world))][0]}
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    lumen = a > threshold
    for side, c0 in starts.items():
        track = [(split, c0)]
        for k in range(split + step, -1 if step < 0 else mask.shape[0], step):
            if len(track) >= 2:
                pred = track[-1][1] + (track[-1][1] - track[-2][1]) / abs(track[-2][0] - track[-1][0]) * abs(
                    k - track[-1][0])
            else:
                pred = track[-1][1]
            cands = _components(lumen[k], 1)
            best = min(cands, key=lambda c: np.linalg.norm(c[0] - pred), default=None)
            if best is not None and np.linalg.norm((best[0] - pred) * np.array(volume.spacing[1::-1])) <= TRACK_MM:
                track.append((k, best[0]))
            elif abs(k - track[-1][0]) * volume.spacing[2] > 3 * TRACK_MM:
                break  # lost for more than 18 mm: stop (the fit covers what was found)
        out[side] = track
    return split, out


def _sections(volume, points: np.ndarray, directions: np.ndarray, lumen_hu: float, wall_hu: float) -> np.ndarray:
    """Equivalent lumen diameters (mm) of the sections at ``points`` perpendicular to ``directions``."""
    r = np.arange(-RING_MM[1], RING_MM[1] + 1e-9, PIXEL_MM)
    gu, gv = np.meshgrid(r, r, indexing="ij")
    rad = np.hypot(gu, gv)
    disc = rad <= DISC_MM
    centre = (len(r) // 2, len(r) // 2)
    out = np.zeros(len(points))
    a = volume.array.astype(np.float32)
    for n, (p, d) in enumerate(zip(points, directions, strict=True)):
        u = np.cross(d, [1.0, 0, 0] if abs(d[0]) < 0.9 else [0, 1.0, 0])
        u /= np.linalg.norm(u)
        v = np.cross(d, u)
        world = p + gu[..., None] * u + gv[..., None] * v
        ijk = volume.world_to_index(world.reshape(-1, 3))
        hu = ndi.map_coordinates(a, [ijk[:, 2], ijk[:, 1], ijk[:, 0]], order=1, mode="nearest")
        hu = hu.reshape(gu.shape)
        soft = hu[disc & (hu > SOFT_TISSUE_MIN_HU) & (hu < (lumen_hu + wall_hu) / 2)]
        bg = float(np.median(soft)) if soft.size > 20 else wall_hu
        lab, _ = ndi.label(disc & (hu > (lumen_hu + bg) / 2) & (hu < lumen_hu + CALCIUM_ABOVE_HU))
        c = lab[centre]
        region = ndi.binary_dilation(lab == c, iterations=EDGE_PX) & disc if c else (rad <= 1.0)
        frac = (hu[region] - bg) / (lumen_hu - bg)
        area = float(frac.sum()) * PIXEL_MM**2
        out[n] = 2.0 * np.sqrt(max(area, 0.0) / np.pi)
    return out


def iliac_profiles(volume, seg, progress: Progress | None = None) -> dict[str, IliacProfile]:
    """Centreline and diameter profile of both common iliacs (see the module docstring)."""
    mask = _vessel_mask(seg)
    if mask.shape != volume.array.shape:
        raise InputError(f"the segmentation grid {mask.shape} does not match the scan {volume.array.shape}",
                         hint="Use the segmentation made on this scan.")
    a = volume.array
    core = ndi.binary_erosion(mask, iterations=2)
    lumen_hu = float(np.median(a[core] if core.any() else a[mask]))
    shell = ndi.binary_dilation(mask, iterations=3) & ~ndi.binary_dilation(mask, iterations=1)
    fat_hu = float(np.percentile(a[shell], 25))
    soft = a[shell & (a > -30) & (a < 150)]
    wall_hu = float(np.median(soft)) if soft.size else 50.0
    threshold = (lumen_hu + fat_hu) / 2
    split, tracks = _track_iliacs(volume, mask, threshold)
    out = {}
    for n, (side, track) in enumerate(tracks.items()):
        report(progress, n / 2, f"{side} common iliac cross-sections")
        if len(track) < 4:
            raise InputError(f"the {side} common iliac could be followed over only {len(track)} slices",
                             hint="The scan must cover at least 4 slices of both iliacs below the bifurcation.")
        ijk = np.array([[c[1], c[0], k] for k, c in track], float)
        w = volume.index_to_world(ijk)
        z = w[:, 2]
        px, py = np.polyfit(z, w[:, 0], 2), np.polyfit(z, w[:, 1], 2)
        zz = np.linspace(z.max(), z.min(), 2000)  # proximal (bifurcation) to distal
        pts = np.stack([np.polyval(px, zz), np.polyval(py, zz), zz], 1)
        seg_len = np.linalg.norm(np.diff(pts, axis=0), axis=1)
        arc = np.concatenate([[0.0], np.cumsum(seg_len)])
        s = np.arange(0.0, arc[-1], STEP_MM)
        zs = np.interp(s, arc, zz)
        p = np.stack([np.polyval(px, zs), np.polyval(py, zs), zs], 1)
        d = np.stack([np.polyval(np.polyder(px), zs), np.polyval(np.polyder(py), zs), np.ones_like(zs)], 1)
        d = -d / np.linalg.norm(d, axis=1, keepdims=True)  # distal = caudal
        diam = _sections(volume, p, d, lumen_hu, wall_hu)
        valid = (s >= SKIP_BIFURCATION_MM) & (s <= arc[-1] - SKIP_EDGE_MM)
        out[side] = IliacProfile(side, s, p, d, diam, valid)
    report(progress, 1.0, "iliac profiles done")
    return out


def stenosis_from_profiles(profiles: dict[str, IliacProfile]) -> Stenosis:
    """The tightest lesion of the given iliac profiles (see the module docstring)."""
    best = None
    for side, pr in profiles.items():
        idx = np.nonzero(pr.valid)[0]
        if len(idx) < 5:
            continue
        i_min = idx[np.argmin(pr.diameters_mm[idx])]
        healthy = idx[np.abs(pr.arc_mm[idx] - pr.arc_mm[i_min]) > HEALTHY_AWAY_MM]
        if len(healthy) == 0:
            continue
        ref = float(np.median(pr.diameters_mm[healthy]))
        mind = float(pr.diameters_mm[i_min])
        pct = 100.0 * (1.0 - mind / ref)
        if best is None or pct > best[0]:
            best = (pct, side, i_min, ref, mind)
    if best is None:
        raise InputError("no iliac segment long enough to measure a stenosis",
                         hint="The scan must cover the common iliac arteries below the bifurcation.")
    pct, side, i_min, ref, mind = best
    pr = profiles[side]
    low = pr.diameters_mm < LESION_FRACTION * ref
    i0 = i_min
    while i0 > 0 and low[i0 - 1]:
        i0 -= 1
    i1 = i_min
    while i1 < len(low) - 1 and low[i1 + 1]:
        i1 += 1
    return Stenosis(side, pr.points[i_min], pr.directions[i_min], mind, ref, pct,
                    pr.points[i0], pr.points[i1], float(pr.arc_mm[i1] - pr.arc_mm[i0]), dict(profiles))


def find_iliac_stenosis(volume, seg, progress: Progress | None = None) -> Stenosis:
    """Measure the common iliac stenosis of a CT angiogram (``volume``) with its vessel segmentation."""
    return stenosis_from_profiles(iliac_profiles(volume, seg, progress))
