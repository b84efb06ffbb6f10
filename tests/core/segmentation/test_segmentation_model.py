"""Segmentation model: segments, layers, statistics and bounded-memory undo."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import LabelPatch, Segmentation
from surgiplan.core.undo import History


def _volume(shape=(20, 30, 40)) -> Volume:
    rng = np.random.default_rng(1)
    arr = rng.normal(40, 10, size=shape).astype(np.int16)
    return Volume(arr, spacing=(0.5, 0.75, 2.0), origin=(-5.0, 10.0, 100.0))


def test_add_segments_stats_and_layers():
    v = _volume()
    seg = Segmentation.from_volume(v)
    a = np.zeros(v.array.shape, bool)
    a[2:6, 3:9, 4:14] = True  # 4*6*10 = 240 voxels
    b = np.zeros_like(a)
    b[4:8, 3:9, 4:14] = True  # overlaps a on 2 slices
    v.array[a] = 1000
    seg.add_segment("femur", a)
    seg.add_segment("tibia", b, overlap="layer")
    assert len(seg.layers) == 2
    assert np.array_equal(seg.mask("femur"), a) and np.array_equal(seg.mask("tibia"), b)
    stats = {s.name: s for s in seg.statistics(v)}
    assert stats["femur"].voxels == 240
    assert stats["femur"].volume_ml == pytest.approx(240 * 0.5 * 0.75 * 2.0 / 1000)
    assert stats["femur"].mean == pytest.approx(1000.0) and stats["femur"].sd == pytest.approx(0.0)
    # overwrite mode (default) puts a new overlapping segment in layer 0 and takes the voxels
    seg.add_segment("patella", b)
    assert seg.segment("patella").layer == 0
    assert not np.any(seg.mask("femur") & b)
    with pytest.raises(InputError, match="already exists"):
        seg.add_segment("femur", a)
    with pytest.raises(InputError, match="no segment 'pelvis'"):
        seg.mask("pelvis")
    with pytest.raises(GeometryError, match="does not match"):
        seg.add_segment("bad", np.zeros((2, 2, 2), bool))


def test_statistics_refuse_other_grid():
    v = _volume()
    seg = Segmentation.from_volume(v)
    seg.add_segment("x", v.array > 40)
    other = Volume(v.array, spacing=(0.5, 0.75, 2.5), origin=v.origin)
    with pytest.raises(GeometryError, match="does not match the scan"):
        seg.statistics(other)


def test_label_patch_undo_redo_stores_only_the_box():
    v = _volume((60, 200, 200))
    seg = Segmentation.from_volume(v)
    seg.add_segment("bone")
    history = History()
    mask = np.zeros(seg.shape, bool)
    mask[10:14, 50:60, 70:75] = True
    before = seg.layers[0].copy()
    patch = seg.set_mask("bone", mask)
    history.push(patch)
    assert isinstance(patch, LabelPatch)
    assert patch.box == (slice(10, 14), slice(50, 60), slice(70, 75))
    assert patch.nbytes < 2 * 4 * 10 * 5 + 1024  # two uint8 boxes, not the 2.4 MB volume
    assert np.array_equal(seg.mask("bone"), mask)
    history.undo()
    assert np.array_equal(seg.layers[0], before)
    history.redo()
    assert np.array_equal(seg.mask("bone"), mask)
    # a no-op edit is an empty patch
    assert seg.set_mask("bone", mask).empty


def test_from_labelmap_names_and_bad_values():
    arr = np.zeros((4, 5, 6), np.uint8)
    arr[1, 1, 1] = 1
    arr[2, 2, 2] = 3
    seg = Segmentation.from_labelmap(Volume(arr, (1, 1, 1)), {1: "pelvis", 3: "femur_left"})
    assert seg.names == ["pelvis", "femur_left"]
    assert seg.segment(3).name == "femur_left"
    assert "Femur" in seg.segment("femur_left").terminology and "Left" in seg.segment("femur_left").terminology
    with pytest.raises(InputError, match="whole numbers"):
        Segmentation.from_labelmap(Volume(np.full((2, 2, 2), 0.5), (1, 1, 1)))
