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


def _components(sl: np.ndarray):
    lab, n = ndimage.label(sl, structure=np.ones((3, 3)))
    return lab, n


def track_tube(lumen: np.ndarray, seed_kji, *, grow_limit: float = 1.8, shrink_stop: float = 0.3,
               touch_px: int = 1, round_hull: float = 1.35, fallback: np.ndarray | None = None,
               split_keep: float = 0.5) -> np.ndarray:
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
        hit = np.unique(lab[ndimage.binary_dilation(prev, grow) & (lab > 0)])
        return lab, hit[hit > 0]

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
            nxt &= ndimage.binary_dilation(cur, grow, iterations=3)
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
            nxt &= ndimage.binary_dilation(cur, grow, iterations=3)
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
            ref = float(np.percentile(areas[-12:], 75))
            use = lab
            hit = np.unique(lab[ndimage.binary_dilation(prev, grow) & (lab > 0)])
            if not len(hit) and fallback is not None:  # a thin limb vanished: look in the fallback
                if lab_fb is None:
                    lab_fb, _ = _components(fallback[k])
                use = lab_fb
                hit = np.unique(lab_fb[ndimage.binary_dilation(prev, grow) & (lab_fb > 0)])
            for h in hit[hit > 0]:
                comp = use == h
                if (comp & out[k]).any():  # the tracked descending part: keep as is
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
