"""The cropped, distance-map version of the contrast-blood check equals the plain definition.

Plain definition (the round-one code): erode the region under 500 HU ``k`` times with scipy's
6-neighbour cross on the full grid, label it, keep the components that hold a surviving core
voxel and are at least 5 mL. The fast version must give the same components, volumes, exposed
fractions and median HU, including a pool cut by the scan's edge.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.segmentation.plausibility import MIN_BLOB_ML, _blood_like, _exposed_blobs


def _plain(a, m, spacing, core_mm):
    low = m & (a < 500.0)
    it = max(1, int(round(core_mm / min(spacing))))
    core = ndimage.binary_erosion(low, iterations=it)
    lab, _ = ndimage.label(low)
    out = []
    vv = float(np.prod(spacing)) / 1000.0
    for c, sl in enumerate(ndimage.find_objects(lab), start=1):
        if sl is None or not core[sl][lab[sl] == c].any():
            continue
        sl = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        comp = lab[sl] == c
        if comp.sum() * vv < MIN_BLOB_ML:
            continue
        shell = ndimage.binary_dilation(comp) & ~comp
        out.append((comp.sum() * vv, float((shell & ~m[sl]).sum() / shell.sum()), float(np.median(a[sl][comp]))))
    return sorted(out)


def _scene():
    """A 'bone' segment on a 1 mm grid: a cortex-walled bone, a bare contrast pool, a pool cut by the edge."""
    z, y, x = np.mgrid[0:60, 0:70, 0:130].astype(np.float32)
    a = np.full(z.shape, 40.0, np.float32)
    bone = (z - 30) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 14 ** 2
    marrow = (z - 30) ** 2 + (y - 20) ** 2 + (x - 20) ** 2 <= 11 ** 2
    a[bone] = 1200.0
    a[marrow] = 250.0
    pool = (z - 30) ** 2 + (y - 45) ** 2 + (x - 55) ** 2 <= 13 ** 2
    a[pool] = 330.0
    edge_pool = (z - 2) ** 2 + (y - 55) ** 2 + (x - 20) ** 2 <= 14 ** 2  # cut by the first slice
    a[edge_pool] = 310.0
    # bare slabs at the edge of the 4 mm core on the 1 mm grid (k = 4 erosions): 8 voxels thick
    # has no voxel 5 steps from outside, 9 voxels thick has; a 5-voxel slab lying on the scan's
    # first slice has a core only if the scan's edge were not counted as outside
    a[10:50, 5:45, 85:93] = 320.0
    a[10:50, 5:45, 100:109] = 340.0
    a[0:5, 50:68, 85:125] = 360.0
    return a, a >= 200.0


def test_fast_blobs_equal_the_plain_definition():
    a, m = _scene()
    for spacing, core_mm in (((1.0, 1.0, 1.0), 4.0), ((1.0, 1.0, 1.0), 6.0), ((2.0, 1.0, 1.0), 3.0)):
        fast = sorted(b[:3] for b in _exposed_blobs(a, m, spacing, core_mm))
        plain = _plain(a, m, spacing, core_mm)
        assert len(fast) == len(plain) >= 2, (spacing, fast, plain)
        assert np.allclose(np.array(fast), np.array(plain)), (spacing, fast, plain)
    # the walled marrow is enclosed (exposed ~0), the bare pools are not (exposed 1)
    blobs = sorted(_exposed_blobs(a, m, (1.0, 1.0, 1.0), 4.0), key=lambda b: b[2])
    assert [b[2] for b in blobs] == [250.0, 310.0, 330.0, 340.0]  # not the 8-voxel slab, not the edge slab
    assert blobs[0][1] < 0.05
    assert all(b[1] > 0.9 for b in blobs[1:])


def test_empty_and_thin_regions_give_nothing():
    a, m = _scene()
    assert _exposed_blobs(a, np.zeros_like(m), (1.0, 1.0, 1.0), 4.0) == []
    assert _exposed_blobs(a, m & (a > 1000), (1.0, 1.0, 1.0), 4.0) == []  # cortex only: no low region



def test_blood_like_needs_a_rim_no_brighter_than_the_inside():
    """Figures measured on real CTs (see ``_blood_like``): bones' rims rise, pools' do not."""
    for rise, std in ((21.0, 94.0), (17.0, 168.0), (100.0, 75.0), (5.0, 80.0), (0.0, 80.0)):
        assert not _blood_like(rise, std), (rise, std)  # TCIA T9, osteoporotic femur, L4, digital bones
    for rise, std in ((-12.0, 37.0), (-10.0, 91.0), (-50.0, 54.0), (0.0, 15.0), (4.0, 40.0)):
        assert _blood_like(rise, std), (rise, std)  # vascular sample's aorta, contrast CT pools, flat pools
