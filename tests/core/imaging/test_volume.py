"""Volume geometry and volume files round-trip in LPS."""

from __future__ import annotations

import numpy as np
import pytest

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging import Volume, orientation_labels, read_volume, write_volume


def _oblique_volume() -> Volume:
    rng = np.random.default_rng(0)
    arr = rng.integers(-1000, 2000, size=(5, 7, 9), dtype=np.int16)
    a = np.deg2rad(20)
    d = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return Volume(arr, spacing=(0.7, 0.8, 2.5), origin=(-10.0, 20.0, 30.0), direction=d)


def test_index_world_round_trip():
    v = _oblique_volume()
    ijk = np.array([[0, 0, 0], [8, 6, 4], [1.5, 2.25, 3.0]])
    xyz = v.index_to_world(ijk)
    assert np.allclose(xyz[0], v.origin)
    # the k axis steps by spacing[2] along the third direction column
    assert np.allclose(v.index_to_world([0, 0, 1]) - v.origin, 2.5 * v.direction[:, 2])
    assert np.allclose(v.world_to_index(xyz), ijk)
    assert np.allclose(v.affine @ np.array([8, 6, 4, 1.0]), np.append(xyz[1], 1))


def test_orientation_labels_axial_and_sagittal():
    assert orientation_labels(np.eye(3)) == ("L", "P", "S")
    sag = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], dtype=float)  # i->P? columns
    assert orientation_labels(sag) == ("P", "I", "R")


def test_bad_geometry_is_refused():
    with pytest.raises(GeometryError, match="spacing"):
        Volume(np.zeros((2, 2, 2)), spacing=(1, 0, 1))
    with pytest.raises(GeometryError, match="direction"):
        Volume(np.zeros((2, 2, 2)), spacing=(1, 1, 1), direction=np.zeros((3, 3)))
    with pytest.raises(GeometryError, match="3D"):
        Volume(np.zeros((2, 2)), spacing=(1, 1, 1))


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".mha"])
def test_volume_file_round_trip_keeps_lps(tmp_path, suffix):
    v = _oblique_volume()
    path = write_volume(v, tmp_path / f"v{suffix}")
    w = read_volume(path)
    assert np.array_equal(w.array, v.array)
    assert w.array.dtype == np.int16
    assert np.allclose(w.world_corners(), v.world_corners(), atol=1e-4)
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_nifti_is_ras_on_disk(tmp_path):
    nib = pytest.importorskip("nibabel")
    v = Volume(np.zeros((2, 3, 4), np.int16), spacing=(1, 1, 1), origin=(10.0, 20.0, 30.0))
    write_volume(v, tmp_path / "v.nii.gz")
    aff = nib.load(str(tmp_path / "v.nii.gz")).affine
    assert np.allclose(aff[:3, 3], [-10.0, -20.0, 30.0])


def test_read_volume_bad_input(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_volume(tmp_path / "missing.nrrd")
    empty = tmp_path / "empty.nrrd"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty") as ei:
        read_volume(empty)
    assert "empty.nrrd" in str(ei.value)
    bad = tmp_path / "bad.nrrd"
    bad.write_bytes(b"NRRD0004\ntype: short\ndimension: 3\nsizes: 10 10 10\nencoding: raw\n\n" + b"\0" * 20)
    with pytest.raises(InputError, match="bad.nrrd"):
        read_volume(bad)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    with pytest.raises(InputError, match="not a volume file"):
        read_volume(txt)
