"""check_bone_segments on each segment's bounding box (issue 23, speed) equals the plain full-grid check.

Plain check (the code before): the segment's full-size mask, its blobs (tests/core/segmentation/
test_exposed_blobs_fast.py: the plain definition) and the whole body counted. The boxed one finds
the segment slab by slab and counts the body only until the "too large" verdict is settled: same
doubts, same figures, including a segment in a second layer, one cut by the scan's edge and bones
just below and just above the 35 % limit.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation.plausibility import (
    _blood_like,
    _body_ml,
    _exposed_blobs,
    _segment_in_box,
    check_bone_segments,
)
from surgiplan.core.segmentation.segmentation import Segmentation
from tests.core.segmentation.test_exposed_blobs_fast import _scene


def _plain_check(volume, seg, max_body_fraction=0.35):
    """The check as it was: full masks, the whole body counted once."""
    a = np.asarray(volume.array)
    vv = seg.voxel_volume_mm3 / 1000.0
    body_ml = float((a > -500).sum() * vv)
    out = []
    for name in seg.names:
        m = seg.mask(name)
        total = float(m.sum() * vv)
        if total == 0:
            continue
        blobs = [b for b in _exposed_blobs(a, m, seg.spacing, 4.0) if b[1] > 0.5 and _blood_like(b[3], b[4])]
        if blobs:
            out.append((name, "contrast-blood", sum(b[0] for b in blobs)))
        if body_ml > 0 and total > max_body_fraction * body_ml:
            out.append((name, "too-large", total))
    return out


def _seg(a, labels, names, second=None):
    vol = Volume(a.astype(np.int16), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    seg = Segmentation.from_labelmap(Volume(labels, (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)), names)
    if second is not None:  # an overlapping segment in a layer of its own
        seg.layers.append(second.astype(np.uint8))
        seg.segments.append(type(seg.segments[0])("femur", (1.0, 1.0, 1.0), 1, 1, None))
    return vol, seg


def test_boxed_check_equals_the_plain_check():
    a, m = _scene()  # a walled bone, bare pools (one cut by the scan's first slice), bare slabs
    a = a.copy()
    labels = np.zeros(a.shape, np.uint8)
    labels[m] = 1
    labels[:, :, 110:] = np.where(m[:, :, 110:], 2, 0)  # a second bone segment, at the grid's edge
    second = (m & (a > 1000)).astype(np.uint8)
    cases = 0
    for margin in (None, 8, 3, 1, 0):  # air beyond ``margin`` voxels of the bone: the body shrinks
        b = a.copy()
        if margin is not None:
            near = ndimage.binary_dilation(m, iterations=margin) if margin else m
            b[~near] = -1000
        lab = labels
        vol, seg = _seg(b, lab, {1: "bone", 2: "hip_bone_left"}, second)
        got = [(d.segment, d.kind, float(d.volume_ml)) for d in check_bone_segments(vol, seg)]
        assert got == _plain_check(vol, seg), margin
        cases += any(k == "too-large" for _, k, _ in got)
    assert 1 <= cases < 5  # the "too large" verdict was reached, and not in every case
    vol, seg = _seg(a, labels, {1: "bone", 2: "hip_bone_left"})
    assert [d.kind for d in check_bone_segments(vol, seg)] == ["contrast-blood"]


def test_segment_box_and_body_count():
    a, m = _scene()
    labels = np.zeros(a.shape, np.uint8)
    labels[3:7, 0:4, 125:130] = 1  # touches three faces of the grid
    vol, seg = _seg(a, labels, {1: "bone"})
    box, mb = _segment_in_box(seg, "bone")
    assert box == (slice(2, 8), slice(0, 5), slice(124, 130)) and mb.sum() == 4 * 4 * 5
    empty = Segmentation.from_volume(vol)
    empty.layers[0][:] = 0
    empty.segments.append(type(seg.segments[0])("bone", (1.0, 1.0, 1.0), 1, 0, None))
    assert _segment_in_box(empty, "bone") == (None, None)
    vv = 0.001
    whole = float((a > -500).sum() * vv)
    assert _body_ml(a, vv, lambda ml: False) == (whole, True)
    ml, complete = _body_ml(a, vv, lambda ml: ml > 10.0)
    assert not complete and 10.0 < ml < whole


def _plain_head_fit(volume, femur, pelvis, near_mm=6.0):
    """femoral_head_fit as it was: erosion and distance map on the whole grid."""
    from surgiplan.core.planning.fitting import fit_sphere

    sp = tuple(float(s) for s in volume.spacing)[::-1]
    edge = femur & ~ndimage.binary_erosion(femur)
    pts = np.zeros((0, 3), int)
    if pelvis is not None and pelvis.any():
        pts = np.argwhere(edge & (ndimage.distance_transform_edt(~pelvis, sampling=sp) <= near_mm))
    if len(pts) < 50:
        kji = np.argwhere(edge)
        z = volume.index_to_world(kji[:, ::-1].astype(float))[:, 2]
        pts = kji[z >= z.max() - 25.0]
    f = fit_sphere(volume.index_to_world(pts[:, ::-1].astype(float)))
    return f.centre, f.radius, f.rms


def test_head_fit_on_the_box_equals_the_whole_grid():
    from surgiplan.core.segmentation.plausibility import femoral_head_fit

    k, j, i = np.mgrid[0:70, 0:60, 0:90]
    vol = Volume(np.zeros(k.shape, np.int16), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0))
    head = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 20) * 2.0) ** 2 <= 22**2  # a head cut by slice 0
    shaft = ((i - 30) ** 2 + (j - 30) ** 2 <= 8**2) & (k > 20)
    femur = head | shaft
    shell = (i - 30) ** 2 + (j - 30) ** 2 + ((k - 20) * 2.0) ** 2
    cup = (shell >= 25**2) & (shell <= 30**2) & (k < 18)  # 3 mm joint space
    far = (i > 80) & (k > 60)  # a hip bone nowhere near
    for pelvis in (cup, cup | far, far, None):
        got = femoral_head_fit(vol, femur, pelvis)
        want = _plain_head_fit(vol, femur, pelvis)
        assert np.array_equal(got[0], want[0]) and got[1:] == want[1:]
    assert abs(femoral_head_fit(vol, femur, cup)[1] - 22.0) < 1.5
    assert femoral_head_fit(vol, np.zeros_like(femur), cup) is None
