"""3D Slicer .seg.nrrd and label-map files: round trips, Slicer's cropped/layered layout, bad input."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import SimpleITK as sitk

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging import Volume
from surgiplan.core.segmentation import Segmentation, read_segmentation, write_segmentation


def _oblique() -> Volume:
    a = np.deg2rad(20)
    d = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return Volume(np.zeros((10, 12, 14), np.int16), (0.7, 0.8, 2.5), (-10.0, 20.0, 30.0), d)


def _two_segments(v: Volume, overlap: bool) -> Segmentation:
    seg = Segmentation.from_volume(v)
    a = np.zeros(v.array.shape, bool)
    a[2:5, 3:7, 4:9] = True
    b = np.zeros_like(a)
    b[3:6, 3:5, 4:6] = True if overlap else False
    if not overlap:
        b[6:8, 8:10, 10:12] = True
    seg.add_segment("femur", a)
    seg.add_segment("tibia", b, overlap="layer")
    return seg


@pytest.mark.parametrize("overlap", [False, True])
def test_seg_nrrd_round_trip_keeps_everything(tmp_path, overlap):
    v = _oblique()
    seg = _two_segments(v, overlap)
    path = write_segmentation(seg, tmp_path / "case.seg.nrrd")
    header = path.read_bytes().split(b"\n\n")[0].decode()
    assert "space: left-posterior-superior" in header
    assert "Segment0_Name:=femur" in header and "Segment1_LabelValue:=" in header
    assert "Segment0_Extent:=4 8 3 6 2 4" in header  # i0 i1 j0 j1 k0 k1
    assert ("kinds: list domain domain domain" in header) == overlap
    back = read_segmentation(path)
    assert back.names == ["femur", "tibia"]
    assert [s.layer for s in back.segments] == [s.layer for s in seg.segments]
    for n in ("femur", "tibia"):
        assert np.array_equal(back.mask(n), seg.mask(n))
    assert back.segment("femur").color == pytest.approx(seg.segment("femur").color, abs=1e-5)
    assert back.segment("tibia").terminology == seg.segment("tibia").terminology
    assert np.allclose(back.direction, v.direction) and np.allclose(back.origin, v.origin)
    assert back.matches(v)


def _slicer_cropped_file(path, v: Volume, mask: np.ndarray, crop_kji_start, crop_shape, with_geometry=True):
    """Write a .seg.nrrd the way Slicer crops it: sub-grid, origin moved, offset and extents set."""
    k0, j0, i0 = crop_kji_start
    sub = mask[k0:k0 + crop_shape[0], j0:j0 + crop_shape[1], i0:i0 + crop_shape[2]].astype(np.uint8)
    img = sitk.GetImageFromArray(sub)
    img.SetSpacing(v.spacing)
    img.SetOrigin(tuple(v.index_to_world([i0, j0, k0])))
    img.SetDirection(tuple(v.direction.ravel()))
    img.SetMetaData("Segmentation_ReferenceImageExtentOffset", f"{i0} {j0} {k0}")
    if with_geometry:
        ras = np.diag([-1.0, -1.0, 1.0])
        m = np.eye(4)
        m[:3, :3] = ras @ (v.direction * np.asarray(v.spacing)[None, :])
        m[:3, 3] = ras @ np.asarray(v.origin)
        ni, nj, nk = v.shape_ijk
        geo = ";".join(f"{x:.10g}" for x in m.ravel()) + f";0;{ni - 1};0;{nj - 1};0;{nk - 1};"
        img.SetMetaData("Segmentation_ConversionParameters", f"Reference image geometry|{geo}|desc&")
    img.SetMetaData("Segment0_ID", "Segment_1")
    img.SetMetaData("Segment0_Name", "bone")
    img.SetMetaData("Segment0_Color", "0.9 0.8 0.5")
    img.SetMetaData("Segment0_LabelValue", "1")
    img.SetMetaData("Segment0_Layer", "0")
    img.SetMetaData("Segment0_Extent", f"0 {crop_shape[2] - 1} 0 {crop_shape[1] - 1} 0 {crop_shape[0] - 1}")
    sitk.WriteImage(img, str(path), True)


def test_reads_slicer_cropped_extent_into_full_grid(tmp_path):
    v = _oblique()
    mask = np.zeros(v.array.shape, bool)
    mask[3:6, 4:8, 5:11] = True
    path = tmp_path / "cropped.seg.nrrd"
    _slicer_cropped_file(path, v, mask, (2, 3, 4), (5, 6, 8))
    seg = read_segmentation(path)  # full grid from 'Reference image geometry'
    assert seg.shape == v.array.shape and seg.matches(v)
    assert np.array_equal(seg.mask("bone"), mask)
    # with the scan given, and without geometry in the file
    path2 = tmp_path / "cropped2.seg.nrrd"
    _slicer_cropped_file(path2, v, mask, (2, 3, 4), (5, 6, 8), with_geometry=False)
    seg2 = read_segmentation(path2, reference=v)
    assert np.array_equal(seg2.mask("bone"), mask)


def test_reads_4d_layered_file_written_as_slicer_does(tmp_path):
    v = _oblique()
    layers = np.zeros((2, *v.array.shape), np.uint8)
    layers[0, 2:5, 3:7, 4:9] = 1
    layers[1, 3:6, 3:5, 4:6] = 1
    img = sitk.GetImageFromArray(np.moveaxis(layers, 0, -1), isVector=True)
    img.SetSpacing(v.spacing)
    img.SetOrigin(v.origin)
    img.SetDirection(tuple(v.direction.ravel()))
    for n, name in enumerate(("a", "b")):
        img.SetMetaData(f"Segment{n}_ID", name)
        img.SetMetaData(f"Segment{n}_Name", name)
        img.SetMetaData(f"Segment{n}_LabelValue", "1")
        img.SetMetaData(f"Segment{n}_Layer", str(n))
    img.SetMetaData("Segmentation_ReferenceImageExtentOffset", "0 0 0")
    path = tmp_path / "layers.seg.nrrd"
    sitk.WriteImage(img, str(path), True)
    data = path.read_bytes()
    head, sep, body = data.partition(b"\n\n")
    path.write_bytes(head.replace(b"kinds: vector", b"kinds: list") + sep + body)
    seg = read_segmentation(path)
    assert np.array_equal(seg.mask("a"), layers[0] == 1) and np.array_equal(seg.mask("b"), layers[1] == 1)


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz"])
def test_label_map_round_trip_with_names(tmp_path, suffix):
    v = _oblique()
    seg = _two_segments(v, overlap=False)
    path = write_segmentation(seg, tmp_path / f"labels{suffix}")
    side = json.loads((tmp_path / "labels.json").read_text())
    assert side["1"]["name"] == "femur"
    back = read_segmentation(path)
    assert back.names == ["femur", "tibia"] and np.array_equal(back.mask("tibia"), seg.mask("tibia"))
    assert back.matches(v)
    with pytest.raises(InputError, match="layers"):
        write_segmentation(_two_segments(v, overlap=True), tmp_path / "x.nrrd")


def test_bad_segmentation_files(tmp_path):
    v = _oblique()
    good = write_segmentation(_two_segments(v, False), tmp_path / "good.seg.nrrd")
    digest = hashlib.sha256(good.read_bytes()).hexdigest()
    truncated = tmp_path / "trunc.seg.nrrd"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(InputError, match="trunc.seg.nrrd"):
        read_segmentation(truncated)
    empty = tmp_path / "empty.seg.nrrd"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_segmentation(empty)
    with pytest.raises(InputError, match="not found"):
        read_segmentation(tmp_path / "missing.seg.nrrd")
    hostile = tmp_path / "hostile.seg.nrrd"
    hostile.write_bytes(b"NRRD0004\ntype: float\ndimension: 3\nsizes: 99999 99999 99999\nencoding: raw\n\n\x00")
    with pytest.raises(InputError, match="hostile"):
        read_segmentation(hostile)
    with pytest.raises(InputError, match="not a segmentation file"):
        read_segmentation(tmp_path / "notes.txt")
    # a label map on another grid than the scan
    other = Volume(np.zeros((10, 12, 14), np.int16), (0.7, 0.8, 2.0), (-10.0, 20.0, 30.0), v.direction)
    with pytest.raises(GeometryError, match="spacing"):
        read_segmentation(good, reference=other)
    lm = write_segmentation(_two_segments(v, False), tmp_path / "lm.nrrd")
    with pytest.raises(GeometryError, match="does not match the scan"):
        read_segmentation(lm, reference=other)
    # fractional values are not labels
    frac = tmp_path / "frac.nrrd"
    sitk.WriteImage(sitk.GetImageFromArray(np.full((3, 3, 3), 0.5, np.float32)), str(frac))
    with pytest.raises(InputError, match="fractional"):
        read_segmentation(frac)
    assert hashlib.sha256(good.read_bytes()).hexdigest() == digest  # input never modified
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written
