"""Hostile and damaged volume files, and a full disk, against the real readers and writers.

Every hostile header is built here (small) and must give an InputError that names
the file and the problem before SimpleITK allocates anything; the input stays
byte-identical and nothing is written. Detached headers may not reach outside
their folder. The full-disk test mounts a real 256 KiB tmpfs (root only; skipped
with the reason otherwise).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import resource
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from surgiplan.core.errors import InputError
from surgiplan.core.fileio import WriteError, is_temporary
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.imaging.volume_io import check_written_volume, read_volume, write_volume

NRRD = "NRRD0004\ntype: {type}\ndimension: 3\nsizes: {sizes}\nendian: little\nencoding: {enc}\n"


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _nrrd(sizes="10 10 10", enc="raw", type_="short", extra="", data=b"\0" * 2000) -> bytes:
    return (NRRD.format(type=type_, sizes=sizes, enc=enc) + (extra + "\n" if extra else "") + "\n").encode() + data


def _nifti(dims=(10, 10, 10), cut: int = 0, vox_offset: float = 352.0) -> bytes:
    """A NIfTI-1 single file (.nii) of int16 zeros whose header claims ``dims``, data for 10^3."""
    head = bytearray(348)
    struct.pack_into("<i", head, 0, 348)
    struct.pack_into("<8h", head, 40, 3, *dims, 1, 1, 1, 1)
    struct.pack_into("<hh", head, 70, 4, 16)  # datatype int16, 16 bits
    struct.pack_into("<8f", head, 76, 1, 1, 1, 1, 1, 1, 1, 1)
    struct.pack_into("<f", head, 108, vox_offset)
    head[344:348] = b"n+1\0"
    data = bytes(head) + b"\0" * 4 + b"\0" * 2000
    return data[: len(data) - cut]


def _mha(dimsize="10 10 10", extra="", data_cut: int = 0) -> bytes:
    head = ("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
            f"CompressedData = False\n{extra}DimSize = {dimsize}\nElementType = MET_SHORT\nElementDataFile = LOCAL\n")
    return head.encode() + b"\0" * (2000 - data_cut)


CASES = {
    # name: (file name, bytes, regex the message must match)
    "nrrd_sizes_5000_digits": ("digits.nrrd", _nrrd(sizes="10 10 1" + "0" * 5000), "not a sensible whole number"),
    "nrrd_direction_5000_digits": ("dir.nrrd", _nrrd(extra="space: left-posterior-superior\nspace directions: (1"
                                                     + "0" * 5000 + ",0,0) (0,1,0) (0,0,1)"), "space directions"),
    "nrrd_nan_origin": ("nan.nrrd", _nrrd(extra="space: left-posterior-superior\nspace origin: (nan,0,0)"),
                        "not a sensible number"),
    "nrrd_zero_size": ("zero.nrrd", _nrrd(sizes="10 0 10"), "at least 1"),
    "nrrd_negative_size": ("neg.nrrd", _nrrd(sizes="10 -10 10"), "at least 1"),
    "nrrd_claims_2000_cubed_raw": ("huge.nrrd", _nrrd(sizes="2000 2000 2000", data=b"\0" * 1000), "8e\\+09 voxels"),
    "nrrd_claims_2000_cubed_gzip": ("hugez.nrrd", _nrrd(sizes="2000 2000 2000", enc="gzip",
                                                        data=gzip.compress(b"\0" * 1000)), "8e\\+09 voxels"),
    "nrrd_gzip_beyond_deflate": ("gzlie.nrrd", _nrrd(sizes="500 500 500", enc="gzip", data=gzip.compress(b"\0" * 99)),
                                 "1032:1"),
    "nrrd_raw_truncated": ("short.nrrd", _nrrd(data=b"\0" * 1980), "1,980 bytes"),
    "nrrd_unknown_type": ("block.nrrd", _nrrd(type_="block"), "voxel type"),
    "nrrd_header_without_end": ("noend.nrrd", b"NRRD0004\n" + b"# comment\n" * 900_000, "header is longer"),
    "nrrd_not_field_value": ("junk.nrrd", b"NRRD0004\ntype short\n\n", "not 'field: value'"),
    "nifti_claims_2000_cubed": ("huge.nii", _nifti((2000, 2000, 2000)), "8e\\+09 voxels"),
    "nifti_gz_claims_2000_cubed": ("huge.nii.gz", gzip.compress(_nifti((2000, 2000, 2000))), "8e\\+09 voxels"),
    "nifti_truncated": ("cut.nii", _nifti(cut=100), "truncated"),
    "nifti_header_only": ("head.nii", _nifti()[:200], "shorter than 348"),
    "nifti_nan_offset": ("off.nii", _nifti(vox_offset=float("nan")), "voxel offset"),
    "nifti_negative_dim": ("negdim.nii", _nifti((10, -3, 10)), "at least 1"),
    "mha_claims_2000_cubed": ("huge.mha", _mha("2000 2000 2000"), "8e\\+09 voxels"),
    "mha_truncated": ("cut.mha", _mha(data_cut=10), "truncated"),
    "mha_spacing_5000_digits": ("sp.mha", _mha(extra="ElementSpacing = 1 1 1" + "0" * 5000 + "\n"), "ElementSpacing"),
    "mha_list_of_files": ("list.mhd", b"NDims = 3\nDimSize = 1 1 1\nElementType = MET_UCHAR\n"
                                      b"ElementDataFile = LIST\n", "several files"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_volume_header_is_refused_before_allocating(tmp_path, case):
    name, data, expect = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match=expect) as info:
        read_volume(path)
    assert name in str(info.value)
    assert _snapshot(tmp_path) == before


HEAD = NRRD.format(type="uint8", sizes="6 1 1", enc="raw")


@pytest.mark.parametrize("data_file, expect", [
    ("../../outside.raw", "outside the header's folder"),
    ("{abs}", "outside the header's folder"),
    ("link.raw", "symbolic link"),
    ("pipe.raw", "not a regular file"),
    ("sub/../../outside.raw", "outside the header's folder"),
    ("a" * 300 + ".raw", "304 bytes long"),
    ("missing.raw", "does not exist"),
    ("LIST", "several files"),
    ("slice%03d.raw 1 3 1", "several files"),
])
def test_detached_header_may_not_reach_outside_its_folder(tmp_path, data_file, expect):
    secret = tmp_path / "outside.raw"
    secret.write_bytes(b"secret")
    folder = tmp_path / "case" / "scans"
    folder.mkdir(parents=True)
    os.symlink(secret, folder / "link.raw")
    os.mkfifo(folder / "pipe.raw")
    data_file = data_file.replace("{abs}", str(secret))
    for name, text in (("v.nhdr", HEAD + f"data file: {data_file}\n"),
                       ("v.mhd", "ObjectType = Image\nNDims = 3\nDimSize = 6 1 1\nElementType = MET_UCHAR\n"
                                 f"ElementDataFile = {data_file}\n")):
        path = folder / name
        path.write_text(text)
        with pytest.raises(InputError, match=expect) as info:
            read_volume(path)
        assert name in str(info.value)
    assert secret.read_bytes() == b"secret"


def test_memory_budget_is_checked_with_the_numbers(tmp_path, monkeypatch):
    path = write_volume(Volume(np.ones((20, 30, 40), np.int16), (1, 1, 1)), tmp_path / "v.nrrd")
    monkeypatch.setenv("SURGIPLAN_MEMORY_BUDGET", "50000")
    with pytest.raises(InputError, match=r"v\.nrrd: the volume would need 96,000 bytes of memory, more than the "
                                         r"50,000 bytes"):
        read_volume(path)
    monkeypatch.delenv("SURGIPLAN_MEMORY_BUDGET")
    assert read_volume(path).array.shape == (20, 30, 40)


def _vol(shape=(4, 5, 6), seed=0) -> Volume:
    rng = np.random.default_rng(seed)
    return Volume(rng.integers(-1000, 2000, shape, dtype=np.int16), (0.7, 0.8, 2.5), (-5.0, 10.0, 20.0))


@pytest.mark.parametrize("suffix", [".nhdr", ".mhd"])
@pytest.mark.parametrize("compress", [True, False])
def test_detached_pairs_are_written_with_their_data_file_named(tmp_path, suffix, compress):
    v = _vol()
    path = write_volume(v, tmp_path / f"scan{suffix}", compress=compress)
    write_volume(v, path, compress=compress)  # replacing works too
    back = read_volume(path)
    assert np.array_equal(back.array, v.array) and np.allclose(back.spacing, v.spacing)
    names = sorted(os.listdir(tmp_path))
    assert not [n for n in names if is_temporary(n)]
    assert len(names) == 2 and names[0].startswith("scan.")
    data_name = next(n for n in names if n != path.name)
    assert data_name in path.read_text()


@pytest.mark.parametrize("suffix, cut", [(".nrrd", 10), (".nii.gz", 10), (".mha", 10)])
def test_read_back_check_catches_a_short_file(tmp_path, suffix, cut):
    v = _vol((8, 8, 8))
    compress = suffix != ".nrrd"
    path = write_volume(v, tmp_path / f"v{suffix}", compress=compress)
    img = sitk.ReadImage(str(path))
    check_written_volume(path, img)  # the complete file passes
    short = tmp_path / f"short{suffix}"
    short.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(InputError):
        check_written_volume(short, img)


# ------------------------------------------------------------------ full disk


@pytest.mark.parametrize("suffix", [".nrrd", ".nii.gz", ".mha", ".nhdr"])
def test_full_disk_keeps_the_good_volume(small_tmpfs, suffix):
    path = write_volume(_vol((4, 5, 6)), small_tmpfs / f"scan{suffix}")
    before = _snapshot(small_tmpfs)
    big = _vol((40, 50, 60), seed=1)  # 240 kB of noise: does not compress, does not fit with the old file
    with pytest.raises(WriteError, match="disk is full") as info:
        write_volume(big, path)
    assert path.name in str(info.value)
    assert _snapshot(small_tmpfs) == before
    assert not [n for n in os.listdir(small_tmpfs) if is_temporary(n)]


# --------------------------------------------------------- child processes
def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.parametrize("case", ["nrrd_sizes_5000_digits", "nrrd_direction_5000_digits", "nifti_claims_2000_cubed"])
def test_former_crashes_exit_cleanly_in_a_child_process(tmp_path, case):
    name, data, _ = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    code = ("import sys\nfrom surgiplan.core.errors import SurgiplanError\n"
            "from surgiplan.core.imaging.volume_io import read_volume\n"
            "try:\n    read_volume(sys.argv[1])\n"
            "except SurgiplanError as e:\n    print(e, file=sys.stderr); sys.exit(1)\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                       preexec_fn=_limit_memory)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert name in r.stderr and "Traceback" not in r.stderr
    assert path.read_bytes() == data
