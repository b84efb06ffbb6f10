"""Holes in a thin bone plate spanned by the plate (:mod:`plate_holes`, issue 23: the iliac wings of
an osteoporotic CT). Analytic plates: an oblique flat plate and a bowl (a spherical shell, like the
iliac fossa) with holes cut out; the truth is the plate before the cut."""

from __future__ import annotations

import numpy as np

from surgiplan.core.segmentation.plate_holes import fill_plate_holes, fill_plate_holes_tiled, plate_normal

SP = np.array([3.0, 1.5, 1.5])  # thick slices, like the CT (k, j, i mm)


def _grid(shape=(30, 80, 80)):
    kk, jj, ii = np.indices(shape)
    return kk * SP[0], jj * SP[1], ii * SP[2]


def _oblique_plate(thick_mm=3.0):
    z, y, x = _grid()
    n = np.array([0.3, 0.8, 0.52])
    n /= np.linalg.norm(n)
    d = (z - 45.0) * n[0] + (y - 60.0) * n[1] + (x - 60.0) * n[2]
    return np.abs(d) <= thick_mm / 2, n, (z, y, x)


def test_oblique_plate_hole_filled_like_the_plate():
    plate, n, (z, y, x) = _oblique_plate()
    hole = ((z - 45.0) ** 2 + (y - 60.0) ** 2 + (x - 60.0) ** 2) <= 12.0**2  # 24 mm across
    cut = plate & ~hole
    out = fill_plate_holes(cut, SP)
    assert np.allclose(plate_normal(cut, SP), n, atol=0.02) or np.allclose(plate_normal(cut, SP), -n, atol=0.02)
    added = out & ~cut
    assert not (cut & ~out).any()  # nothing removed
    truth = plate & hole
    dice = 2 * (added & truth).sum() / (added.sum() + truth.sum())
    assert dice >= 0.85, dice
    # nothing away from the hole: every added voxel lies within a voxel of the true plate
    z0, y0, x0 = (a[added] for a in (z, y, x))
    dist = np.abs((z0 - 45.0) * n[0] + (y0 - 60.0) * n[1] + (x0 - 60.0) * n[2])
    assert dist.max() <= 1.5 + SP.max(), dist.max()


def test_bowl_holes_filled_tile_by_tile():
    """A bowl (spherical shell of radius 70 mm, 3 mm thick, its lower cap) with two holes of
    15 and 20 mm: the whole bowl seen along one direction hides nothing here, but the tiles with
    their own normals fill both, and the bowl's rim (its edge, not a hole) is left alone."""
    z, y, x = _grid((40, 110, 110))
    r = np.sqrt((z - 150.0) ** 2 + (y - 82.0) ** 2 + (x - 82.0) ** 2)
    bowl = (np.abs(r - 70.0) <= 1.5) & (z <= 110.0)
    holes = np.zeros(bowl.shape, bool)
    for c, rad in (((95.0, 60.0, 82.0), 7.5), ((100.0, 100.0, 100.0), 10.0)):
        holes |= ((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) <= (rad + 8.0) ** 2
    holes &= bowl
    # the holes must be real holes (bone all round them) for the test to mean something
    assert holes.sum() > 100 and (bowl & ~holes).sum() > 10 * holes.sum()
    cut = bowl & ~holes
    region = np.ones(bowl.shape, bool)
    out = fill_plate_holes_tiled(cut, SP, region, tile_mm=90.0)
    added = out & ~cut
    recall = (added & holes).sum() / holes.sum()
    precision = (added & bowl).sum() / max(added.sum(), 1)
    assert recall >= 0.8 and precision >= 0.8, (recall, precision)


def test_region_keeps_real_openings_and_large_holes():
    plate, _n, (z, y, x) = _oblique_plate()
    small = ((z - 45.0) ** 2 + (y - 60.0) ** 2 + (x - 40.0) ** 2) <= 8.0**2
    big = ((z - 45.0) ** 2 + (y - 60.0) ** 2 + (x - 85.0) ** 2) <= 20.0**2
    cut = plate & ~small & ~big
    # the small hole lies outside the region: an opening such as the obturator foramen
    region = np.broadcast_to(x >= 60.0, plate.shape)
    out = fill_plate_holes(cut, SP, region, max_area_mm2=1500.0)
    assert not (out & ~cut & small).any()
    # the big hole (cut by the plate's edge: about 5.8 cm^2 of it enclosed, seen along the normal)
    # is larger than max_area_mm2 and left open; the small one (2 cm^2) is filled
    out2 = fill_plate_holes(cut, SP, max_area_mm2=300.0)
    assert (out2 & ~cut & big).sum() <= 0.05 * (plate & big).sum()
    assert (out2 & ~cut & small).sum() >= 0.8 * (plate & small).sum()


def test_empty_and_holeless_masks_come_back_unchanged():
    empty = np.zeros((10, 12, 14), bool)
    assert not fill_plate_holes(empty, SP).any()
    assert not fill_plate_holes_tiled(empty, SP, np.ones(empty.shape, bool)).any()
    plate, _n, _g = _oblique_plate()
    out = fill_plate_holes(plate, SP)
    assert np.array_equal(out, plate)
    assert out is not plate  # a new mask, the input untouched
