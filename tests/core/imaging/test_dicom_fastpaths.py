"""The loader's fast paths give exactly what the plain paths give: threaded uncompressed reads
(vs one thread, vs the values written), JPEG 2000 through imagecodecs in threads (vs
pydicom's decoder, incl. codestreams whose signedness disagrees with the header), and
their bad-input and cancel behaviour."""

from __future__ import annotations

import threading

import numpy as np
import pydicom
import pytest
from openjpeg.utils import encode_array
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000Lossless

import surgiplan.core.imaging.dicom_pixels as pixels
from surgiplan.core.errors import Cancelled, InputError
from surgiplan.core.imaging import discover, load_dicom, load_series
from surgiplan.core.imaging.dicom_headers import read_frame_headers
from surgiplan.core.imaging.dicom_j2k import decode_j2k_frame, fast_j2k
from surgiplan.core.imaging.dicom_pixels import decode_frame, read_frames
from surgiplan.core.jobs import RecordingProgress
from tests.core.imaging._dicom_factory import make_series, make_slice


def z_positions(n):
    return [(-2.0, -2.0, float(z)) for z in range(n)]


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(name)]


# --------------------------------------------------------------------------- uncompressed
@pytest.mark.parametrize(
    "kw, expect",
    [
        ({}, lambda v: v - 1024),  # CT: stored bits into int16, intercept in place
        ({"signed": True, "intercept": None, "modality": "MR"}, lambda v: v - 2048),  # direct
        ({"slope": 0.5, "intercept": -3, "modality": "PT"}, lambda v: v * 0.5 - 3),  # float32
    ],
    ids=["ct-int16", "signed-direct", "float-rescale"],
)
def test_threaded_uncompressed_read_equals_one_thread_and_truth(tmp_path, monkeypatch, kw, expect):
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 4096, (12, 14)) for _ in range(41)]
    stored = (lambda k: imgs[k] - 2048) if kw.get("signed") else (lambda k: imgs[k])
    make_series(tmp_path, z_positions(41), stored, **kw)
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    threaded = load_dicom(tmp_path)
    monkeypatch.setattr(pixels, "_workers", lambda: 1)
    serial = load_dicom(tmp_path)
    truth = np.stack([expect(im) for im in imgs])
    assert threaded.array.dtype == serial.array.dtype
    assert np.array_equal(threaded.array, serial.array)
    assert np.array_equal(threaded.array, truth.astype(threaded.array.dtype))


def test_slice_truncated_after_discovery_is_named_in_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    paths = make_series(tmp_path, z_positions(40))
    series = discover(tmp_path).series[0]
    data = paths[17].read_bytes()
    paths[17].write_bytes(data[: len(data) - 30])  # changed on disk after the scan list
    v = load_series(series)
    text = "\n".join(v.warnings)
    assert "IM017.dcm" in text and "truncated" in text
    assert v.array.shape[0] == 40  # the gap resampled back onto the 1 mm grid
    with pytest.raises(InputError, match=r"IM017\.dcm.*truncated"):
        read_frames(list(series.frames))  # no error list: the first error is raised
    assert _threads("surgiplan-read") == []


def test_cancel_during_threaded_read(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    make_series(tmp_path, z_positions(64))
    with pytest.raises(Cancelled):
        load_dicom(tmp_path, progress=RecordingProgress(cancel_after=2))
    assert _threads("surgiplan-read") == []


# --------------------------------------------------------------------------- JPEG 2000
def _j2k_slice(path, stored: np.ndarray, codestream_values: np.ndarray, *, signed: bool, bits: int):
    """A slice whose header says ``stored`` (signedness ``signed``) but whose J2K codestream
    encodes ``codestream_values`` (their dtype sets the codestream's signedness)."""
    make_slice(
        path,
        stored,
        (0.0, 0.0, float(path.stem[-1])),
        series_uid="1.2.3.4",
        study_uid="1.2.3",
        signed=signed,
        bits_stored=bits,
        intercept=None,
        modality="MR",
    )
    ds = pydicom.dcmread(path)
    ds.PixelData = encapsulate([encode_array(codestream_values, bits_stored=bits)])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    ds.save_as(path, enforce_file_format=True)
    return path


def _j2k_cases(tmp_path):
    rng = np.random.default_rng(11)
    u12 = rng.integers(0, 4096, (40, 36))
    s12 = u12 - 2048
    s16 = rng.integers(-32768, 32768, (40, 36))
    return {
        # header and codestream agree
        "unsigned-12": (u12, u12.astype(np.uint16), False, 12),
        "signed-16": (s16, s16.astype(np.int16), True, 16),
        # header signed, codestream unsigned 12 bit (two's complement bits): sign-extended
        "signed-header-unsigned-code": (s12, (s12 & 0xFFF).astype(np.uint16), True, 12),
        # header unsigned, codestream signed 12 bit: masked back to 12 bits
        "unsigned-header-signed-code": (
            u12,
            np.where(u12 >= 2048, u12 - 4096, u12).astype(np.int16),
            False,
            12,
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unsigned-12",
        "signed-16",
        "signed-header-unsigned-code",
        "unsigned-header-signed-code",
    ],
)
def test_j2k_fast_decoder_equals_pydicom(tmp_path, case):
    truth, code, signed, bits = _j2k_cases(tmp_path)[case]
    p = _j2k_slice(tmp_path / "IM0.dcm", truth, code, signed=signed, bits=bits)
    (h,), _ = read_frame_headers(p)
    assert fast_j2k(h)
    ours = decode_j2k_frame(h)
    ref = decode_frame(str(p), 0, 1, JPEG2000Lossless)
    assert ours.dtype == ref.dtype and np.array_equal(ours, ref)
    assert np.array_equal(load_dicom(p).array[0], truth)


def test_j2k_series_in_threads_equals_uncompressed(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    rng = np.random.default_rng(4)
    imgs = [rng.integers(0, 4000, (40, 40)) for _ in range(7)]
    make_series(tmp_path / "raw", z_positions(7), lambda k: imgs[k])
    make_series(tmp_path / "j2k", z_positions(7), lambda k: imgs[k], syntax=JPEG2000Lossless)
    a, b = load_dicom(tmp_path / "raw"), load_dicom(tmp_path / "j2k")
    assert all(fast_j2k(h) for h in discover(tmp_path / "j2k").series[0].frames)
    assert b.array.dtype == np.int16
    assert np.array_equal(a.array, b.array) and a.same_grid(b)
    assert _threads("surgiplan-j2k") == []


def test_damaged_j2k_slice_is_named_and_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    paths = make_series(tmp_path, z_positions(5), shape=(40, 40), syntax=JPEG2000Lossless)
    before = {p: p.read_bytes() for p in paths}
    data = bytearray(before[paths[2]])
    soc = data.index(b"\xff\x4f\xff\x51")  # start of the codestream
    data[soc + 60 : soc + 100] = b"\x00" * 40  # header and first code-blocks zeroed
    paths[2].write_bytes(bytes(data))
    v = load_dicom(tmp_path)
    text = "\n".join(v.warnings)
    assert "IM002.dcm" in text and "cannot decode the pixel data (JPEG 2000" in text
    assert v.array.shape[0] == 5
    assert all(p.read_bytes() == before[p] for p in paths if p != paths[2])  # inputs untouched


def test_cancel_during_j2k_threads(tmp_path, monkeypatch):
    monkeypatch.setattr(pixels, "_workers", lambda: 2)
    make_series(tmp_path, z_positions(24), shape=(40, 40), syntax=JPEG2000Lossless)
    with pytest.raises(Cancelled):
        load_dicom(tmp_path, progress=RecordingProgress(cancel_after=3))
    assert _threads("surgiplan-j2k") == []


def test_volume_on_small_pages_is_an_ordinary_writable_array(tmp_path, monkeypatch):
    import mmap

    monkeypatch.setattr(pixels, "_SMALL_PAGES_ABOVE", 0)  # every output on the mapped path
    rng = np.random.default_rng(8)
    imgs = [rng.integers(0, 4096, (12, 14)) for _ in range(5)]
    make_series(tmp_path, z_positions(5), lambda k: imgs[k])
    arr = load_dicom(tmp_path).array
    if hasattr(mmap, "MADV_NOHUGEPAGE"):  # Linux: the memory is the anonymous mapping
        owner = arr
        while isinstance(owner, np.ndarray):
            owner = owner.base
        assert isinstance(getattr(owner, "obj", owner), mmap.mmap)
    assert arr.flags.c_contiguous and arr.flags.writeable and arr.dtype == np.int16
    assert np.array_equal(arr, np.stack(imgs) - 1024)
    arr[0, 0, 0] = 7  # writable like any volume
    assert arr[0, 0, 0] == 7
    assert pixels.empty_output((2, 3), np.float32).shape == (2, 3)
