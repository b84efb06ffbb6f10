"""Loader traps on small synthetic series whose right answer is known exactly."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless, generate_uid

from surgiplan.core.errors import Cancelled, GeometryError, InputError
from surgiplan.core.imaging import discover, load_dicom
from surgiplan.core.jobs import RecordingProgress
from tests.core.imaging._dicom_factory import make_series, make_slice


def z_positions(zs):
    return [(-2.0, -2.0, float(z)) for z in zs]


def test_sorted_by_position_not_by_name_or_instance_number(tmp_path):
    zs = [30, 10, 50, 20, 40]
    make_series(
        tmp_path, z_positions(zs), names=[f"{c}.dcm" for c in "abcde"], instances=[5, 4, 3, 2, 1]
    )
    v = load_dicom(tmp_path)
    # slice k was filled with 1000 + 10 k - 1024 HU; sorted by z: 10, 20, 30, 40, 50
    expected = [1000 + 10 * zs.index(z) - 1024 for z in sorted(zs)]
    assert [int(v.array[k, 0, 0]) for k in range(5)] == expected
    assert v.array.dtype == np.int16 and v.spacing[2] == pytest.approx(10.0)
    assert v.origin == pytest.approx((-2.0, -2.0, 10.0))
    assert not v.warnings


def test_reversed_stack_direction_keeps_right_handed_normal(tmp_path):
    # column direction pointing to -y (A): the normal is -z, so k runs towards the feet
    make_series(tmp_path, z_positions([0, 5, 10]), orientation=(1, 0, 0, 0, -1, 0))
    v = load_dicom(tmp_path)
    assert np.allclose(v.direction[:, 2], [0, 0, -1])
    assert v.origin[2] == pytest.approx(10.0) and np.linalg.det(v.direction) == pytest.approx(1.0)


def test_missing_slice_is_reported_and_resampled_or_refused(tmp_path):
    make_series(tmp_path, z_positions([0, 2, 4, 8, 10]))
    v = load_dicom(tmp_path)
    text = "\n".join(v.warnings)
    assert "missing slices" in text and "-2.0, -2.0, 4.0" in text and "8.0" in text
    assert v.array.shape[0] == 6 and v.spacing[2] == pytest.approx(2.0)
    # the missing slice at z = 6 is the mean of its neighbours (slices 2 and 3: 1020 and 1030 stored)
    assert v.array[3, 0, 0] == 1025 - 1024
    with pytest.raises(GeometryError, match="uneven slice spacing"):
        load_dicom(tmp_path, uneven_spacing="refuse")


def test_duplicate_positions_are_dropped_and_named(tmp_path):
    make_series(tmp_path, z_positions([0, 1, 1, 2]))
    v = load_dicom(tmp_path)
    assert v.array.shape[0] == 3
    assert any("repeat the position" in w and "IM002.dcm" in w for w in v.warnings)


def test_gantry_tilt_is_sheared_back(tmp_path):
    """A rod along world z, acquired with slices shifted in y (tilt): straight after correction."""
    n, shape, sp = 6, (20, 12), 1.0
    dy = 1.0  # mm in-plane shift per 2 mm step: atan(1/2) = 26.6 deg

    def rod(k):
        img = np.zeros(shape)
        # slice k's first row sits at y = k * dy; the rod is at world y = 10 mm, x = 5 mm
        img[int(round((10.0 - k * dy) / sp)), 5] = 2000
        return img

    make_series(
        tmp_path, [(0.0, k * dy, 2.0 * k) for k in range(n)], rod, spacing=(sp, sp), intercept=0
    )
    v = load_dicom(tmp_path)
    assert any("gantry tilt" in w and "26.6 deg" in w for w in v.warnings)
    assert v.array.shape == (n, shape[0] + 5, shape[1])
    peaks = [np.unravel_index(np.argmax(v.array[k]), v.array[k].shape) for k in range(n)]
    assert len(set(peaks)) == 1  # the rod sits at one (j, i) in every slice
    j, i = peaks[0]
    assert v.index_to_world([i, j, 0])[:2] == pytest.approx([5.0, 10.0])


def test_mixed_matrix_sizes_split_and_largest_loaded(tmp_path):
    uid, study = generate_uid(), generate_uid()
    for k in range(3):
        make_slice(
            tmp_path / f"a{k}.dcm",
            np.full((8, 8), 5),
            (0, 0, k),
            series_uid=uid,
            study_uid=study,
            instance=k + 1,
        )
    make_slice(
        tmp_path / "b.dcm",
        np.full((16, 16), 5),
        (0, 0, 0),
        series_uid=uid,
        study_uid=study,
        instance=9,
    )
    disc = discover(tmp_path)
    assert [s.n_slices for s in disc.series] == [3, 1]
    assert disc.series[0].split_reason == "matrix size" and disc.series[0].key.endswith("#1")
    assert load_dicom(tmp_path).array.shape == (3, 8, 8)
    assert load_dicom(tmp_path, series=disc.series[1].key).array.shape == (1, 16, 16)


def test_non_image_series_listed_but_not_loaded(tmp_path):
    make_series(tmp_path / "ct", z_positions([0, 1]))
    sr = pydicom.Dataset()
    sr.file_meta = pydicom.dataset.FileMetaDataset()
    sr.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"
    sr.file_meta.MediaStorageSOPClassUID = sr.SOPClassUID
    sr.SOPInstanceUID = sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    sr.SeriesInstanceUID, sr.Modality, sr.SeriesNumber = generate_uid(), "SR", 99
    sr.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    disc = discover(tmp_path)
    kinds = {s.modality: s.kind for s in disc.series}
    assert kinds == {"CT": "volume", "SR": "non_image"}
    assert load_dicom(tmp_path).metadata["modality"] == "CT"
    with pytest.raises(InputError, match="no images"):
        load_dicom(tmp_path, series="99")


def test_truncated_slice_in_series_is_skipped_and_becomes_a_gap(tmp_path):
    paths = make_series(tmp_path, z_positions([0, 1, 2, 3, 4]))
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 40])
    v = load_dicom(tmp_path)
    text = "\n".join(v.warnings)
    assert "IM002.dcm" in text and "truncated" in text and "missing slices" in text
    assert v.array.shape[0] == 5  # resampled back onto 1 mm with the gap interpolated


def test_unsupported_syntax_names_the_file(tmp_path):
    p = make_slice(
        tmp_path / "mpeg.dcm",
        np.zeros((8, 8)),
        (0, 0, 0),
        series_uid=generate_uid(),
        study_uid=generate_uid(),
    )
    ds = pydicom.dcmread(p)
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2: no decoder
    ds.PixelData = encapsulate([b"\x00\x01" * 16])
    ds["PixelData"].VR = "OB"
    ds.save_as(p, enforce_file_format=True)
    with pytest.raises(InputError, match=r"mpeg\.dcm.*cannot decode"):
        load_dicom(tmp_path)


def test_value_types_rescale_and_sign(tmp_path):
    # signed 12-bit stored with negative values, no rescale: int16 exactly
    vals = np.array([[-2048, -1, 0, 2047]] * 2)
    make_series(
        tmp_path / "s",
        z_positions([0, 1]),
        lambda k: vals,
        signed=True,
        intercept=None,
        modality="MR",
    )
    assert np.array_equal(load_dicom(tmp_path / "s").array[0], vals)
    # unsigned 16-bit MR above 32767 stays uint16
    big = np.array([[0, 40000, 65535, 7]] * 2)
    make_series(
        tmp_path / "u",
        z_positions([0, 1]),
        lambda k: big,
        intercept=None,
        bits_stored=16,
        modality="MR",
    )
    v = load_dicom(tmp_path / "u")
    assert v.array.dtype == np.uint16 and np.array_equal(v.array[1], big)
    # a non-integer slope gives float32 values
    make_series(
        tmp_path / "f",
        z_positions([0, 1]),
        lambda k: big,
        slope=0.5,
        intercept=-3,
        bits_stored=16,
        modality="PT",
    )
    v = load_dicom(tmp_path / "f")
    assert v.array.dtype == np.float32 and np.allclose(v.array[0], big * 0.5 - 3)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "worker-processes"])
def test_compressed_series_equals_uncompressed(tmp_path, monkeypatch, parallel):
    import surgiplan.core.imaging.dicom_pixels as pixels

    if parallel:  # force the multi-process decoder on this small series
        monkeypatch.setattr(pixels, "_PARALLEL_ABOVE_S", 0.0)
        monkeypatch.setattr(pixels, "_workers", lambda: 2)
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 4000, (16, 16)) for _ in range(3)]
    make_series(tmp_path / "raw", z_positions([0, 1, 2]), lambda k: imgs[k])
    make_series(tmp_path / "rle", z_positions([0, 1, 2]), lambda k: imgs[k], syntax=RLELossless)
    a, b = load_dicom(tmp_path / "raw"), load_dicom(tmp_path / "rle")
    assert np.array_equal(a.array, b.array) and a.same_grid(b)


def test_cancel_stops_the_load(tmp_path):
    make_series(tmp_path, z_positions(range(40)))
    with pytest.raises(Cancelled):
        load_dicom(tmp_path, progress=RecordingProgress(cancel_after=1))


def test_bad_paths(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        load_dicom(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match=r"no DICOM files found in .*notes\.txt: not a DICOM file"):
        load_dicom(tmp_path)
    with pytest.raises(InputError, match="no series '42'"):
        make_series(tmp_path / "ok", z_positions([0, 1]))
        load_dicom(tmp_path / "ok", series="42")


def test_cancel_during_worker_decoding_stops_the_workers(tmp_path, monkeypatch):
    import psutil

    import surgiplan.core.imaging.dicom_pixels as pixels

    monkeypatch.setattr(pixels, "_PARALLEL_ABOVE_S", 0.0)
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    make_series(tmp_path, z_positions(range(24)), syntax=RLELossless)
    with pytest.raises(Cancelled):
        load_dicom(tmp_path, progress=RecordingProgress(cancel_after=3))
    assert psutil.Process().children() == []
