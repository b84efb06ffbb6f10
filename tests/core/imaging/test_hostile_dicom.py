"""Damaged and hostile DICOM files: a clear per-file error or a named skip, never a traceback.

Every hostile file is made here, seeded and small, from a copy of a real series (the
5-slice 16 x 16 CT of the shared corpus, ``bad_input/series_with_junk_files``) or of the
shared MR slice in its compressed encodings, edited with pydicom or byte by byte. Each
test checks the contract of issue 21:

* a single hostile file given alone raises :class:`InputError` naming it;
* in a folder it is skipped and named in the warnings while the rest still loads;
* nothing but a ``SurgiplanError`` escapes (no pydicom/struct/numpy exception);
* the input is byte-identical afterwards;
* sizes claimed by a header are checked before anything is allocated from them.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import DataElement
from pydicom.encaps import encapsulate, get_frame

from surgiplan.core.errors import GeometryError, InputError, SurgiplanError
from surgiplan.core.fileio import WriteError
from surgiplan.core.imaging import dicom_pixels, discover, load_dicom
from surgiplan.core.imaging.deidentify import deidentify
from surgiplan.core.imaging.dicom_loader import describe_series
from surgiplan.core.imaging.progressive import preview_volume, thumbnail
from tests.conftest import REPO_ROOT, require_shared

GOOD = "bad_input/series_with_junk_files"
N_GOOD = 5
#: the victim: the middle slice, so that the rest still forms a stack around the gap
VICTIM = "2693.dcm"


# --------------------------------------------------------------------------- helpers
def _tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (links not followed, special files by name)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            key = str(p.relative_to(root))
            if p.is_symlink():
                out[key] = "link:" + os.readlink(p)
            elif p.is_file():
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[key] = "node"
    return out


def _series(tmp_path: Path, name: str = "series") -> Path:
    src = require_shared("dicom", GOOD)
    folder = tmp_path / name
    folder.mkdir()
    for f in sorted(src.glob("[0-9]*.dcm")):
        shutil.copyfile(f, folder / f.name)
    return folder


def _mr(tmp_path: Path, syntax_folder: str) -> Path:
    src = require_shared("dicom", "mr_slice_transfer_syntaxes", syntax_folder)
    folder = tmp_path / syntax_folder
    folder.mkdir()
    f = next(src.glob("*.dcm"))
    shutil.copyfile(f, folder / f.name)
    return folder / f.name


def _edit(path: Path, **values) -> None:
    """Set header values with pydicom (``RAW_<keyword>=(vr, value)`` writes any VR/value)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        for key, value in values.items():
            if key.startswith("RAW_"):
                vr, raw = value
                ds.add(DataElement(key[4:], vr, raw))
            else:
                setattr(ds, key, value)
        ds.save_as(path)


def _element_offset(data: bytes, tag: int) -> int:
    """Byte offset of an explicit-VR little-endian element header of ``tag`` in ``data``."""
    needle = struct.pack("<HH", tag >> 16, tag & 0xFFFF)
    at = data.find(needle, 132)
    assert at > 0, f"tag {tag:08x} not found"
    return at


def _contract_folder(folder: Path, culprit: str, *, loads: bool = True):
    """Load ``folder``: the rest loads and ``culprit`` is named, or a SurgiplanError names it."""
    before = _tree_digest(folder)
    try:
        vol = load_dicom(folder)
    except SurgiplanError as exc:
        assert not loads, f"expected the rest to load, got: {exc}"
        assert culprit in str(exc)
        vol = None
    else:
        text = "\n".join(vol.warnings)
        assert culprit in text, text
        assert vol.array.shape[1:] == (16, 16)
        assert np.isfinite(vol.array.astype(np.float64)).all()
    assert _tree_digest(folder) == before
    return vol


def _contract_file(path: Path, *words: str) -> InputError:
    """Loading the one file raises InputError naming it (and the given words)."""
    before = _tree_digest(path.parent)
    with pytest.raises(InputError) as err:
        load_dicom(path)
    msg = str(err.value)
    assert path.name in msg, msg
    for w in words:
        assert w in msg, msg
    assert _tree_digest(path.parent) == before
    return err.value


# --------------------------------------------------------------------------- flipped bytes
def _flip_vr(path: Path, tag: int, old: bytes, new: bytes = b"HO") -> None:
    data = bytearray(path.read_bytes())
    at = _element_offset(data, tag)
    assert data[at + 4 : at + 6] == old
    data[at + 4 : at + 6] = new
    path.write_bytes(bytes(data))


def test_unknown_vr_from_a_flipped_byte_never_escapes(tmp_path):
    """'IS' -> 'HO' on SeriesNumber (and PN, CS): pydicom's NotImplementedError used to escape.

    Every slice is damaged so that the series text must come from a damaged header: the
    undecodable values count as absent (the frames' own modality is used) and the
    series still loads, alone or as a folder.
    """
    folder = _series(tmp_path)
    for f in folder.iterdir():
        _flip_vr(f, 0x00200011, b"IS")  # SeriesNumber
        _flip_vr(f, 0x00100010, b"PN")  # PatientName
        _flip_vr(f, 0x00080060, b"CS")  # Modality
    before = _tree_digest(folder)
    for path in (folder, folder / VICTIM):
        vol = load_dicom(path)
        assert vol.metadata["series_number"] is None
        assert vol.metadata["modality"] == "CT" and vol.array.dtype == np.int16
    info = describe_series(discover(folder).find(None))
    assert info["n_slices"] == N_GOOD
    assert _tree_digest(folder) == before


def test_unknown_vr_in_a_needed_value_is_a_named_per_file_error(tmp_path):
    """A file without the Part 10 preamble goes through pydicom: 'US' -> 'HO' on Rows."""
    folder = _series(tmp_path)
    victim = folder / VICTIM
    data = victim.read_bytes()
    meta_len = struct.unpack("<I", data[140:144])[0]  # (0002,0000) group length
    body = bytearray(data[144 + meta_len :])
    at = body.find(struct.pack("<HH", 0x0028, 0x0010))
    assert body[at + 4 : at + 6] == b"US"
    body[at + 4 : at + 6] = b"HO"
    victim.write_bytes(bytes(body))
    _contract_folder(folder, VICTIM)
    _contract_file(victim, "Rows")


@pytest.mark.parametrize("seed", range(12))
def test_seeded_vr_flips_never_escape(tmp_path, seed):
    """A seeded VR byte pair of one slice replaced by junk or by another VR."""
    rng = random.Random(seed)
    folder = _series(tmp_path)
    victim = folder / VICTIM
    data = bytearray(victim.read_bytes())
    vrs = {b"PN", b"LO", b"CS", b"DS", b"IS", b"UI", b"US", b"SH", b"DA", b"TM", b"SQ", b"UL"}
    spots = [i for i in range(132, len(data) - 6) if bytes(data[i + 4 : i + 6]) in vrs]
    at = rng.choice(spots)
    data[at + 4 : at + 6] = rng.choice([b"HO", b"ZZ", b"\x00\x00", b"SQ", b"OB", b"FD", b"UN"])
    victim.write_bytes(bytes(data))
    before = _tree_digest(folder)
    for call in (lambda: load_dicom(folder), lambda: load_dicom(victim)):
        try:
            vol = call()
        except SurgiplanError as exc:
            assert VICTIM in str(exc) or str(folder) in str(exc)
        else:
            assert vol.array.size > 0
    assert _tree_digest(folder) == before


# --------------------------------------------------------------------------- truncation
def test_truncated_pixel_data_is_skipped_and_named(tmp_path):
    folder = _series(tmp_path)
    victim = folder / VICTIM
    victim.write_bytes(victim.read_bytes()[:-100])
    _contract_folder(folder, VICTIM)
    _contract_file(victim, "truncated")


@pytest.mark.parametrize("seed", range(6))
def test_file_cut_anywhere_is_skipped_and_named(tmp_path, seed):
    folder = _series(tmp_path)
    victim = folder / VICTIM
    data = victim.read_bytes()
    cut = random.Random(seed).randrange(1, len(data) - 1)
    victim.write_bytes(data[:cut])
    _contract_folder(folder, VICTIM)
    _contract_file(victim)


# --------------------------------------------------------------------------- lying sizes
@pytest.mark.parametrize(
    "values",
    [
        {"Rows": 65535, "Columns": 65535},
        {"NumberOfFrames": 2**31 - 1},
        {"BitsAllocated": 48},
        {"BitsStored": 40},
        {"SamplesPerPixel": 0},
        {"PixelRepresentation": 2},
        {"RescaleSlope": "1e308"},
        {"RAW_RescaleIntercept": ("DS", "NaN")},
    ],
    ids=lambda v: "-".join(v),
)
def test_lying_header_values_are_refused_before_allocation(tmp_path, values):
    folder = _series(tmp_path)
    victim = folder / VICTIM
    _edit(victim, **values)
    _contract_folder(folder, VICTIM)
    _contract_file(victim)


def test_lying_rows_of_compressed_frames_are_refused_before_decoding(tmp_path, monkeypatch):
    """RLE and JPEG 2000: the frame's own header (or RLE's 64x bound) against Rows x Columns.

    Without the check pydicom's RLE decoder allocated 8.6 GB for a 6 KB file (measured:
    38 s, max RSS 8.4 GB) before failing. The memory budget is lifted here: a 65535 x 65535 image
    needs 16 GiB, so on a machine with less free memory the budget check (tested on its own below)
    refused the series first and this check was never reached (seen in CI at 14.8 GiB free).
    """
    monkeypatch.setattr(dicom_pixels, "memory_budget", lambda: 1 << 60)
    for syntax in ("rle", "jpeg2000_lossless", "jpegls_lossless", "jpeg_lossless_sv1"):
        path = _mr(tmp_path, syntax)
        _edit(path, Rows=65535, Columns=65535)
        err = _contract_file(path, "disagree")
        assert "65535" in str(err)


def test_hostile_jp2_wrapper_does_not_hang(tmp_path):
    """A JP2 box of length 0 sends pydicom 3.0's get_j2k_parameters into an endless loop."""
    path = _mr(tmp_path, "jpeg2000_lossless")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path)
        code = get_frame(ds.PixelData, 0, number_of_frames=1)
        wrapper = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\x00\x00ftypjp2 "
        ds.PixelData = encapsulate([wrapper + code])
        ds.save_as(path)
    _contract_file(path, "JP2")
    with pytest.raises(InputError):
        thumbnail(path)


def test_memory_budget_is_checked_before_stacking(tmp_path, monkeypatch):
    folder = _series(tmp_path)
    monkeypatch.setattr(dicom_pixels, "memory_budget", lambda: 1000)
    with pytest.raises(InputError) as err:
        load_dicom(folder)
    msg = str(err.value)
    assert "memory" in msg and "16 x 16" in msg and str(folder) in msg


# --------------------------------------------------------------------------- geometry lies
def test_one_slice_without_a_usable_position_is_left_out(tmp_path):
    folder = _series(tmp_path)
    _edit(folder / VICTIM, RAW_ImagePositionPatient=("DS", ["NaN", "0", "0"]))
    vol = _contract_folder(folder, VICTIM)
    assert any("ImagePositionPatient" in w for w in vol.warnings)


def test_a_slice_a_kilometre_to_the_side_is_not_corrected_as_a_tilt(tmp_path):
    """Used to build a canvas of 1e6 / 0.5 pixels a side (minutes, then out of memory)."""
    folder = _series(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos = [float(x) for x in pydicom.dcmread(folder / VICTIM).ImagePositionPatient]
    _edit(folder / VICTIM, ImagePositionPatient=[1e5, pos[1], pos[2]])
    with pytest.raises(GeometryError) as err:
        load_dicom(folder)
    assert VICTIM in str(err.value) and "not a gantry tilt" in str(err.value)


def test_a_slice_far_along_the_normal_is_not_resampled_into_a_huge_stack(tmp_path):
    folder = _series(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pos = [float(x) for x in pydicom.dcmread(folder / VICTIM).ImagePositionPatient]
    _edit(folder / VICTIM, ImagePositionPatient=[pos[0], pos[1], 9e5])
    with pytest.raises(GeometryError) as err:
        describe_series(discover(folder).find(None))
    assert VICTIM in str(err.value) and "do not form one stack" in str(err.value)


@pytest.mark.parametrize("spacing", [["0", "0"], ["NaN", "NaN"], ["1e300", "1e300"]])
def test_damaged_pixel_spacing_is_refused_not_assumed(tmp_path, spacing):
    folder = _series(tmp_path)
    for f in folder.iterdir():
        _edit(f, RAW_PixelSpacing=("DS", spacing))
    with pytest.raises(GeometryError) as err:
        load_dicom(folder)
    assert "PixelSpacing" in str(err.value)


# --------------------------------------------------------------------------- file system
def test_directory_where_a_slice_should_be(tmp_path):
    folder = _series(tmp_path)
    (folder / "IM_is_a_folder.dcm").mkdir()
    vol = load_dicom(folder)
    assert vol.array.shape[0] == N_GOOD
    with pytest.raises(InputError) as err:
        load_dicom(folder / "IM_is_a_folder.dcm")
    assert "IM_is_a_folder.dcm" in str(err.value)


def test_unreadable_file_is_skipped_and_named(tmp_path):
    folder = _series(tmp_path)
    victim = folder / VICTIM
    victim.chmod(0)
    try:
        try:
            victim.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("this user (root?) can read a mode-000 file anyway")
        _contract_folder(folder, VICTIM)
        _contract_file(victim, "ermission")
    finally:
        victim.chmod(0o644)


def test_symlink_loop_is_skipped_and_named(tmp_path):
    folder = _series(tmp_path)
    (folder / "loop_a.dcm").symlink_to("loop_b.dcm")
    (folder / "loop_b.dcm").symlink_to("loop_a.dcm")
    (folder / "sub").mkdir()
    (folder / "sub" / "back").symlink_to("..", target_is_directory=True)  # not followed
    disc = discover(folder)
    reasons = {s.path.name: s.reason for s in disc.skipped}
    assert "loop" in reasons["loop_a.dcm"] and "loop" in reasons["loop_b.dcm"]
    assert disc.find(None).n_slices == N_GOOD
    with pytest.raises(InputError) as err:
        load_dicom(folder / "loop_a.dcm")
    assert "loop_a.dcm" in str(err.value) and "loop" in str(err.value)


@pytest.mark.timeout(60)
def test_fifo_is_never_opened(tmp_path):
    """A named pipe would block the header reader forever."""
    folder = _series(tmp_path)
    os.mkfifo(folder / "pipe.dcm")
    disc = discover(folder)
    assert "pipe.dcm" in {s.path.name for s in disc.skipped}
    assert load_dicom(folder).array.shape[0] == N_GOOD
    with pytest.raises(InputError):
        load_dicom(folder / "pipe.dcm")


def test_dicomdir_cannot_point_outside_its_folder(tmp_path):
    """ReferencedFileID '..\\outside' or a link out of the folder: skipped, never read."""
    src = require_shared("dicom", "dicomdir_study")
    study = tmp_path / "study"
    shutil.copytree(src, study)
    for p in study.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    outside = tmp_path / "outside.dcm"
    shutil.copyfile(next(_series(tmp_path, "elsewhere").iterdir()), outside)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dd = pydicom.dcmread(study / "DICOMDIR")
        recs = [r for r in dd.DirectoryRecordSequence if "ReferencedFileID" in r]
        recs[0].ReferencedFileID = ["..", "outside.dcm"]
        recs[1].ReferencedFileID = ["98892001"]  # a folder
        dd.save_as(study / "DICOMDIR")
    before = _tree_digest(study)
    disc = discover(study / "DICOMDIR")
    text = "\n".join(str(s) for s in disc.skipped)
    assert "leads outside its folder" in text
    assert all(f.path != outside for s in disc.series for f in s.frames)
    assert _tree_digest(study) == before


def test_dicomdir_files_are_read_once_however_the_folder_is_named(tmp_path, monkeypatch):
    """Relative, '..' and symlinked names of a DICOMDIR folder: each file read once."""
    study = require_shared("dicom", "dicomdir_study")
    ref = discover(study)
    n, slices = ref.n_files, [s.n_slices for s in ref.series]
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(study, target_is_directory=True)
    monkeypatch.chdir(tmp_path / "sub")
    rel = Path(os.path.relpath(study, tmp_path / "sub"))
    for name in (rel, tmp_path / "sub" / ".." / "link", Path("../link")):
        disc = discover(name)
        assert disc.n_files == n and [s.n_slices for s in disc.series] == slices, name


@pytest.mark.parametrize("depth", [200, 20000])
def test_deeply_nested_sequences(tmp_path, depth):
    """Undefined-length sequences nested ``depth`` deep in a private element before the pixels."""
    folder = _series(tmp_path)
    victim = folder / VICTIM
    data = victim.read_bytes()
    at = _element_offset(data, 0x7FE00010)
    item = b"\xfe\xff\x00\xe0\xff\xff\xff\xff"  # item of undefined length
    item_end = b"\xfe\xff\x0d\xe0\0\0\0\0"
    seq_end = b"\xfe\xff\xdd\xe0\0\0\0\0"
    seq_head = struct.pack("<HH", 0x0029, 0x1010) + b"SQ\0\0\xff\xff\xff\xff"
    nested = (seq_head + item) * depth + (item_end + seq_end) * depth
    victim.write_bytes(data[:at] + nested + data[at:])
    before = _tree_digest(folder)
    try:
        vol = load_dicom(folder)
        assert vol.array.shape[0] == N_GOOD
    except SurgiplanError as exc:
        assert VICTIM in str(exc)
    res = deidentify(folder, tmp_path / "deid")
    assert res.n_written >= N_GOOD - 1
    assert _tree_digest(folder) == before


def test_bad_bytes_in_text_are_not_fatal(tmp_path):
    """Invalid UTF-8 in a name under ISO_IR 192: the series loads (text decoded or left out)."""
    folder = _series(tmp_path)
    for f in folder.iterdir():
        data = f.read_bytes()
        at = _element_offset(data, 0x00080005)  # SpecificCharacterSet 'ISO_IR 100'
        assert data[at + 8 : at + 18] == b"ISO_IR 100"
        f.write_bytes(data[: at + 8] + b"ISO_IR 192" + data[at + 18 :])
    victim = folder / VICTIM
    data = bytearray(victim.read_bytes())
    at = _element_offset(data, 0x00100010)  # PatientName 'Doe^Peter'
    data[at + 8 : at + 11] = b"\xff\xfe\xc3"
    victim.write_bytes(bytes(data))
    vol = load_dicom(folder)
    assert vol.array.shape[0] == N_GOOD
    assert discover(folder).find(None).patient_name


# --------------------------------------------------------------------------- preview, thumbnail
def test_preview_and_thumbnail_of_hostile_files_never_escape(tmp_path):
    folder = _series(tmp_path)
    files = sorted(folder.iterdir())
    _edit(files[2], Rows=65535, Columns=65535)
    files[1].write_bytes(files[1].read_bytes()[:300])
    prev = preview_volume(files)
    assert prev is not None and 2 not in prev.metadata["preview_slices"]
    for f in files[1:3]:
        with pytest.raises(InputError) as err:
            thumbnail(f)
        assert f.name in str(err.value)


# --------------------------------------------------------------------------- de-identification
def test_deidentify_never_writes_into_or_over_its_input(tmp_path):
    folder = _series(tmp_path)
    before = _tree_digest(tmp_path)
    for out in (folder, folder / "copy", folder / ".." / "series"):
        with pytest.raises(InputError) as err:
            deidentify(folder, out)
        assert "input" in str(err.value)
    holder = tmp_path / "holder"
    holder.mkdir()
    (holder / "x").write_text("x")
    with pytest.raises(InputError):
        deidentify(folder, holder)
    (holder / "x").unlink()
    holder.rmdir()
    assert _tree_digest(tmp_path) == before


def test_deidentify_skips_hostile_files_and_keeps_names_inside(tmp_path):
    """A SeriesNumber of '../../x' (pydicom keeps invalid IS text) must not escape the output."""
    folder = _series(tmp_path)
    data = (folder / "2062.dcm").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.add(DataElement(0x00200011, "LO", "../../../escaped"))
        buf = io.BytesIO()
        ds.save_as(buf)
    raw = buf.getvalue().replace(b"\x20\x00\x11\x00LO", b"\x20\x00\x11\x00IS")
    (folder / "2062.dcm").write_bytes(raw)
    victim = folder / VICTIM
    vr = bytearray(victim.read_bytes())
    at = _element_offset(vr, 0x00200011)
    vr[at + 4 : at + 6] = b"HO"
    victim.write_bytes(bytes(vr))
    (folder / "zz_cut.dcm").write_bytes(data[:700])
    before = _tree_digest(folder)
    out = tmp_path / "out"
    res = deidentify(folder, out)
    assert _tree_digest(folder) == before
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    assert not list(tmp_path.rglob("escaped*"))
    skipped = {s.path.name for s in res.skipped}
    assert "zz_cut.dcm" in skipped
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_deidentify_write_failure_leaves_no_output(tmp_path, monkeypatch):
    """A write that fails (here: a read-back that fails) raises WriteError; no partial output."""
    folder = _series(tmp_path)
    from surgiplan.core.imaging import deidentify as mod

    def broken(path):
        raise InputError("simulated short write", path=path)

    monkeypatch.setattr(mod, "_read_back", broken)
    with pytest.raises(WriteError):
        deidentify(folder, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]


# --------------------------------------------------------------------------- the CLI
def _hostile_tree(tmp_path: Path) -> Path:
    folder = _series(tmp_path, "hostile")
    victim = folder / VICTIM
    data = bytearray(victim.read_bytes())
    at = _element_offset(data, 0x00200011)
    data[at + 4 : at + 6] = b"HO"
    victim.write_bytes(bytes(data))
    (folder / "2392.dcm").write_bytes((folder / "2392.dcm").read_bytes()[:-50])
    (folder / "loop.dcm").symlink_to("loop.dcm")
    (folder / "notes.dcm").write_text("not DICOM")
    _edit(folder / "3023.dcm", Rows=65535, Columns=65535)
    return folder


def _cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("surgiplan")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "surgiplan"]
    return subprocess.run(
        cmd + list(args),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=dict(os.environ, COLUMNS="200"),
    )


def test_cli_scan_info_and_convert_on_a_hostile_tree(tmp_path):
    folder = _hostile_tree(tmp_path)
    before = _tree_digest(folder)
    res = _cli("scan", "info", str(folder))
    assert res.returncode in (0, 1), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    for name in ("2392.dcm", "loop.dcm", "notes.dcm", "3023.dcm"):  # skipped, each named
        assert name in res.stdout + res.stderr, name
    out = tmp_path / "vol.nrrd"
    res = _cli("scan", "convert", str(folder), str(out))
    assert res.returncode in (0, 1), res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    if res.returncode == 0:
        assert out.exists() and "warning" in res.stdout
    else:
        assert not out.exists()
    # a single unusable file: exit 1 and a message naming it; the 'HO' one still loads
    for name, code in (("2392.dcm", 1), ("3023.dcm", 1), (VICTIM, 0)):
        res = _cli("scan", "info", str(folder / name))
        assert res.returncode == code and "Traceback" not in res.stderr + res.stdout, res.stderr
        assert code == 0 or name in res.stderr + res.stdout
    assert _tree_digest(folder) == before
