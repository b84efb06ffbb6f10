"""A lumen mask without tunnels or handles: one tree of tubes, as a flow mesher needs it.

A contrast lumen segmented by threshold can touch a bright neighbour (an iliac artery its vein, two
loops of a tortuous vessel) over a thin bridge; the mask then has tunnels (a handle: Euler number
below 1) and its surface is not a sphere with open ends, which gmsh cannot mesh as one fluid volume.

:func:`tree_topology` cuts every such bridge where it is thinnest and keeps everything else:

1. depth = distance to the background (mm, the voxel spacing);
2. the core = the voxels deeper than ``t`` mm, its largest component with its cavities filled; ``t``
   rises from ``START_DEPTH_MM`` in steps of ``DEPTH_STEP_MM`` until the core is one component without
   tunnels (Euler number 1);
3. the core grows back into the mask, deepest voxels first, adding a voxel only when it is a *simple
   point* (adding it changes neither the number of components nor of tunnels or cavities: one
   26-connected piece of the result and one 6-connected piece of the background around it), so the
   result keeps the core's topology. A bridge is thin: its voxels come last, and the one voxel
   layer that would close the loop is left out.

Foreground 26-connected, background 6-connected (the conservative pair: a diagonal contact counts as a
connection, so a lumen surface interpolated between voxels cannot join across a cut). Arrays [k, j, i],
``spacing`` (i, j, k) mm as a Volume's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

START_DEPTH_MM = 1.5
DEPTH_STEP_MM = 0.5
MAX_DEPTH_MM = 8.0
DEPTH_BIN = 0.05  # growth order: bins of this fraction of the largest depth

_N26 = np.ones((3, 3, 3), bool)
_N26[1, 1, 1] = False
_C6 = ndi.generate_binary_structure(3, 1)
_N18 = ndi.generate_binary_structure(3, 2).copy()
_N18[1, 1, 1] = False
_N6 = _C6.copy()
_N6[1, 1, 1] = False


def euler_number(mask: np.ndarray) -> int:
    """Euler number of ``mask`` (components - tunnels + cavities), foreground 26-connected."""
    from skimage.measure import euler_number as _eu

    return int(_eu(np.asarray(mask, bool), connectivity=3))


def is_simple(nb: np.ndarray) -> bool:
    """Whether the centre of the 3x3x3 neighbourhood ``nb`` (bool, centre ignored) is a simple point
    for (26, 6) connectivity: adding or removing it changes no component, tunnel or cavity."""
    fg = nb & _N26
    if not fg.any():
        return False  # an isolated voxel would be a new component
    _, n_fg = ndi.label(fg, structure=np.ones((3, 3, 3), bool))
    if n_fg != 1:
        return False
    bg = ~nb & _N18
    if not (bg & _N6).any():
        return False  # a voxel inside fills a cavity
    lab, _ = ndi.label(bg, structure=_C6)
    return len(np.unique(lab[_N6 & bg])) == 1



# vectorised simple-point test: components of the 26 neighbours by label propagation over the fixed
# adjacency of the 3x3x3 positions (index 13 is the centre; 27 is a dummy that is never a member)
_POS = np.argwhere(np.ones((3, 3, 3), bool)) - 1  # 27 offsets, index 13 = centre

def _adjacency(kind: int) -> np.ndarray:
    nb = []
    for a in range(27):
        row = []
        for b in range(27):
            if a == b or a == 13 or b == 13:
                continue
            d = np.abs(_POS[a] - _POS[b])
            if (kind == 26 and d.max() == 1) or (kind == 6 and d.sum() == 1):
                row.append(b)
        nb.append(row)
    width = max(len(r) for r in nb)
    return np.array([r + [27] * (width - len(r)) for r in nb])

_NB26 = _adjacency(26)
_NB6 = _adjacency(6)
_IS18 = np.array([np.abs(p).sum() <= 2 and i != 13 for i, p in enumerate(_POS)])
_IS6 = np.array([np.abs(p).sum() == 1 for p in _POS])

def _component_labels(member: np.ndarray, nb: np.ndarray) -> np.ndarray:
    n = len(member)
    big = 99
    lab = np.where(member, np.arange(27)[None, :], big).astype(np.int16)
    lab = np.concatenate([lab, np.full((n, 1), big, np.int16)], axis=1)
    while True:
        m = lab[:, nb].min(axis=2)  # (n, 27)
        new = np.where(member, np.minimum(lab[:, :27], m), big)
        if np.array_equal(new, lab[:, :27]):
            break
        lab[:, :27] = new
    return lab[:, :27]

def simple_many(nbhd: np.ndarray) -> np.ndarray:
    """:func:`is_simple` of many neighbourhoods at once: ``nbhd`` (n, 27) bool, rows of raveled 3x3x3 (centre
    ignored)."""
    fg = nbhd.copy()
    fg[:, 13] = False
    lab = _component_labels(fg, _NB26)
    roots = (lab == np.arange(27)[None, :]) & fg
    ok = roots.sum(axis=1) == 1
    bg = ~nbhd & _IS18[None, :]
    lab6 = _component_labels(bg, _NB6)
    l6 = np.where(bg[:, _IS6], lab6[:, _IS6], 99)
    s = np.sort(l6, axis=1)
    distinct = ((s[:, 1:] != s[:, :-1]) & (s[:, 1:] != 99)).sum(axis=1) + (s[:, 0] != 99)
    return ok & (distinct == 1)



def _grow(core: np.ndarray, region: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """``core`` grown into ``region`` by simple points only, deepest first (depth bins of ``DEPTH_BIN``
    of the largest depth). The 8 parity subfields are tested one after the other: two voxels of one
    subfield are never 26-adjacent, so adding all simple ones of a subfield at once keeps the topology.
    ``region`` and ``core`` are padded by one voxel (the neighbourhoods never leave the array)."""
    out = core.copy().ravel()
    reg = region.ravel()
    shape = core.shape
    strides = np.array([shape[1] * shape[2], shape[2], 1])
    offs = (_POS @ strides).astype(np.int64)  # flat offsets of the 27 positions
    dflat = depth.ravel()
    parity = _parity(shape)
    # candidates (flat indices): region voxels outside ``out`` next to it; dirty: a neighbour was added
    # since the voxel was last tested
    nb_of_out = ndi.binary_dilation(core, structure=np.ones((3, 3, 3), bool)).ravel()
    cand = np.flatnonzero(nb_of_out & reg & ~out)
    del nb_of_out
    dirty = np.zeros(out.size, bool)
    dirty[cand] = True
    incand = dirty.copy()
    top = float(depth[region].max()) if region.any() else 0.0
    thresholds = list(np.arange(top, 0.0, -max(DEPTH_BIN * top, 1e-3))) + [-1.0]
    cache: dict = {}
    for thr in thresholds:
        while True:
            gone = out[cand]
            incand[cand[gone]] = False
            cand = cand[~gone]
            active = cand[dirty[cand] & (dflat[cand] >= thr)]
            if not len(active):
                break
            dirty[active] = False
            new_nb = []
            for par in range(8):
                idx = active[parity[active] == par]
                if not len(idx):
                    continue
                nbhd = out[idx[:, None] + offs[None, :]]
                uniq, inv = np.unique(_keys(nbhd), return_inverse=True)
                todo = [u for u in uniq.tolist() if u not in cache]
                if todo:
                    rows = ((np.array(todo, np.int64)[:, None] >> np.arange(27, dtype=np.int64)[None, :]) & 1) > 0
                    cache.update(zip(todo, simple_many(rows).tolist(), strict=True))
                ok = np.fromiter((cache[u] for u in uniq.tolist()), bool, len(uniq))[inv.ravel()]
                add = idx[ok]
                if not len(add):
                    continue
                out[add] = True
                nb = (add[:, None] + offs[None, :]).ravel()
                nb = nb[reg[nb] & ~out[nb]]
                dirty[nb] = True
                nb = np.unique(nb[~incand[nb]])
                incand[nb] = True
                new_nb.append(nb)
            if new_nb:
                cand = np.concatenate([cand, *new_nb])
    return out.reshape(shape)


def _parity(shape) -> np.ndarray:
    """Subfield (0..7) of every voxel, flat: the parities of k, j and i."""
    kk, jj, ii = np.indices(shape, sparse=True)
    return ((kk % 2) * 4 + (jj % 2) * 2 + (ii % 2)).astype(np.int8).ravel()


def _keys(nbhd: np.ndarray) -> np.ndarray:
    """27-bit integer of each row of ``nbhd`` (bit b = position b)."""
    return (nbhd.astype(np.int64) << np.arange(27, dtype=np.int64)[None, :]).sum(axis=1)


@dataclass
class TopologyFix:
    mask: np.ndarray
    euler_before: int
    euler_after: int
    removed_voxels: int
    core_depth_mm: float
    components_dropped: int


def tree_topology(mask: np.ndarray, spacing, *, allowed: np.ndarray | None = None) -> TopologyFix:
    """The largest component of ``mask`` without tunnels or cavities (see the module docstring).

    ``allowed``: where the result may grow beyond ``mask`` (default: only ``mask``): the core is taken
    from ``mask``, the growth runs in ``mask | allowed``. Returns the fixed mask and the figures.
    """
    mask = np.asarray(mask, bool)
    region = mask if allowed is None else (mask | np.asarray(allowed, bool))
    eu0 = euler_number(mask)
    sp = tuple(float(s) for s in spacing)[::-1]  # (k, j, i)
    # work in the box of the region, padded by one voxel (neighbourhoods never leave the array)
    idx = np.argwhere(region)
    if not len(idx):
        return TopologyFix(mask.copy(), eu0, eu0, 0, 0.0, 0)
    lo = idx.min(axis=0)
    hi = idx.max(axis=0) + 1
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    reg = np.pad(region[box], 1)
    m = np.pad(mask[box], 1)
    depth = ndi.distance_transform_edt(reg, sampling=sp)
    lab, n = ndi.label(m, structure=np.ones((3, 3, 3), bool))
    sizes = np.bincount(lab.ravel())[1:]
    biggest = lab == (int(np.argmax(sizes)) + 1) if n else m
    t = START_DEPTH_MM
    core = None
    while t <= MAX_DEPTH_MM:
        c = biggest & (depth >= t)
        cl, cn = ndi.label(c, structure=np.ones((3, 3, 3), bool))
        if cn:
            c = cl == (int(np.argmax(np.bincount(cl.ravel())[1:])) + 1)
            c = ndi.binary_fill_holes(c)
            if euler_number(c) == 1:
                core = c
                break
        t += DEPTH_STEP_MM
    if core is None:  # no tunnel-free core: keep the deepest voxel and grow from it
        core = np.zeros_like(m)
        core[np.unravel_index(int(np.argmax(np.where(biggest, depth, -1.0))), m.shape)] = True
    out = _grow(core, reg, depth)
    result = np.zeros_like(mask)
    result[box] = out[1:-1, 1:-1, 1:-1]
    dropped = max(0, n - 1)
    removed = int((mask & ~result).sum())
    return TopologyFix(result, eu0, euler_number(result), removed, float(t if core is not None else 0.0), dropped)



def _critical(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Voxels of the critical configurations of ``a`` (not well-composed): (outside voxels whose addition,
    inside voxels whose removal would remove one). Critical: a 2x2 face with one diagonal inside and the
    other outside; a 2x2x2 cube with only two opposite corners inside, or only two opposite outside."""
    add = np.zeros(a.shape, bool)
    rem = np.zeros(a.shape, bool)
    n = a.shape
    for ax1, ax2 in ((0, 1), (0, 2), (1, 2)):
        def sl(d1, d2, ax1=ax1, ax2=ax2):
            s = [slice(None)] * 3
            s[ax1] = slice(d1, n[ax1] - 1 + d1)
            s[ax2] = slice(d2, n[ax2] - 1 + d2)
            return tuple(s)

        p00, p01, p11, p10 = a[sl(0, 0)], a[sl(0, 1)], a[sl(1, 1)], a[sl(1, 0)]
        c1 = p00 & p11 & ~p01 & ~p10
        c2 = p01 & p10 & ~p00 & ~p11
        for d, c in (((0, 0), c1), ((1, 1), c1), ((0, 1), c2), ((1, 0), c2)):
            rem[sl(*d)] |= c
        for d, c in (((0, 1), c1), ((1, 0), c1), ((0, 0), c2), ((1, 1), c2)):
            add[sl(*d)] |= c

    def cs(dk, dj, di):
        return (slice(dk, n[0] - 1 + dk), slice(dj, n[1] - 1 + dj), slice(di, n[2] - 1 + di))

    corners = [(dk, dj, di) for dk in (0, 1) for dj in (0, 1) for di in (0, 1)]
    count = sum(a[cs(*c)].astype(np.int8) for c in corners)
    for c in corners[:4]:
        o = tuple(1 - x for x in c)
        two_in = (count == 2) & a[cs(*c)] & a[cs(*o)]
        two_out = (count == 6) & ~a[cs(*c)] & ~a[cs(*o)]
        for q in corners:
            if q in (c, o):
                rem[cs(*q)] |= two_in
                add[cs(*q)] |= two_out
            else:
                add[cs(*q)] |= two_in
                rem[cs(*q)] |= two_out
    return add & ~a, rem & a


def well_composed(inside: np.ndarray, max_passes: int = 50) -> tuple[np.ndarray, int]:
    """``inside`` (padded by one voxel, no critical configuration at its border) made well-composed
    by adding, else removing, simple voxels of its critical configurations (the topology stays, for
    (26, 6)). A well-composed set has the same components and tunnels for 6 and 26 connectivity, and
    marching cubes has no ambiguous face or cube on it: its surface has the set's topology. Returns the
    set and the number of critical voxels left (0 when it worked)."""
    a = inside.copy()
    shape = a.shape
    strides = np.array([shape[1] * shape[2], shape[2], 1])
    offs = (_POS @ strides).astype(np.int64)
    parity = _parity(shape)
    flat = a.ravel()
    left = 0
    for _ in range(max_passes):
        add, rem = _critical(a)
        left = int(add.sum() + rem.sum())
        if not left:
            break
        changed = 0
        for cand, value in ((np.flatnonzero(add.ravel()), True), (np.flatnonzero(rem.ravel()), False)):
            for par in range(8):
                idx = cand[parity[cand] == par]
                idx = idx[flat[idx] != value]
                if not len(idx):
                    continue
                ok = simple_many(flat[idx[:, None] + offs[None, :]])
                flat[idx[ok]] = value
                changed += int(ok.sum())
            if changed:
                break  # additions first; removals only when no addition was possible
        if not changed:
            break
    return a, left


def well_joined_values(values: np.ndarray, inside: np.ndarray, eps_out: float = 1e-3,
                       eps_in: float = 0.05) -> np.ndarray:
    """``values`` (a field whose zero level bounds ``inside`` = values > 0) nudged so that marching cubes
    (trilinear-consistent, Lewiner) joins what 26-connectivity joins: on every 2x2 face with two inside
    voxels on one diagonal and two outside on the other, and in every 2x2x2 cube with only two opposite
    corners inside, the outside corners go up to ``-eps_out`` and the inside ones to at least ``eps_in``
    (the saddle between the inside pair is then positive). The surface moves by a fraction of a grid
    step at those few places only."""
    v = values.copy()
    a = inside
    bump_out = np.zeros(a.shape, bool)
    bump_in = np.zeros(a.shape, bool)
    n = a.shape
    for ax1, ax2 in ((0, 1), (0, 2), (1, 2)):
        def sl(d1, d2, ax1=ax1, ax2=ax2):
            s = [slice(None)] * 3
            s[ax1] = slice(d1, n[ax1] - 1 + d1)
            s[ax2] = slice(d2, n[ax2] - 1 + d2)
            return tuple(s)

        p00, p01, p11, p10 = a[sl(0, 0)], a[sl(0, 1)], a[sl(1, 1)], a[sl(1, 0)]
        crit1 = p00 & p11 & ~p01 & ~p10
        crit2 = p01 & p10 & ~p00 & ~p11
        for (d1, d2), cin in (((0, 0), crit1), ((1, 1), crit1), ((0, 1), crit2), ((1, 0), crit2)):
            bump_in[sl(d1, d2)] |= cin
        for (d1, d2), cout in (((0, 1), crit1), ((1, 0), crit1), ((0, 0), crit2), ((1, 1), crit2)):
            bump_out[sl(d1, d2)] |= cout

    def cs(dk, dj, di):
        return (slice(dk, n[0] - 1 + dk), slice(dj, n[1] - 1 + dj), slice(di, n[2] - 1 + di))

    corners = [(dk, dj, di) for dk in (0, 1) for dj in (0, 1) for di in (0, 1)]
    count = sum(a[cs(*c)].astype(np.int8) for c in corners)
    for c in corners[:4]:
        o = tuple(1 - x for x in c)
        crit = (count == 2) & a[cs(*c)] & a[cs(*o)]
        if not crit.any():
            continue
        for q in corners:
            if q in (c, o):
                bump_in[cs(*q)] |= crit
            else:
                bump_out[cs(*q)] |= crit
    bump_out &= ~a
    bump_in &= a
    v[bump_out] = np.maximum(v[bump_out], -eps_out)
    v[bump_in] = np.maximum(v[bump_in], eps_in)
    return v


def tree_surface_voxels(inside: np.ndarray, spacing_mm: float, *, cut: bool = True,
                        attempts: int = 4) -> tuple[np.ndarray, dict]:
    """The voxels (padded ``inside``, isotropic ``spacing_mm``) whose marching-cubes surface is one tree of
    tubes: :func:`tree_topology` (when ``cut``), then :func:`well_composed`; critical voxels that no
    simple change removes are filled in and the two steps repeated (at most ``attempts`` times).
    Returns the set and the figures (``critical_left`` 0 when it worked)."""
    info: dict = {}
    cur = inside
    for attempt in range(attempts):
        if cut or attempt:
            fix = tree_topology(cur, (spacing_mm,) * 3)
            cur = fix.mask
            info.setdefault("euler_before", fix.euler_before)
            info["voxels_cut"] = info.get("voxels_cut", 0) + fix.removed_voxels
        cur, left = well_composed(cur)
        info.update(critical_left=left, attempts=attempt + 1)
        if not left:
            break
        add, _ = _critical(cur)
        cur = cur | add
    return cur, info
