"""Editing tools against analytic shapes: threshold, islands, morphology in mm, grow, brush, scissors."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation, islands, morphology
from surgiplan.core.segmentation.brush import paint
from surgiplan.core.segmentation.grow import (
    confidence_connected,
    connected_threshold,
    seeds_from_world,
    watershed_from_seeds,
)
from surgiplan.core.segmentation.interpolate import fill_between_slices
from surgiplan.core.segmentation.logical import logical
from surgiplan.core.segmentation.scissors import scissors
from surgiplan.core.segmentation.threshold import preset_range, suggest_threshold, threshold
from surgiplan.core.undo import History

SP = (0.5, 0.5, 1.0)  # anisotropic (i, j, k) mm


def _grid(shape=(40, 60, 60)):
    k, j, i = np.indices(shape, dtype=float)
    return i * SP[0], j * SP[1], k * SP[2]


def _ball(c, r, shape=(40, 60, 60)):
    x, y, z = _grid(shape)
    return (x - c[0]) ** 2 + (y - c[1]) ** 2 + (z - c[2]) ** 2 <= r * r


def test_threshold_presets_and_otsu():
    rng = np.random.default_rng(0)
    arr = rng.normal(40, 10, (20, 30, 30)).astype(np.int16)
    bone = _ball((7.5, 7.5, 10), 6.5, (20, 30, 30))
    arr[bone] = rng.normal(900, 50, bone.sum()).astype(np.int16)
    v = Volume(arr, SP)
    lo, hi = preset_range("ct-bone")
    assert (lo, hi) == (200.0, 3071.0)
    assert np.array_equal(threshold(v, lo, hi), bone)
    t = suggest_threshold(v, "otsu")
    assert 60 < t < 800  # between the classes (Otsu is flat across the gap and takes its start)
    got = threshold(v, t, None)
    assert 2 * (got & bone).sum() / (got.sum() + bone.sum()) > 0.999
    assert preset_range("mr", v)[0] == pytest.approx(t)
    with pytest.raises(InputError, match="unknown threshold preset"):
        preset_range("ct-bones")
    with pytest.raises(InputError, match="empty"):
        threshold(v, 10, 5)


def test_islands():
    a = _ball((8, 8, 10), 4)
    b = _ball((22, 22, 25), 2.5)
    speck = np.zeros_like(a)
    speck[0, 0, 0] = True
    m = a | b | speck
    assert np.array_equal(islands.keep_largest(m), a)
    assert np.array_equal(islands.keep_at_seed(m, [(25, 44, 44)]), b)
    parts = islands.split_islands(m)
    assert len(parts) == 3 and np.array_equal(parts[0], a)
    vox = np.prod(SP)
    kept = islands.remove_small(m, 10 * vox, SP)  # the 1-voxel speck goes
    assert np.array_equal(kept, a | b)
    with pytest.raises(InputError, match="seed"):
        islands.keep_at_seed(m, [(39, 0, 59)])


def test_margin_is_in_millimetres_on_anisotropic_grid():
    r = 6.0
    m = _ball((15, 15, 20), r)
    grown = morphology.margin(m, 2.0, SP)
    shrunk = morphology.margin(m, -2.0, SP)
    # the equivalent-sphere radius of each result is r +/- 2 mm within half the smallest voxel
    vox = np.prod(SP)

    def radius(mask):
        return (mask.sum() * vox * 3 / (4 * np.pi)) ** (1 / 3)

    assert radius(grown) == pytest.approx(r + 2, abs=0.25)
    assert radius(shrunk) == pytest.approx(r - 2, abs=0.25)
    assert np.array_equal(morphology.margin(np.zeros_like(m), 3, SP), np.zeros_like(m))


def test_open_close_fill_hollow_smooth():
    m = _ball((15, 15, 20), 6) | _ball((24, 15, 20), 0.9)  # a ball and a tiny bump-free speck nearby
    opened = morphology.opening(m, 1.5, SP)
    assert np.array_equal(opened, _ball((15, 15, 20), 6) & opened) and opened.sum() > 0.9 * _ball((15, 15, 20), 6).sum()
    assert not opened[_ball((24, 15, 20), 0.9) & ~_ball((15, 15, 20), 6)].any()
    shell = morphology.hollow(_ball((15, 15, 20), 6), 1.5, SP)
    cavity = _ball((15, 15, 20), 6) & ~shell
    assert morphology.fill_holes(shell).sum() == _ball((15, 15, 20), 6).sum()
    assert cavity.sum() > 0
    two = _ball((12, 15, 20), 4) | _ball((19.5, 15, 20), 4)  # a 0.5 mm wide slit between
    closed = morphology.closing(two, 2.0, SP)
    assert closed.sum() > two.sum() and np.all(closed[two])
    sm = morphology.smooth(m, 1.0, SP)
    # smoothing removes the speck and keeps the ball within about a voxel
    assert not sm[_ball((24, 15, 20), 0.9)].any()
    assert np.all(sm <= _ball((15, 15, 20), 6.5)) and np.all(_ball((15, 15, 20), 5.0) <= sm)
    with pytest.raises(InputError):
        morphology.hollow(m, 0, SP)


def test_logical_and_fill_between_slices():
    a, b = _ball((10, 10, 10), 4), _ball((13, 10, 10), 4)
    assert np.array_equal(logical("subtract", a, b), a & ~b)
    assert np.array_equal(logical("union", a, b), a | b)
    assert np.array_equal(logical("invert", a), ~a)
    with pytest.raises(InputError, match="unknown"):
        logical("xor", a, b)
    # a cylinder drawn on every 6th slice is filled in between
    x, y, _ = _grid()
    cyl = (x - 15) ** 2 + (y - 15) ** 2 <= 25
    sparse = np.zeros_like(cyl)
    sparse[::6] = cyl[::6]
    filled = fill_between_slices(sparse, axis=0, spacing=SP)
    last = (cyl.shape[0] - 1) // 6 * 6
    assert (filled[: last + 1] ^ cyl[: last + 1]).sum() < 0.02 * cyl[: last + 1].sum()


def test_region_growing_and_separating_touching_balls():
    rng = np.random.default_rng(3)
    shape = (40, 60, 60)
    a, b = _ball((10, 15, 20), 6), _ball((20.5, 15, 20), 6)  # overlap: a neck between them
    arr = rng.normal(0, 10, shape).astype(np.int16)
    arr[a | b] = 800
    v = Volume(arr, SP, origin=(-3.0, 4.0, 5.0))
    seeds = seeds_from_world(v, np.array([[10, 15, 20], [20.5, 15, 20]]) + v.origin)
    grown = connected_threshold(v, seeds[:1], 400, 2000)
    assert np.array_equal(grown, a | b)
    cc = confidence_connected(v, seeds[:1])
    assert (cc & (a | b)).sum() > 0.9 * (a | b).sum() and not (cc & ~(a | b)).any()
    parts = watershed_from_seeds(a | b, {"left": seeds[:1], "right": seeds[1:]}, SP)
    for name, truth in (("left", a), ("right", b)):
        p = parts[name]
        dice = 2 * (p & truth).sum() / (p.sum() + truth.sum())
        assert dice > 0.95
    assert not (parts["left"] & parts["right"]).any()
    with pytest.raises(InputError, match="outside"):
        seeds_from_world(v, [[1000.0, 0, 0]])


def test_brush_paint_erase_undo_and_scissors():
    v = Volume(np.zeros((40, 60, 60), np.int16), SP, origin=(10.0, -20.0, 5.0))
    seg = Segmentation.from_volume(v)
    seg.add_segment("lesion")
    h = History()
    centre = v.index_to_world([30, 30, 20])
    h.push(paint(seg, "lesion", centre, 5.0))
    m = seg.mask("lesion")
    assert m.sum() * np.prod(SP) == pytest.approx(4 / 3 * np.pi * 125, rel=0.04)
    assert h.nbytes < 50_000  # box of the brush only
    h.push(paint(seg, "lesion", centre, 2.0, erase=True))
    assert seg.mask("lesion").sum() < m.sum()
    h.undo()
    h.undo()
    assert not seg.layers[0].any()
    h.redo()
    # scissors: a square in the axial plane, extruded along S, erases a column through the sphere
    sq = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], float) * 2.0 + centre
    cut = scissors(seg.mask("lesion"), v, sq, (0, 0, 1), operation="erase-inside")
    pts = v.index_to_world(np.argwhere(seg.mask("lesion") & ~cut)[:, ::-1].astype(float))
    assert np.all(np.abs(pts[:, :2] - centre[:2]) <= 2.0 + 1e-6)  # only the column went
    assert cut.sum() < seg.mask("lesion").sum()
    keep = scissors(seg.mask("lesion"), v, sq, (0, 0, 1), operation="erase-outside")
    assert np.array_equal(keep | cut, seg.mask("lesion"))
    with pytest.raises(InputError, match="at least 3"):
        scissors(m, v, sq[:2], (0, 0, 1))


def test_false_lumen_restored_inside_the_round_wall():
    """A dissected tube: bright true lumen (half disc), unopacified false lumen (60 HU) like the
    muscle touching it, fat around; the round wall is found, the muscle is not taken."""
    from surgiplan.core.segmentation.vessel_tracking import restore_false_lumen

    nk, n = 20, 80
    j, i = np.mgrid[:n, :n]
    r = np.hypot(i - 40, j - 40)
    aorta = r <= 15
    hu = np.full((nk, n, n), -100.0, np.float32)  # fat
    muscle = (np.abs(i - 40) <= 12) & (j >= 53) & (j <= 75)  # a muscle against the aorta's back
    true_lumen = aorta & (j < 40)
    for k in range(nk):
        hu[k][muscle] = 50.0
        hu[k][aorta] = 60.0  # false lumen: barely enhanced blood
        hu[k][true_lumen] = 350.0
    tube = np.broadcast_to(true_lumen, hu.shape).copy()
    out = restore_false_lumen(tube, hu, slice_mm=1.5)
    full = np.broadcast_to(aorta, hu.shape)
    dice = 2 * (out & full).sum() / (out.sum() + full.sum())
    assert dice > 0.95, dice
    taken = (out & np.broadcast_to(muscle & ~aorta, hu.shape)).sum() / nk
    assert taken <= 10, taken  # measured 2 pixels per slice where the muscle touches the wall
    # a fully opacified round lumen beside the muscle gains nothing
    bright = hu.copy()
    bright[:, aorta] = 350.0
    full_tube = np.broadcast_to(aorta, hu.shape).copy()
    assert np.array_equal(restore_false_lumen(full_tube, bright, slice_mm=1.5), full_tube)
    # a circle in a single slice is not a false lumen (needs a run of >= 6 mm)
    one = tube.copy()
    hu1 = hu.copy()
    hu1[np.arange(nk) != 10] = np.where(np.broadcast_to(aorta, (nk, n, n))[np.arange(nk) != 10], 350.0, -100.0)
    assert np.array_equal(restore_false_lumen(one, hu1, slice_mm=1.5), one)
