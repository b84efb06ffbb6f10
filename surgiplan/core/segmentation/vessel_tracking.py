"""Follow a contrast-filled tube (the aorta) slice by slice through an axial CT.

Thresholding a contrast CT gives the aorta joined to the heart, the pulmonary
artery and the branch vessels. A tube is followed instead, as a reader scrolls
through axial slices: from a seed blob in a low slice up to where it ends (the
top of the arch: the lumen there is lost or shrinks to the thin branches), then
from the top down again along every limb (descending and ascending aorta),
each limb stopped where its cross-section suddenly grows (it opens into a heart
chamber) or disappears. Each kept cross-section is made convex when it is
nearly round, which restores a less-opacified false lumen of a dissection.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.errors import InputError

JOINED_FACTOR = 3.0  # a section this many times the limb's size is the tube joined to a neighbour


def _components(sl: np.ndarray):
    lab, n = ndimage.label(sl, structure=np.ones((3, 3)))
    return lab, n


def _dilated_hits(lab: np.ndarray, prev: np.ndarray, grow: np.ndarray) -> np.ndarray:
    """Labels (> 0) of ``lab`` touching ``prev`` dilated by ``grow``, worked out in ``prev``'s box."""
    ys, xs = np.nonzero(prev.any(axis=1))[0], np.nonzero(prev.any(axis=0))[0]
    if not len(ys):
        return np.zeros(0, lab.dtype)
    p = grow.shape[0] // 2 + 1
    box = (slice(max(0, ys[0] - p), ys[-1] + p + 1), slice(max(0, xs[0] - p), xs[-1] + p + 1))
    sub = lab[box]
    hit = np.unique(sub[_dilate_square(prev[box], grow.shape[0] // 2) & (sub > 0)])
    return hit[hit > 0]


def _dilate_square(mask: np.ndarray, r: int) -> np.ndarray:
    """``mask`` dilated by a (2r+1)^2 square (as ``binary_dilation`` with that structure, border 0),
    by OR-ing shifted views: for the small boxes of the tracking, ~10x less overhead per call."""
    h, w = mask.shape
    pad = np.zeros((h + 2 * r, w + 2 * r), bool)
    pad[r : r + h, r : r + w] = mask
    out = np.zeros_like(mask)
    for dy in range(2 * r + 1):
        for dx in range(2 * r + 1):
            out |= pad[dy : dy + h, dx : dx + w]
    return out


def _upper_quartile(values) -> float:
    """75th percentile with linear interpolation (numpy's default), for a short list (np.percentile's overhead
    dominated the tracking)."""
    s = sorted(values)
    pos = 0.75 * (len(s) - 1)
    lo = int(pos)
    return float(s[lo] + (pos - lo) * (s[min(lo + 1, len(s) - 1)] - s[lo]))


def track_tube(
    lumen: np.ndarray,
    seed_kji,
    *,
    grow_limit: float = 1.8,
    shrink_stop: float = 0.3,
    touch_px: int = 1,
    round_hull: float = 1.35,
    fallback: np.ndarray | None = None,
    split_keep: float = 0.5,
) -> np.ndarray:
    """Boolean [k, j, i] tube of ``lumen`` followed from ``seed_kji`` along axis k (axial slices).

    ``grow_limit``: a limb whose cross-section grows more than this factor from
    one slice to the next has entered a chamber and stops there.
    ``shrink_stop``: the upward pass ends when the section falls below this
    fraction of the previous one (only thin branches go on).
    ``round_hull``: a section whose convex hull is at most this factor larger is
    replaced by its hull.
    ``split_keep``: where the section splits into pieces on the way up, pieces
    smaller than this fraction of the largest are branches and not followed.
    ``fallback``: a less cleaned lumen (e.g. before the opening) used where a
    thin limb vanishes from ``lumen`` for a slice.
    """
    from skimage.morphology import convex_hull_image

    lumen = np.asarray(lumen, bool)
    k0, j0, i0 = (int(v) for v in seed_kji)
    if not lumen[k0, j0, i0]:
        raise InputError("the vessel seed is not inside the lumen")
    nk = lumen.shape[0]
    grow = np.ones((2 * touch_px + 1,) * 2, bool)
    out = np.zeros_like(lumen)

    def pick(k, prev):
        lab, _ = _components(lumen[k])
        return lab, _dilated_hits(lab, prev, grow)

    # pass 1: upwards from the seed to the top of the tube
    lab, _ = _components(lumen[k0])
    cur = lab == lab[j0, i0]
    out[k0] = cur
    top = k0
    for k in range(k0 + 1, nk):
        lab, hit = pick(k, cur)
        if not len(hit):
            break
        if len(hit) > 1:
            # the section splits going up: a branch leaving (the arch's head and neck
            # vessels, seen as a separate small blob above the arch). Follow only the
            # parent and the pieces of comparable size (a dissection's two lumina).
            sizes = np.array([(lab == h).sum() for h in hit])
            hit = hit[sizes >= split_keep * sizes.max()]
        nxt = np.isin(lab, hit)
        if nxt.sum() < shrink_stop * cur.sum():
            break
        if nxt.sum() > grow_limit * cur.sum():
            nxt = _cut_to(nxt, cur, grow, grow_limit)
        cur = nxt
        out[k] = cur
        top = k
    # pass 1b: downwards from the seed (the lower aorta, iliacs)
    cur = out[k0]
    for k in range(k0 - 1, -1, -1):
        lab, hit = pick(k, cur)
        if not len(hit):
            break
        nxt = np.isin(lab, hit)
        if nxt.sum() > grow_limit * cur.sum():
            nxt = _cut_to(nxt, cur, grow, grow_limit)
        cur = nxt
        out[k] = cur
    # pass 2: from the top down, follow every limb, each stopped when it balloons
    # beyond its own running size (upper quartile of its last sections)
    limbs = [(out[top], [int(out[top].sum())])]
    for k in range(top - 1, -1, -1):
        lab, _ = _components(lumen[k])
        new_limbs: list = []
        lab_fb = None
        for prev, areas in limbs:
            # upper quartile of the last sections: a limb widening again after a
            # short narrowing (stenosis) is not mistaken for a chamber
            ref = _upper_quartile(areas[-12:])
            use = lab
            hit = _dilated_hits(lab, prev, grow)
            if not len(hit) and fallback is not None:  # a thin limb vanished: look in the fallback
                if lab_fb is None:
                    lab_fb, _ = _components(fallback[k])
                use = lab_fb
                hit = _dilated_hits(lab_fb, prev, grow)
            for h in hit:
                comp = use == h
                if (comp & out[k]).any():  # the tracked descending part: keep as is
                    if comp.sum() > JOINED_FACTOR * max(ref, int(out[k].sum())):
                        # its piece is joined to a vertebral body or a heart chamber: keep the tracked part
                        comp = comp & out[k]
                    new_limbs.append((comp, [*areas, int(comp.sum())]))
                    continue
                if comp.sum() > grow_limit * ref:
                    comp = _split_from(comp, prev)  # touching a neighbour: keep our part
                    if comp is None or comp.sum() > grow_limit * ref:
                        continue  # opens into a chamber: this limb ends
                if not any((comp & nl).any() for nl, _ in new_limbs):
                    new_limbs.append((comp, [*areas, int(comp.sum())]))
        if not new_limbs:
            break
        limbs = new_limbs
        for c, _ in limbs:
            out[k] |= c
    # round sections -> convex (false lumen of a dissection, partial opacification)
    for k in np.flatnonzero(out.reshape(nk, -1).any(axis=1)):
        lab, n = _components(out[k])
        for h in range(1, n + 1):
            comp = lab == h
            hull = convex_hull_image(comp)
            if hull.sum() <= round_hull * comp.sum():
                out[k] |= hull
    return out


def _cut_to(nxt: np.ndarray, cur: np.ndarray, grow: np.ndarray, grow_limit: float) -> np.ndarray:
    """The part of section ``nxt`` continuing ``cur`` when it is over ``grow_limit`` times larger.

    The tube touches a neighbour (a vein, an organ, a bone's marrow) in this slice: cut it off
    at the neck (:func:`_split_from`); where no neck separates them, keep only what lies within
    one step of ``cur`` (the tube does not creep into the neighbour slice after slice).
    """
    part = _split_from(nxt, cur)
    if part is not None and part.sum() <= grow_limit * cur.sum():
        return part
    return nxt & ndimage.binary_dilation(cur, grow, iterations=1)


def _split_from(comp: np.ndarray, prev: np.ndarray) -> np.ndarray | None:
    """The part of 2D section ``comp`` continuing ``prev``, cut from what it touches.

    Marker-controlled watershed on the negative distance map with one marker in
    the overlap with ``prev`` and one at the deepest point outside ``prev``.
    """
    from skimage.segmentation import watershed

    dist = ndimage.distance_transform_edt(comp)
    inner = comp & ndimage.binary_erosion(prev, iterations=2)
    if not inner.any():
        inner = comp & prev
    if not inner.any():
        return None
    outside = comp & ~ndimage.binary_dilation(prev, iterations=3)
    if not outside.any():
        return comp
    markers = np.zeros(comp.shape, np.int32)
    markers[inner] = 1
    o = np.unravel_index(np.argmax(np.where(outside, dist, 0)), comp.shape)
    markers[o] = 2
    lab = watershed(-dist, markers, mask=comp)
    return lab == 1


def _is_round(section: np.ndarray, min_aspect: float) -> bool:
    """Whether 2D ``section`` is round and convex: minor/major axis >= ``min_aspect``, solidity >= 0.85."""
    from skimage.measure import regionprops

    rp = regionprops(section.astype(np.uint8))[0]
    return bool(rp.solidity >= 0.85 and rp.axis_minor_length >= min_aspect * rp.axis_major_length)


def _circles_through(p1: np.ndarray, p2: np.ndarray, p3: np.ndarray):
    """Centres (x, y) and radii of the circles through rows of three 2D points (NaN when collinear)."""
    (x1, y1), (x2, y2), (x3, y3) = p1.T, p2.T, p3.T
    d = 2.0 * (x1 * (y2 - y3) + x2 * (y3 - y1) + x3 * (y1 - y2))
    d = np.where(np.abs(d) < 1e-6, np.nan, d)
    s1, s2, s3 = x1 * x1 + y1 * y1, x2 * x2 + y2 * y2, x3 * x3 + y3 * y3
    ux = (s1 * (y2 - y3) + s2 * (y3 - y1) + s3 * (y1 - y2)) / d
    uy = (s1 * (x3 - x2) + s2 * (x1 - x3) + s3 * (x2 - x1)) / d
    return ux, uy, np.hypot(x1 - ux, y1 - uy)


def _wall_circle(
    hu: np.ndarray,
    section: np.ndarray,
    *,
    tissue_hu: float,
    lumen_hu: float,
    max_ratio: float,
    support: float,
    min_gain: float,
    min_thick_px: float,
    trials: int,
    rng,
) -> np.ndarray | None:
    """The round outer aortic wall around a bright (true) lumen ``section`` in one axial slice.

    RANSAC circle through the soft-tissue / fat-or-lung edge (``hu`` >= ``tissue_hu``)
    near the section: radius 1.05..``max_ratio`` x the section's equivalent radius,
    holding the whole section, at least ``support`` of its circumference on that
    edge, its disc >= 90 % tissue. Returns disc & tissue (with the section) when it
    adds >= ``min_gain`` of the section's area, mostly below ``lumen_hu`` (an
    unopacified false lumen, not a bright neighbour) and somewhere at least
    ``min_thick_px`` deep (not just the wall ringing the lumen), else None.

    Works on the square around the section that any accepted disc fits in (a 512^2
    slice costs what its aorta's neighbourhood does), and scores the ``trials``
    candidate circles at once.
    """
    sy, sx = (a.astype(float) for a in np.nonzero(section))
    cy, cx = sy.mean(), sx.mean()
    rc = float(np.sqrt(len(sy) / np.pi))
    # an accepted centre lies within r + 1 of the section, its disc within 2 r + 1 + extent
    extent = float(np.sqrt(((sy - cy) ** 2 + (sx - cx) ** 2).max()))
    half = int(np.ceil(2.0 * max_ratio * rc + extent + 4.0))
    y0, x0 = max(0, int(cy) - half), max(0, int(cx) - half)
    y1, x1 = min(hu.shape[0], int(cy) + half + 1), min(hu.shape[1], int(cx) + half + 1)
    hu_c, sec_c = hu[y0:y1, x0:x1], section[y0:y1, x0:x1]
    sy, sx, cy, cx = sy - y0, sx - x0, cy - y0, cx - x0
    tissue = hu_c >= tissue_hu
    edge = tissue & ~ndimage.binary_erosion(tissue)
    ey, ex = np.nonzero(edge)
    near = np.hypot(ey - cy, ex - cx) <= max_ratio * rc + 2.0
    ey, ex = ey[near].astype(float), ex[near].astype(float)
    if len(ey) < 10:
        return None
    pts = np.stack([ex, ey], axis=1)
    idx = rng.integers(0, len(pts), size=(trials, 3))
    distinct = (idx[:, 0] != idx[:, 1]) & (idx[:, 0] != idx[:, 2]) & (idx[:, 1] != idx[:, 2])
    idx = idx[distinct]
    ux, uy, r = _circles_through(pts[idx[:, 0]], pts[idx[:, 1]], pts[idx[:, 2]])
    ok = np.isfinite(r) & (r >= 1.05 * rc) & (r <= max_ratio * rc)
    ux, uy, r = ux[ok], uy[ok], r[ok]
    if len(r) == 0:
        return None
    held = np.empty(len(r), bool)
    score = np.zeros(len(r), int)
    step = max(1, int(4e6 // max(len(sx), len(ex))))  # bounded temporaries
    for s0 in range(0, len(r), step):
        u, v, rr = ux[s0 : s0 + step, None], uy[s0 : s0 + step, None], r[s0 : s0 + step, None]
        held[s0 : s0 + step] = np.mean(np.hypot(sx - u, sy - v) <= rr + 1.0, axis=1) >= 0.95
        score[s0 : s0 + step] = np.sum(np.abs(np.hypot(ex - u, ey - v) - rr) <= 1.0, axis=1)
    score = np.where(held, score, 0)
    if score.max() <= 0:
        return None
    n = int(np.argmax(score))
    best, best_score = (ux[n], uy[n], r[n]), int(score[n])
    if best_score < support * 2.0 * np.pi * best[2]:
        return None
    ux, uy, r = best
    jj, ii = np.ogrid[: hu_c.shape[0], : hu_c.shape[1]]
    disc = np.hypot(ii - ux, jj - uy) <= r
    if np.mean(tissue[disc]) < 0.9:
        return None
    region = (disc & tissue) | sec_c
    added = region & ~sec_c
    if added.sum() < min_gain * sec_c.sum() or np.mean(hu_c[added] >= lumen_hu) > 0.25:
        return None
    if ndimage.distance_transform_edt(added).max() < min_thick_px:
        return None  # only a ring around the lumen (the wall), no false lumen
    out = np.zeros(hu.shape, bool)
    out[y0:y1, x0:x1] = region
    return out


def restore_false_lumen(
    tube: np.ndarray,
    hu: np.ndarray,
    slice_mm: float,
    *,
    pixel_mm: float = 1.0,
    smooth_mm: float = 0.0,
    tissue_hu: float = -30.0,
    lumen_hu: float = 150.0,
    max_ratio: float = 2.5,
    support: float = 0.35,
    min_gain: float = 0.2,
    min_run_mm: float = 6.0,
    min_thick_mm: float = 3.0,
    trials: int = 300,
    round_skip: float = 0.9,
) -> np.ndarray:
    """``tube`` [k, j, i] with an unopacified false lumen of a dissection added inside the round wall.

    A dissected aorta's false lumen can hold barely enhanced blood (30-100 HU,
    like the tissue around it), so no threshold finds it; but the aorta's outer
    wall stays round and shows against fat and lung. Each axial section of the
    tube gets the circle of :func:`_wall_circle` (``hu``: the CT, each slice smoothed
    with a Gaussian of ``smooth_mm`` mm for pixels of ``pixel_mm`` mm);
    circles are kept only along runs of >= ``min_run_mm`` mm of consecutive
    slices (``slice_mm`` apart), as a false lumen is a tube, not one slice. A section that is
    round (minor/major axis >= ``round_skip``, solidity >= 0.85; 0 turns the test off) is a
    normal lumen filling its wall and gets no circle: on a normal thoracic aorta the circle
    otherwise took in the oesophagus and the azygos vein behind it.
    """
    rng = np.random.default_rng(0)
    found: list[tuple[int, np.ndarray]] = []
    slices: dict[int, np.ndarray] = {}

    def sl(k: int) -> np.ndarray:
        if k not in slices:
            img = np.asarray(hu[k], np.float32)
            slices[k] = ndimage.gaussian_filter(img, smooth_mm / pixel_mm) if smooth_mm > 0 else img
        return slices[k]

    for k in np.flatnonzero(tube.reshape(tube.shape[0], -1).any(axis=1)):
        lab, n = _components(tube[k])
        for h in range(1, n + 1):
            sec = lab == h
            if sec.sum() < 30 or (round_skip and _is_round(sec, round_skip)):
                continue  # a round, convex bright lumen fills its wall: no flap pressed it aside
            reg = _wall_circle(
                sl(int(k)),
                sec,
                tissue_hu=tissue_hu,
                lumen_hu=lumen_hu,
                max_ratio=max_ratio,
                support=support,
                min_gain=min_gain,
                min_thick_px=min_thick_mm / pixel_mm,
                trials=trials,
                rng=rng,
            )
            if reg is not None:
                found.append((int(k), reg))
    ks = sorted({k for k, _ in found})
    need = max(2, int(np.ceil(min_run_mm / slice_mm)))
    keep: set[int] = set()
    i = 0
    while i < len(ks):
        j = i
        while j + 1 < len(ks) and ks[j + 1] - ks[j] <= 2:  # one slice may be missed inside a run
            j += 1
        if ks[j] - ks[i] + 1 >= need:
            keep.update(range(ks[i], ks[j] + 1))
        i = j + 1
    # one region per slice (the largest), smoothed along the run: a slice whose circle is
    # much larger than its neighbours' is cut to them, a slice missed inside a run gets
    # what its two neighbours share
    regs: dict[int, np.ndarray] = {}
    for k, reg in found:
        if k in keep and (k not in regs or reg.sum() > regs[k].sum()):
            regs[k] = reg
    out = tube.copy()
    for k in sorted(keep):
        nb = [regs[q] for q in (k - 2, k - 1, k + 1, k + 2) if q in regs]
        reg = regs.get(k)
        if reg is None:
            if (k - 1) in regs and (k + 1) in regs:
                out[k] |= regs[k - 1] & regs[k + 1] & (sl(k) >= tissue_hu)
            continue
        if nb and reg.sum() > 1.15 * float(np.median([r.sum() for r in nb])):
            reg = reg & np.any(nb, axis=0)
        out[k] |= reg
    return out


def _darker_side_cut(
    sec: np.ndarray, hu: np.ndarray, centre, r_px: float, min_contrast_hu: float
) -> np.ndarray | None:
    """The part of 2D ``sec`` around ``centre`` (row, column) cut from a darker neighbour along the wall.

    ``hu``: the slice, smoothed. When ``sec`` beyond ``r_px`` + 1.5 pixels of the centre is darker
    than within half of it by >= ``min_contrast_hu`` (an iliac vein beside its artery: 110-130 against
    140-150 HU in a late phase), a watershed of the brightness from both (the darker side's marker
    only where it is below the half-way level) puts the cut in the darker wall between them, or at the
    half-way level where no wall shows, and keeps the artery's partial-volume rim towards fat. None
    when there is no such contrast.
    """
    from skimage.segmentation import watershed

    jj, ii = np.ogrid[: sec.shape[0], : sec.shape[1]]
    dd = np.hypot(jj - centre[0], ii - centre[1])
    inner = sec & (dd <= 0.5 * r_px)
    outer = sec & (dd > r_px + 1.5)
    if inner.sum() < 5 or outer.sum() < 5:
        return None
    a, o = float(np.median(hu[inner])), float(np.median(hu[outer]))
    if a - o < min_contrast_hu:
        return None
    mid = 0.5 * (a + o)
    markers = np.zeros(sec.shape, np.int32)
    markers[outer & (hu < mid)] = 2
    markers[inner] = 1
    ws = watershed(-hu, markers, mask=sec)
    # without a darker wall between them the brighter basin floods the whole slope: there the cut is
    # at the half-way level (within 2 pixels of the neighbour's basin; the rim towards fat stays)
    part = (ws == 1) & ~((hu < mid) & ndimage.binary_dilation(ws == 2, iterations=2))
    lab, _ = _components(part)
    c = lab[int(round(centre[0])), int(round(centre[1]))]
    return ndimage.binary_fill_holes(lab == c) if c else part


def _round_part(
    sec: np.ndarray,
    prev: np.ndarray,
    ref_px: float,
    grow_limit: float,
    hu: np.ndarray | None = None,
    min_contrast_hu: float = 12.0,
) -> tuple[np.ndarray, bool]:
    """The round tube of 2D section ``sec`` continuing ``prev`` (a limb of about ``ref_px`` pixels).

    ``sec`` holds the tube and a neighbour it touches in this slice (an iliac vein beside its
    artery). The tube's place: a disc of the limb's size placed within half its radius of
    ``prev``'s centre, where ``sec`` fills it best (nearest to ``prev`` among near ties, as the vein
    beside it fills such a disc as well). Then, in this order, the first that keeps 0.7 to
    ``grow_limit`` times the limb (less would shrink it slice by slice): the cut along the darker
    wall (:func:`_darker_side_cut`, with the smoothed slice ``hu``), the marker watershed at a neck
    (:func:`_split_from`, round parts only), else the disc itself (the tube is round). Returns the
    part and whether it follows the tube's own edge (not the disc).
    """
    r_ref = float(np.sqrt(ref_px / np.pi))
    jj, ii = np.ogrid[: sec.shape[0], : sec.shape[1]]
    n = int(np.ceil(r_ref))
    y, x = np.ogrid[-n : n + 1, -n : n + 1]
    disc = (np.hypot(y, x) <= r_ref).astype(np.float32)
    cover = ndimage.correlate(sec.astype(np.float32), disc / disc.sum(), mode="constant")
    cy, cx = (float(v) for v in np.argwhere(prev).mean(axis=0))
    dist = np.hypot(jj - cy, ii - cx)
    region = dist <= max(1.5, 0.5 * r_ref)
    best = float(cover[region].max())
    if best <= 0.0:
        return sec & prev, False
    # where the limb's disc is (nearly) filled, the place nearest to where the limb was
    cand = region & (cover >= best - 0.03)
    j, i = np.unravel_index(int(np.argmin(np.where(cand, dist, np.inf))), sec.shape)
    ok = (0.7 * ref_px, grow_limit * ref_px)
    if hu is not None:
        part = _darker_side_cut(sec, hu, (j, i), r_ref, min_contrast_hu)
        if part is not None and ok[0] <= part.sum() <= ok[1]:
            return part, True
    part = _split_from(sec, prev)
    if part is not None and ok[0] <= part.sum() <= ok[1] and _is_round(part, 0.6):
        return part, True
    keep = sec & (np.hypot(jj - j, ii - i) <= r_ref + 0.5)
    lab, _ = _components(keep)
    return (lab == lab[j, i] if lab[j, i] else keep), False


def round_limbs(
    mask: np.ndarray,
    k0: int,
    start: np.ndarray,
    *,
    spacing_mm: tuple[float, float] = (1.0, 1.0),
    hu: np.ndarray | None = None,
    down: int = -1,
    grow_limit: float = 1.35,
    solidity: float = 0.8,
    split_keep: float = 0.4,
    history: int = 4,
    diverge_mm: float = 30.0,
) -> np.ndarray:
    """``mask`` [k, j, i] with everything beyond slice ``k0`` (in direction ``down``) kept only as round limbs.

    Below the aorta's foot a contrast CT in a late phase shows the iliac veins as bright as the
    arteries, pressed against them: thresholding joins them (sections of 180-270 mm^2 where a common
    iliac is 80-110 mm^2). A reader follows each artery as a round tube instead: from ``start``
    (the aorta's section in slice ``k0``) slice by slice, the trunk until it splits into two
    pieces of comparable size (``split_keep`` of the larger: the bifurcation), then each limb on
    its own: the piece that overlaps it most, cut to its round part (:func:`_round_part`) when it is
    more than ``grow_limit`` times the limb's recent size (median of its last ``history`` sections)
    or less convex than ``solidity`` (the size never above its first three sections': a tube
    that crept into its vein slice by slice would otherwise carry it on). A limb that meets nothing
    ends. Slices from ``k0`` up are returned unchanged.

    ``hu``: the CT [k, j, i] (HU), to cut a limb from a darker vein along the wall between them.
    ``spacing_mm``: (pixel, slice) size in mm. The split is a bifurcation only when the two
    limbs have moved apart by more than the trunk's diameter within ``diverge_mm`` mm below it
    (the iliacs diverge; the two lumina of a dissected aorta stay side by side inside its wall):
    otherwise ``mask`` is returned unchanged.
    """
    from skimage.measure import regionprops

    out = mask.copy()
    nk = mask.shape[0]
    px, dz = (float(v) for v in spacing_mm)
    seed_sec = start & mask[k0]
    if not seed_sec.any():
        return mask.copy()
    lab0, _ = _components(mask[k0])
    hit0 = np.unique(lab0[seed_sec])
    limbs = [(np.isin(lab0, hit0[hit0 > 0]), [int(seed_sec.sum())], -1)]  # (section, sizes, limb id; -1 trunk)
    trunk_px = float(seed_sec.sum())
    centres: dict[int, dict[int, np.ndarray]] = {}  # limb id -> slice -> centre (pixels)
    split_k = None
    grow = np.ones((3, 3), bool)
    k = k0 + down
    while 0 <= k < nk:
        lab, _ = _components(mask[k])
        new_limbs = []
        for prev, areas, lid in limbs:
            hits = _dilated_hits(lab, prev, grow)
            if not len(hits):
                continue
            near = ndimage.binary_dilation(prev, grow)
            pieces = [(h, int((lab == h).sum()), int(((lab == h) & near).sum())) for h in hits]
            if lid < 0:
                big = max(p[1] for p in pieces)
                daughters = [h for h, a, _o in pieces if a >= split_keep * big]
                if len(daughters) >= 2:  # the bifurcation: each daughter a limb of its own
                    split_k = k
                    for h in daughters:
                        new_limbs.append((lab == h, [int((lab == h).sum())], len(centres)))
                        centres[len(centres)] = {}
                    continue
                sec = lab == max(pieces, key=lambda p: p[1])[0]
                trunk_px = float(np.median([*areas[-history:], sec.sum()]))
                new_limbs.append((sec, [*areas, int(sec.sum())], -1))
                continue
            sec = lab == max(pieces, key=lambda p: p[2])[0]
            # a limb tapers going down: its recent size, never much more than where it began
            ref = min(float(np.median(areas[-history:])), 1.25 * float(np.median(areas[:3])))
            rp = regionprops(sec.astype(np.uint8))[0]
            size = int(sec.sum())
            if sec.sum() > grow_limit * ref or rp.solidity < solidity:
                sm = None
                if hu is not None:
                    bb = ndimage.find_objects(sec.astype(np.int8))[0]
                    box = tuple(slice(max(0, b.start - 3), b.stop + 3) for b in bb)
                    sm = np.full(sec.shape, -1000.0, np.float32)
                    sm[box] = ndimage.gaussian_filter(np.asarray(hu[k][box], np.float32), 1.0)
                sec, own_edge = _round_part(sec, prev, ref, grow_limit, sm)
                # a disc does not set the limb's size (it would shrink slice by slice); an edge does
                size = int(sec.sum()) if own_edge else ref
            if sec.any():
                new_limbs.append((sec, [*areas, size], lid))
        out[k] = False
        for sec, _a, lid in new_limbs:
            out[k] |= sec
            if lid >= 0:
                centres[lid][k] = np.argwhere(sec).mean(axis=0)
        limbs = new_limbs
        if not limbs:
            out[slice(0, k) if down < 0 else slice(k + 1, nk)] = False  # nothing beyond a lost tube
            break
        k += down
    if split_k is None or len(centres) < 2:
        return mask.copy()
    a, b = centres[0], centres[1]
    both = [q for q in a if q in b and abs(q - split_k) * dz <= diverge_mm]
    apart = max((float(np.hypot(*(a[q] - b[q]))) * px for q in both), default=0.0)
    if apart <= 2.0 * np.sqrt(trunk_px / np.pi) * px:
        return mask.copy()  # side by side within the trunk's calibre: not a bifurcation
    return out
