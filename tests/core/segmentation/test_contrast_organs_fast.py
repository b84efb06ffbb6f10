"""The bone preset's contrast tests, sped up (issue 23), give the same answers as before.

``contrast_pieces`` now labels the bone's box, not the grid, and stops when no piece but the
largest can be judged; ``attached_pools`` shrinks the mask and measures distances only on the
tiles that can matter (margin_sitk.distance_near), its outer layer and neighbours by shifted
views. The functions below are the code before (commit 9f9065c), the reference: masks, pieces and
every judged core's figures must be identical, on random phantoms and on the real TCIA trunk CT.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from surgiplan.core.segmentation import contrast_organs as co
from surgiplan.core.segmentation.contrast_organs import (
    CORE_MM,
    CORTEX_HU,
    MAX_CORTEX_FRACTION,
    MAX_RIM_RISE_HU,
    METAL_HU,
    METAL_ML,
    MIN_CORE_ML,
    MIN_EXPOSED,
    MIN_ORGAN_ML,
    OPEN_MM,
    POOL_HU,
    Piece,
)
from tests.conftest import require_shared


def _contrast_pieces_reference(
    ct: np.ndarray,
    bone: np.ndarray,
    spacing,
    *,
    min_ml: float = MIN_ORGAN_ML,
    max_rim_rise_hu: float = MAX_RIM_RISE_HU,
    cortex_hu: float = CORTEX_HU,
    max_cortex_fraction: float = MAX_CORTEX_FRACTION,
) -> tuple[np.ndarray, list[Piece]]:
    """The code before the speed-up (9f9065c), kept as the reference."""
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


def _attached_pools_reference(
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
    """The code before the speed-up (9f9065c), kept as the reference."""
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
    core = margin_sitk.margin(b, -core_mm, spacing)
    if not core.any():
        return out, []
    lab, sizes = label_components(core)
    del core
    reach = core_mm + float(max(spacing))
    pad = tuple(int(np.ceil(reach / s)) + 2 for s in tuple(spacing)[::-1])
    cands = []  # [box slices, region, its bony neighbours, neighbour count, Piece]: all but the exposure passed
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or sizes[c] * vv < min_core_ml:
            break  # numbered by decreasing size
        csl = tuple(slice(max(0, s.start - p), min(n, s.stop + p)) for s, p, n in zip(sl, pad, lab.shape, strict=True))
        v = np.asarray(a[csl], np.float32)
        own = lab[csl] == c
        core_med = float(np.median(v[own]))
        if not pool_hu[0] <= core_med <= pool_hu[1]:
            continue
        d_own = margin_sitk.distance_outside(own, spacing)
        others = (lab[csl] > 0) & ~own
        d_other = margin_sitk.distance_outside(others, spacing) if others.any() else np.inf
        bb = b[csl]
        region = bb & (d_own <= reach) & (d_own < d_other)
        del d_own, d_other
        # outer layer: voxels with a face neighbour outside the bone (the grid's edge is not outside)
        outer = region & ~ndimage.binary_erosion(np.pad(bb, 1, mode="edge"))[1:-1, 1:-1, 1:-1]
        ml = float(region.sum() * vv)
        rim_rise = float(np.median(v[outer]) - core_med) if outer.any() else np.inf
        if rim_rise <= max_rim_rise_hu and ml >= min_ml and open_mm > 0:
            # the same on the open outside only: joint spaces and holes of the mask closed
            op = ~margin_sitk.closing(bb, open_mm, spacing)
            outer = region & ndimage.binary_dilation(np.pad(op, 1, mode="edge"))[1:-1, 1:-1, 1:-1]
            rim_rise = max(rim_rise, float(np.median(v[outer]) - core_med) if outer.any() else np.inf)
        cortex = float((v[outer] >= CORTEX_HU).mean()) if outer.any() else 0.0
        shell = ndimage.binary_dilation(region) & ~region
        exposed = float((shell & ~bb).sum() / max(shell.sum(), 1))
        if debug is not None:
            debug.append((c, float(sizes[c] * vv), core_med, ml, rim_rise, exposed, cortex,
                          tuple(int(s.start + o.start) for s, o in zip(sl, box, strict=True))))
        if ml < min_ml or rim_rise > max_rim_rise_hu or (v[region] >= METAL_HU).sum() * vv > METAL_ML:
            continue
        ctr = tuple(int(o.start + (s.start + s.stop) // 2) for o, s in zip(box, sl, strict=True))
        cands.append([csl, region, shell & bb, int(shell.sum()), Piece(ml, core_med, rim_rise, cortex, ctr, True)])
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
        before, _ = label_components(b)
        small = np.flatnonzero(rest_sizes * vv < min_ml)
        small = small[small > 0]
        if len(small):
            touch = np.unique(rest[ndimage.binary_dilation(pools, np.ones((3, 3, 3), bool)) & (rest > 0)])
            cut = np.isin(rest, np.intersect1d(small, touch))
            # not a piece of its own before the cut (an island the threshold left stays as it was)
            n_before = np.bincount(before.ravel())
            n_cut = np.bincount(before[cut], minlength=len(n_before))
            own_piece = np.isin(before, np.flatnonzero((n_cut == n_before) & (n_before > 0)))
            pools |= cut & ~own_piece
    out[box] = pools
    found.sort(key=lambda p: -p.volume_ml)
    return out, found


def _phantom(seed: int, spacing):
    """A random trunk-like CT [k, j, i] (HU, float32) and its >= 200 HU mask: bones (blobs with a
    bright cortex around 150-400 HU marrow) in two or three places far apart (a large box, mostly
    empty: the tiled distances are used), contrast tubes (250-450 HU, no rim) touching them or
    alone, a metal rod sometimes; blurred, with noise."""
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in rng.integers(70, 110, 3))
    ct = np.full(shape, 40.0, np.float32)
    k, j, i = np.indices(shape, dtype=np.float32)
    field = ndimage.gaussian_filter(rng.random(shape), rng.uniform(2.5, 4.5))
    where = np.zeros(shape, bool)
    centres = []
    for _ in range(int(rng.integers(2, 4))):
        c = rng.uniform(0.15, 0.85, 3) * shape
        centres.append(c)
        where |= (k - c[0]) ** 2 + (j - c[1]) ** 2 + (i - c[2]) ** 2 < rng.uniform(10, 18) ** 2
    bone = where & (field > np.quantile(field[where], rng.uniform(0.3, 0.6)))
    ct[bone] = rng.uniform(150, 400)
    ct[bone & ~ndimage.binary_erosion(bone, iterations=int(rng.integers(1, 3)))] = rng.uniform(500, 1200)
    for c in centres:  # a contrast tube along k beside each bone, and a blob
        r = rng.uniform(3, 8)
        off = rng.normal(0, 1, 2)
        cj, ci = c[1:] + off / np.hypot(*off) * rng.uniform(8, 20)
        tube = ((j - cj) ** 2 + (i - ci) ** 2 < r * r) & (np.abs(k - c[0]) < rng.uniform(10, 40))
        ct[tube & ~bone] = rng.uniform(250, 450)
        b = c + rng.normal(0, 12, 3)
        ct[(k - b[0]) ** 2 + (j - b[1]) ** 2 + (i - b[2]) ** 2 < rng.uniform(4, 9) ** 2] = rng.uniform(250, 450)
    if rng.random() < 0.3:
        c = centres[0].astype(int)
        ct[:, c[1] - 1:c[1] + 1, c[2]:c[2] + 2] = 3000.0
    ct = ndimage.gaussian_filter(ct, 0.7) + rng.normal(0, 10, shape).astype(np.float32)
    m = ndimage.binary_fill_holes(ct >= 200)
    return ct, m


def _same(a, b):
    (ma, pa), (mb, pb) = a, b
    assert np.array_equal(ma, mb)
    assert pa == pb


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("spacing", [(0.78125, 0.78125, 2.5), (1.5, 1.5, 3.0), (0.7, 0.7, 1.1)])
@pytest.mark.parametrize("force_tiles", [False, True])
def test_contrast_tests_identical_on_random_phantoms(seed, spacing, force_tiles, monkeypatch):
    """``force_tiles``: tiles even where they would not save work (these grids are small), so
    that the tiled path is compared on every phantom."""
    from surgiplan.core.segmentation import margin_sitk

    if force_tiles:
        monkeypatch.setattr(margin_sitk, "TILE_WORTH", 2.0)
    ct, m = _phantom(seed, spacing)
    _same(co.contrast_pieces(ct, m, spacing), _contrast_pieces_reference(ct, m, spacing))
    d_new, d_old = [], []
    _same(co.attached_pools(ct, m, spacing, debug=d_new), _attached_pools_reference(ct, m, spacing, debug=d_old))
    assert d_new == d_old  # every judged core's volume, median, region, rim rise, exposure, cortex


def test_phantoms_exercise_the_pools(monkeypatch):
    """The random phantoms above hold pools and judged cores, and with ``force_tiles`` the tiled
    distances are taken (the comparison is not vacuous)."""
    from surgiplan.core.segmentation import margin_sitk

    monkeypatch.setattr(margin_sitk, "TILE_WORTH", 2.0)
    tiled = []
    near = margin_sitk._near
    monkeypatch.setattr(margin_sitk, "_near", lambda *a, **k: tiled.append(1) or near(*a, **k))
    pools = cores = 0
    for seed in range(3):
        ct, m = _phantom(seed, (1.5, 1.5, 3.0))
        d = []
        pools += len(co.attached_pools(ct, m, (1.5, 1.5, 3.0), debug=d)[1])
        cores += len(d)
    assert pools >= 3 and cores >= 3 and len(tiled) >= 3 + cores  # the 3 shrinks, each judged core


def test_contrast_tests_identical_on_the_tcia_trunk():
    from surgiplan.core.segmentation.presets import bone_mask
    from surgiplan.core.segmentation.scan_source import load_scan

    vol = load_scan(require_shared("ct", "ct_abdomen_spine_tcia", "dicom"))
    ct = np.asarray(vol.array)
    m = bone_mask(vol, 200.0, 1.0, None, fill_marrow=False, partial_volume=False)
    organs, pieces = co.contrast_pieces(ct, m, vol.spacing)
    _same((organs, pieces), _contrast_pieces_reference(ct, m, vol.spacing))
    assert len(pieces) >= 3  # kidneys and more: the pieces' path is taken
    d_new, d_old = [], []
    new = co.attached_pools(ct, m & ~organs, vol.spacing, debug=d_new)
    _same(new, _attached_pools_reference(ct, m & ~organs, vol.spacing, debug=d_old))
    assert d_new == d_old and len(d_new) >= 10 and len(new[1]) == 1  # the aorta against the spine


def test_shifted_views_equal_scipy():
    rng = np.random.default_rng(2)
    for _ in range(30):
        m = rng.random(tuple(int(n) for n in rng.integers(1, 16, 3))) > rng.uniform(0.2, 0.95)
        pad = np.pad(m, 1, mode="edge")
        assert np.array_equal(co._face_eroded(m), ndimage.binary_erosion(pad)[1:-1, 1:-1, 1:-1])
        assert np.array_equal(co._face_grown(m), ndimage.binary_dilation(pad)[1:-1, 1:-1, 1:-1])
        assert np.array_equal(co._face_grown(m), ndimage.binary_dilation(m))
        assert np.array_equal(co._box_grown(m), ndimage.binary_dilation(m, np.ones((3, 3, 3), bool)))
