"""The .seg.nrrd writer's segment extents and the reader's no-copy path (issue 23 speed).

Extents are compared with a brute-force reference (Slicer's i0 i1 j0 j1 k0 k1 of each label),
round trips with the written masks, and what the faster reader skips (the value check of
uint8/uint16 files) is still done for other types: bad files are refused, naming the file.
"""

from __future__ import annotations

import gc
import re

import numpy as np
import pytest
import SimpleITK as sitk

from surgiplan.core.errors import InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation, read_segmentation, write_segmentation
from surgiplan.core.segmentation.seg_nrrd import _SLAB, _label_extents


def _brute_extent(mask: np.ndarray) -> list[int]:
    if not mask.any():
        return [0, -1, 0, -1, 0, -1]
    k, j, i = np.nonzero(mask)
    return [int(i.min()), int(i.max()), int(j.min()), int(j.max()), int(k.min()), int(k.max())]


def test_label_extents_match_brute_force():
    rng = np.random.default_rng(23)
    for _ in range(150):
        shape = tuple(int(n) for n in rng.integers(1, 2 * _SLAB + 5, 3))
        layer = np.zeros(shape, np.uint16)
        for v in (1, 2, 300):
            if rng.random() < 0.8:
                c = [int(rng.integers(0, n)) for n in shape]
                r = [int(rng.integers(1, n + 1)) for n in shape]
                layer[c[0]:c[0] + r[0], c[1]:c[1] + r[1], c[2]:c[2] + r[2]] = v
        got = _label_extents(layer, [1, 2, 300, 7])
        for v in (1, 2, 300, 7):
            assert got[v] == _brute_extent(layer == v), (shape, v)


def _grid() -> Volume:
    return Volume(np.zeros((2 * _SLAB + 3, 20, 24), np.int16), (0.6, 0.7, 1.25), (5.0, -3.0, 40.0))


def test_round_trip_many_labels_extents_in_header(tmp_path):
    v = _grid()
    seg = Segmentation.from_volume(v)
    rng = np.random.default_rng(5)
    for n in range(4):
        m = np.zeros(v.array.shape, bool)
        k0 = int(rng.integers(0, v.array.shape[0] - 4))
        m[k0:k0 + 3 + n * 5, 2 + n:9 + n, 3 * n:3 * n + 6] = True
        seg.add_segment(f"bone{n}", m & ~np.logical_or.reduce([seg.mask(s) for s in seg.names] or [np.zeros_like(m)]))
    m = np.zeros(v.array.shape, bool)
    m[0, 0, 0] = m[-1, -1, -1] = True  # the grid's corners
    seg.add_segment("corners", m)
    path = write_segmentation(seg, tmp_path / "many.seg.nrrd")
    header = path.read_bytes().split(b"\n\n")[0].decode()
    for n, name in enumerate(seg.names):
        got = re.search(rf"(?m)^Segment{n}_Extent:=(.*)$", header).group(1).split()
        assert [int(x) for x in got] == _brute_extent(seg.mask(name)), name
    back = read_segmentation(path)
    gc.collect()
    assert back.names == seg.names
    for name in seg.names:
        assert np.array_equal(back.mask(name), seg.mask(name)), name
    lay = back.layers[0]
    assert lay.flags.writeable and lay.dtype == np.uint8
    lay[0, 0, 1] = back.segment("bone0").label  # an edit on what was read sticks
    assert back.mask("bone0")[0, 0, 1]


def _raw_label_file(path, arr: np.ndarray) -> None:
    img = sitk.GetImageFromArray(arr)
    img.SetMetaData("Segment0_ID", "Segment_1")
    img.SetMetaData("Segment0_Name", "bone")
    img.SetMetaData("Segment0_LabelValue", "1")
    img.SetMetaData("Segment0_Layer", "0")
    sitk.WriteImage(img, str(path), True)


@pytest.mark.parametrize("dtype,bad", [(np.int16, -1), (np.int32, 70000), (np.float32, 1.5)])
def test_other_label_types_are_still_checked(tmp_path, dtype, bad):
    arr = np.zeros((4, 5, 6), dtype)
    arr[1, 1, 1] = 1
    arr[2, 2, 2] = bad
    path = tmp_path / f"bad_{np.dtype(dtype).name}.seg.nrrd"
    _raw_label_file(path, arr)
    with pytest.raises(InputError, match=re.escape(path.name)):
        read_segmentation(path)
    if np.dtype(dtype).kind == "f":
        return  # a float .seg.nrrd is refused whatever it holds
    good = tmp_path / f"good_{np.dtype(dtype).name}.seg.nrrd"
    arr[2, 2, 2] = 0
    _raw_label_file(good, arr)
    seg = read_segmentation(good)
    assert seg.names == ["bone"] and int(seg.mask("bone").sum()) == 1


def test_truncated_compressed_seg_refused_nothing_left(tmp_path):
    seg = Segmentation.from_volume(_grid())
    m = np.zeros(seg.shape, bool)
    m[3:30, 4:15, 5:20] = True
    seg.add_segment("bone", m)
    good = write_segmentation(seg, tmp_path / "good.seg.nrrd")
    data = good.read_bytes()
    cut = tmp_path / "cut.seg.nrrd"
    cut.write_bytes(data[: len(data) - 20])
    with pytest.raises(InputError, match="cut.seg.nrrd"):
        read_segmentation(cut)
    assert not list(tmp_path.glob(".*tmp*"))
