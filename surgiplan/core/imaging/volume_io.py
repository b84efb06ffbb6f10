"""Volume files: NRRD, NIfTI and MetaImage read and written through SimpleITK.

SimpleITK works in LPS, as we do: NIfTI's RAS on disk is converted on read and
on write by ITK itself, so a Volume round-trips through any of these formats
with the same LPS geometry.

Files from elsewhere are not trusted. Before SimpleITK sees a file,
:func:`check_volume_file` reads its header (:func:`read_volume_header`) and
refuses, naming the file and the numbers:

* a claimed voxel count x type size larger than the data the file holds
  (uncompressed), or larger than gzip/zlib could ever expand to (at most
  1032:1), or beyond the memory budget (:mod:`surgiplan.core.limits`);
* a detached header (``.nhdr`` ``data file:``, ``.mhd`` ``ElementDataFile``)
  whose data file lies outside the header's folder (``..``, an absolute path)
  or is reached through a symbolic link, or is not a regular file;
* numbers with absurd digit counts, names over 255 bytes, unknown types.

Writes go through :func:`surgiplan.core.fileio.atomic_write`: free space for
the uncompressed size is checked first, and the written file is read back
(ITK's header information, the data byte count or the compressed stream's
recorded size) before it replaces the old one. A detached pair (``.nhdr`` +
``.raw[.gz]``, ``.mhd`` + ``.raw``/``.zraw``) is written data file first, then
the header that names it.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from surgiplan.core import limits
from surgiplan.core.errors import InputError, SurgiplanError
from surgiplan.core.imaging.volume import Volume

VOLUME_SUFFIXES = (".nrrd", ".nhdr", ".nii", ".nii.gz", ".mha", ".mhd")

#: Deflate (gzip, zlib) never expands more than 1032:1; a claim beyond that is a lie.
DEFLATE_MAX_RATIO = 1032


def volume_suffix(path: str | Path) -> str:
    """The volume-file suffix of ``path`` ('.nii.gz' counts as one), lower case."""
    name = Path(path).name.lower()
    for s in sorted(VOLUME_SUFFIXES, key=len, reverse=True):
        if name.endswith(s):
            return s
    return Path(path).suffix.lower()


def is_volume_file(path: str | Path) -> bool:
    return Path(path).is_file() and volume_suffix(path) in VOLUME_SUFFIXES


def to_sitk(volume: Volume):
    """A SimpleITK image with the volume's voxels and LPS geometry."""
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(volume.array))
    img.SetSpacing(volume.spacing)
    img.SetOrigin(volume.origin)
    img.SetDirection(tuple(float(x) for x in volume.direction.ravel()))
    return img


class _ImageBuffer:
    """The pixel buffer of a SimpleITK image, handed to numpy with the image kept alive.

    ``np.asarray(_ImageBuffer(image))`` is an array on the image's own memory whose ``base``
    holds the image, so the buffer lives as long as any array on it (SimpleITK's own
    ``GetArrayViewFromImage`` does not keep the image: a view outliving it reads freed memory).
    """

    def __init__(self, image) -> None:
        import SimpleITK as sitk

        view = sitk.GetArrayViewFromImage(image)  # MakeUnique: the buffer is this image's alone
        self.image = image
        face = dict(view.__array_interface__)
        face["data"] = (face["data"][0], False)  # SimpleITK's view is read-only; the buffer is ours
        self.__array_interface__ = face


def array_from_image(image, *, take: bool = False) -> np.ndarray:
    """The voxels of a SimpleITK ``image`` as a numpy array [k, j, i] (components last).

    ``take=True`` hands the image's buffer over without a copy (the image must not be changed
    afterwards; the array keeps it alive): reading a 512 x 512 x 600 CT then allocates its
    630 MB once instead of twice. ``take=False`` returns an independent copy.
    """
    import SimpleITK as sitk

    if not take:
        return sitk.GetArrayFromImage(image)
    return np.asarray(_ImageBuffer(image))


def from_sitk(image, metadata: dict | None = None, *, take: bool = False) -> Volume:
    """A Volume from a 3D SimpleITK image (LPS geometry as ITK gives it).

    ``take=True``: the Volume's array is the image's own buffer (no copy; see
    :func:`array_from_image`), for an image nobody else uses, such as one just read.
    """
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"expected a 3D single-component image, got {image.GetDimension()}D with "
            f"{image.GetNumberOfComponentsPerPixel()} components"
        )
    arr = array_from_image(image, take=take)
    return Volume(
        array=arr,
        spacing=image.GetSpacing(),
        origin=image.GetOrigin(),
        direction=np.asarray(image.GetDirection()).reshape(3, 3),
        metadata=dict(metadata or {}),
    )


# ------------------------------------------------------------------ headers
@dataclass
class VolumeHeader:
    """What a volume file's header claims, read without reading the voxels.

    ``sizes`` are in file order (fastest axis first); ``nbytes`` is the
    uncompressed voxel data; ``data_offset`` is where the data start in
    ``data_path`` (-1: the last ``nbytes`` of the file); ``fields`` (NRRD,
    MetaImage) are the header's fields, lower-case names, and ``keys`` NRRD's
    ``key:=value`` pairs.
    """

    fmt: str
    sizes: tuple[int, ...]
    itemsize: int
    components: int
    encoding: str  # raw | gzip | bzip2 | zlib | text | hex
    data_path: Path
    data_offset: int
    detached: bool = False
    fields: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return math.prod(self.sizes) * self.itemsize * self.components


_NRRD_TYPES = {}
for _names, _size in (
    (("signed char", "int8", "int8_t"), 1),
    (("uchar", "unsigned char", "uint8", "uint8_t"), 1),
    (("short", "short int", "signed short", "signed short int", "int16", "int16_t"), 2),
    (("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"), 2),
    (("int", "signed int", "int32", "int32_t"), 4),
    (("uint", "unsigned int", "uint32", "uint32_t"), 4),
    (("longlong", "long long", "long long int", "signed long long", "signed long long int",
      "int64", "int64_t"), 8),
    (("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"), 8),
    (("float",), 4),
    (("double",), 8),
):
    for _n in _names:
        _NRRD_TYPES[_n] = _size

_NRRD_ENCODINGS = {"raw": "raw", "gz": "gzip", "gzip": "gzip", "bz2": "bzip2", "bzip2": "bzip2",
                   "txt": "text", "text": "text", "ascii": "text", "hex": "hex"}

_MET_TYPES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4,
              "MET_UINT": 4, "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8,
              "MET_FLOAT": 4, "MET_DOUBLE": 8}

_NIFTI_BITPIX = {8, 16, 24, 32, 48, 64, 96, 128, 256}


def _damaged(path: Path, message: str) -> InputError:
    return InputError(message, path=path, hint="The file may be truncated, damaged or hostile; nothing was read.")


def _read_text_header(path: Path, size: int, stop: re.Pattern) -> tuple[str, int]:
    """(header text, byte length) up to and including ``stop``'s match, or the whole file if none.

    Refuses a header longer than :data:`limits.MAX_HEADER_BYTES`.
    """
    with open(path, "rb") as fh:
        data = fh.read(64 << 10)
        m = stop.search(data)
        if m is None and len(data) == 64 << 10:
            data += fh.read(limits.MAX_HEADER_BYTES + 1 - len(data))
            m = stop.search(data)
    if m is None:
        if len(data) > limits.MAX_HEADER_BYTES:
            raise _damaged(path, f"its header is longer than {limits.fmt_bytes(limits.MAX_HEADER_BYTES)} "
                                 "(no end of header found)")
        end = len(data)
    else:
        end = m.end()
    return data[:end].decode("latin-1"), end


def _data_file(header: Path, name: str, field_name: str) -> Path:
    """The detached data file ``name`` beside ``header``, checked to stay inside its folder."""
    from surgiplan.core.fileio import check_inside

    name = name.strip()
    if not name:
        raise _damaged(header, f"the {field_name} field is empty")
    limits.check_name(name, field_name, header)
    p = Path(name)
    if p.is_absolute() or ".." in p.parts:
        raise InputError(f"its {field_name} {name!r} lies outside the header's folder; refused, nothing was "
                         "read", path=header, hint="Keep the data file beside its header (a plain name).")
    try:
        target = check_inside(header.parent, p, what="data file")
    except InputError as exc:
        raise InputError(f"its {field_name} {name!r}: {exc.message}", path=header,
                         hint="Keep the data file beside its header, as a real file.") from None
    try:
        st = os.stat(target, follow_symlinks=False)
    except FileNotFoundError:
        raise InputError(f"its {field_name} {name!r} does not exist", path=header,
                         hint="Copy the data file beside the header.") from None
    except OSError as exc:
        raise InputError(f"its {field_name} {name!r} cannot be read ({exc.strerror})", path=header) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"its {field_name} {name!r} is not a regular file; refused", path=header,
                         hint="The header may be hostile; nothing was read.")
    return target


def _nrrd_header(path: Path, size: int) -> VolumeHeader:
    text, end = _read_text_header(path, size, re.compile(rb"\r?\n\r?\n"))
    lines = text.splitlines()
    if not lines or not re.match(r"^NRRD000\d\s*$", lines[0]):
        raise _damaged(path, "not a NRRD file (its first line is not 'NRRD000x')")
    fields: dict[str, str] = {}
    keys: dict[str, str] = {}
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.startswith("#"):
            continue
        if ":=" in line:
            k, v = line.split(":=", 1)
            keys[k] = v
            continue
        if ": " not in line and not line.rstrip().endswith(":"):
            raise _damaged(path, f"header line {n} is not 'field: value'")
        k, v = line.split(":", 1)
        k = re.sub(r"\s+", " ", k.strip().lower())
        fields[k] = v.strip()
        if k in ("data file", "datafile") and (v.split() or [""])[0].upper() == "LIST":
            break  # the file names follow; refused below
    for req in ("type", "dimension", "sizes", "encoding"):
        if req not in fields:
            raise _damaged(path, f"its header has no '{req}' field")
    typ = re.sub(r"\s+", " ", fields["type"].lower())
    if typ not in _NRRD_TYPES:
        raise _damaged(path, f"its voxel type {fields['type'][:40]!r} is not one surgiplan reads")
    dim = limits.parse_int(fields["dimension"], "dimension", path, lo=1, hi=16)
    sizes = tuple(limits.parse_ints(fields["sizes"], "sizes", path, count=dim))
    enc = fields["encoding"].lower()
    if enc not in _NRRD_ENCODINGS:
        raise _damaged(path, f"its encoding {fields['encoding'][:40]!r} is not one surgiplan reads")
    # numbers a header may carry; 'none' marks a non-spatial axis, 'nan' an unknown spacing
    for f, words in (("space directions", ("none",)), ("space origin", ()), ("measurement frame", ()),
                     ("spacings", ("nan",)), ("thicknesses", ("nan",)), ("axis mins", ("nan",)),
                     ("axis maxs", ("nan",))):
        if f in fields:
            for tok in re.split(r"[\s,()]+", fields[f]):
                if tok and tok.lower() not in words:
                    limits.parse_float(tok, f, path)
    skip = limits.parse_int(fields.get("byte skip", fields.get("byteskip", "0")), "byte skip", path, lo=-1)
    limits.parse_int(fields.get("line skip", fields.get("lineskip", "0")), "line skip", path, lo=0)
    data_name = fields.get("data file", fields.get("datafile"))
    if data_name is not None:
        first = data_name.split()[0] if data_name.split() else ""
        if first.upper() == "LIST" or "%" in data_name:
            raise _damaged(path, "its data are split over several files (data file: LIST or a pattern), "
                                 "which surgiplan does not read; convert it to a single .nrrd first")
        data_path = _data_file(path, data_name, "data file")
        offset = skip
    else:
        data_path = path
        offset = end + max(skip, 0) if skip >= 0 else -1
    return VolumeHeader("nrrd", sizes, _NRRD_TYPES[typ], 1, _NRRD_ENCODINGS[enc], data_path, offset,
                        data_name is not None, fields, keys)


def _metaimage_header(path: Path, size: int) -> VolumeHeader:
    text, end = _read_text_header(path, size, re.compile(rb"(?mi)^\s*ElementDataFile\s*=[^\n]*\n?"))
    fields: dict[str, str] = {}
    names: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise _damaged(path, f"header line {n} is not 'Key = Value'")
        k, v = line.split("=", 1)
        fields[k.strip().lower()] = v.strip()
        names[k.strip().lower()] = k.strip()
    if "elementdatafile" not in fields:
        raise _damaged(path, "not a MetaImage file (no ElementDataFile line)")
    for req in ("ndims", "dimsize", "elementtype"):
        if req not in fields:
            raise _damaged(path, f"its header has no '{req}' field")
    ndims = limits.parse_int(fields["ndims"], "NDims", path, lo=1, hi=16)
    sizes = tuple(limits.parse_ints(fields["dimsize"], "DimSize", path, count=ndims))
    etype = fields["elementtype"].upper()
    if etype.endswith("_ARRAY"):
        etype = etype[: -len("_ARRAY")]
    if etype not in _MET_TYPES:
        raise _damaged(path, f"its ElementType {fields['elementtype'][:40]!r} is not one surgiplan reads")
    comps = limits.parse_int(fields.get("elementnumberofchannels", "1"), "ElementNumberOfChannels", path,
                             lo=1, hi=4096)
    for f in ("elementspacing", "elementsize", "offset", "position", "origin", "transformmatrix",
              "rotation", "orientation", "centerofrotation"):
        if f in fields:
            limits.parse_floats(fields[f], names[f], path)
    compressed = fields.get("compresseddata", "false").lower() == "true"
    binary = fields.get("binarydata", "true").lower() == "true"
    encoding = "zlib" if compressed else ("raw" if binary else "text")
    head_size = limits.parse_int(fields.get("headersize", "0"), "HeaderSize", path, lo=-1)
    name = fields["elementdatafile"]
    if name.upper() == "LOCAL":
        data_path, offset, detached = path, end, False
    else:
        first = name.split()[0] if name.split() else ""
        if first.upper() == "LIST" or "%" in name:
            raise _damaged(path, "its data are split over several files (ElementDataFile LIST or a "
                                 "pattern), which surgiplan does not read; convert it to a single .mha first")
        data_path, offset, detached = _data_file(path, name, "ElementDataFile"), head_size, True
    if compressed and "compresseddatasize" in fields:
        limits.parse_int(fields["compresseddatasize"], "CompressedDataSize", path, lo=0)
    return VolumeHeader("metaimage", sizes, _MET_TYPES[etype], comps, encoding, data_path, offset,
                        detached, fields)


def _nifti_header(path: Path, size: int, compressed: bool) -> VolumeHeader:
    try:
        if compressed:
            with gzip.open(path, "rb") as fh:
                raw = fh.read(540)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(540)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise _damaged(path, f"not a readable NIfTI file ({exc})") from None
    if len(raw) < 348:
        raise _damaged(path, f"its NIfTI header is {len(raw)} bytes, shorter than 348: truncated")
    for order in "<>":
        hsize = struct.unpack_from(order + "i", raw, 0)[0]
        if hsize in (348, 540):
            break
    else:
        raise _damaged(path, "not a NIfTI file (its header size field is neither 348 nor 540)")
    if hsize == 348:
        dims = struct.unpack_from(order + "8h", raw, 40)
        bitpix = struct.unpack_from(order + "h", raw, 72)[0]
        vox_offset = struct.unpack_from(order + "f", raw, 108)[0]
    else:
        if len(raw) < 540:
            raise _damaged(path, "its NIfTI-2 header is truncated")
        bitpix = struct.unpack_from(order + "h", raw, 14)[0]
        dims = struct.unpack_from(order + "8q", raw, 16)
        vox_offset = struct.unpack_from(order + "q", raw, 168)[0]
    ndim = dims[0]
    if not 1 <= ndim <= 7:
        raise _damaged(path, f"its NIfTI header gives {ndim} dimensions (1 to 7 expected)")
    if bitpix not in _NIFTI_BITPIX:
        raise _damaged(path, f"its NIfTI header gives {bitpix} bits per voxel, not a type surgiplan reads")
    if not math.isfinite(vox_offset) or vox_offset < hsize or vox_offset > (1 << 40):
        raise _damaged(path, f"its NIfTI voxel offset {vox_offset} is not a sensible byte position")
    return VolumeHeader("nifti", tuple(int(d) for d in dims[1: ndim + 1]), bitpix // 8, 1,
                        "gzip" if compressed else "raw", path, int(vox_offset))


def read_volume_header(path: str | Path) -> VolumeHeader:
    """The header of a NRRD / NIfTI / MetaImage file, parsed and sanity-checked, no voxels read.

    Raises InputError naming the file for an unreadable or implausible header, or a
    detached data file outside the header's folder.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    suffix = volume_suffix(path)
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if suffix in (".nrrd", ".nhdr") or magic.startswith(b"NRRD"):
        return _nrrd_header(path, size)
    if suffix in (".mha", ".mhd"):
        return _metaimage_header(path, size)
    if suffix in (".nii", ".nii.gz"):
        return _nifti_header(path, size, magic[:2] == b"\x1f\x8b")
    raise InputError(f"not a volume file (expected one of {', '.join(VOLUME_SUFFIXES)})", path=path)


def check_volume_file(path: str | Path, what: str = "the volume", copies: float = 2.0) -> VolumeHeader:
    """:func:`read_volume_header` plus the size checks: claimed data vs the file's real size and the budget.

    ``copies``: how many arrays of the claimed size reading makes (ITK's image and
    numpy's copy: 2). Raises InputError with the numbers.
    """
    path = Path(path)
    hdr = read_volume_header(path)
    shape = " x ".join(map(str, hdr.sizes))
    limits.check_grid(hdr.sizes, hdr.itemsize * hdr.components, what, path, copies=copies)
    need = hdr.nbytes
    data_size = hdr.data_path.stat().st_size
    available = data_size if hdr.data_offset < 0 else data_size - hdr.data_offset
    where = f"its data file {hdr.data_path.name}" if hdr.detached else "the file"
    claim = (f"the header claims {shape} voxels of {hdr.itemsize * hdr.components} bytes "
             f"({limits.fmt_bytes(need)})")
    if hdr.encoding == "raw" and available < need:
        raise _damaged(path, f"{claim} but {where} holds only {limits.fmt_bytes(max(available, 0))} of "
                             "voxel data: it is truncated or its header lies")
    if hdr.encoding in ("gzip", "zlib") and need > DEFLATE_MAX_RATIO * max(available, 0) + (64 << 10):
        raise _damaged(path, f"{claim} but {where} holds only {limits.fmt_bytes(max(available, 0))} of "
                             f"compressed data, which cannot expand that far (at most "
                             f"{DEFLATE_MAX_RATIO}:1): it is truncated or its header lies")
    if hdr.encoding == "text" and math.prod(hdr.sizes) * hdr.components > (max(available, 0) + 1) // 2 + 1:
        raise _damaged(path, f"{claim} but {where} holds only {limits.fmt_bytes(max(available, 0))} of "
                             "text, too little for that many numbers")
    if hdr.encoding == "hex" and 2 * need > max(available, 0):
        raise _damaged(path, f"{claim} but {where} holds only {limits.fmt_bytes(max(available, 0))} of "
                             "hex text")
    return hdr


def check_regular_input(path: Path, kind: str = "volume") -> None:
    """InputError naming ``path`` unless it is an existing, non-empty regular file."""
    if not path.exists():
        raise InputError("file not found", path=path, hint="Check the path.")
    if path.is_dir():
        raise InputError(f"is a folder, not a {kind} file", path=path, hint="Give the file inside it.")
    if not path.is_file():
        raise InputError("is not a regular file (a device or a pipe?)", path=path,
                         hint="Give a volume file.")
    if path.stat().st_size == 0:
        raise InputError("the file is empty", path=path)


def sitk_read(path: Path, what: str = "the volume"):
    """``SimpleITK.ReadImage`` with ITK's warnings silenced and its errors as one InputError line."""
    import SimpleITK as sitk

    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        return sitk.ReadImage(str(path))
    except (RuntimeError, MemoryError) as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        first = lines[-1] if lines else "unknown reason"
        first = re.sub(r"^.*?(itk::ERROR|ERROR):\s*", "", first)[:300]
        raise InputError(f"cannot read {what} ({first})", path=path,
                         hint="The file may be truncated or damaged.") from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def read_volume(path: str | Path) -> Volume:
    """Read a NRRD / NIfTI / MHA volume into LPS millimetres.

    Raises :class:`InputError` naming the file when it is missing, of an unknown
    type, unreadable, or when its header claims more than it holds or than the
    memory budget allows (checked before anything is allocated).
    """
    import SimpleITK as sitk

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path=path, hint="Check the path.")
    if volume_suffix(path) not in VOLUME_SUFFIXES:
        raise InputError(
            f"not a volume file (expected one of {', '.join(VOLUME_SUFFIXES)})", path=path
        )
    check_regular_input(path)
    check_volume_file(path)
    img = sitk_read(path)
    if img.GetDimension() == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
    elif img.GetDimension() == 2:
        img = sitk.JoinSeries(img)
    meta = {"source": str(path)}
    for key in img.GetMetaDataKeys():
        if key in ("modality", "surgiplan_modality"):
            meta["modality"] = img.GetMetaData(key)
    try:
        return from_sitk(img, meta, take=True)  # the image read here is used by nobody else: no copy
    except SurgiplanError as exc:
        raise InputError(exc.message, path=path) from None


# ------------------------------------------------------------------ writing
def _gzip_isize(path: Path) -> int | None:
    """The uncompressed size mod 2^32 a gzip stream ending at the end of ``path`` records."""
    with open(path, "rb") as fh:
        fh.seek(-4, os.SEEK_END)
        tail = fh.read(4)
    return struct.unpack("<I", tail)[0] if len(tail) == 4 else None


def check_written_volume(path: str | Path, image) -> None:
    """InputError unless the volume file ``path`` reads back as ``image``'s grid with all its data.

    Reads ITK's header information (size, spacing, origin, direction, values per
    voxel) and checks the data's length: the exact byte count for raw data, the
    recorded uncompressed size of a gzip stream, ``CompressedDataSize`` of a
    compressed MetaImage. Used as ``verify`` by the writers of volumes and segmentations.
    """
    import SimpleITK as sitk

    path = Path(path)
    hdr = read_volume_header(path)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        raise InputError(f"its header does not read back ({str(exc).strip().splitlines()[-1][:200]})",
                         path=path) from None
    want = image.GetSize()
    got = reader.GetSize()
    n_want = math.prod(want) * image.GetNumberOfComponentsPerPixel()
    n_got = math.prod(got) * reader.GetNumberOfComponents()
    if tuple(got[:3]) != tuple(want[:3]) or n_got != n_want:
        raise InputError(f"it reads back as {got} x {reader.GetNumberOfComponents()} values instead of "
                         f"{want} x {image.GetNumberOfComponentsPerPixel()}", path=path)
    if not np.allclose(reader.GetSpacing()[:3], image.GetSpacing()[:3], rtol=1e-6, atol=1e-9) or \
            not np.allclose(reader.GetOrigin()[:3], image.GetOrigin()[:3], rtol=1e-6, atol=1e-6):
        raise InputError("its spacing or origin reads back differently from what was written", path=path)
    d_got = np.asarray(reader.GetDirection()).reshape(reader.GetDimension(), -1)[:3, :3]
    d_want = np.asarray(image.GetDirection()).reshape(image.GetDimension(), -1)[:3, :3]
    if not np.allclose(d_got, d_want, atol=1e-6):
        raise InputError("its direction reads back differently from what was written", path=path)
    size = hdr.data_path.stat().st_size
    available = size - max(hdr.data_offset, 0)
    if hdr.encoding == "raw" and available != hdr.nbytes:
        raise InputError(f"it holds {available} bytes of voxel data instead of {hdr.nbytes}", path=path)
    if hdr.encoding == "gzip":
        total = hdr.nbytes + (hdr.data_offset if hdr.fmt == "nifti" else 0)
        isize = _gzip_isize(hdr.data_path)
        if isize != total % (1 << 32):
            raise InputError("its compressed data are incomplete (the gzip stream's recorded size is "
                             f"{isize}, expected {total % (1 << 32)})", path=path)
    if hdr.encoding == "zlib" and "compresseddatasize" in hdr.fields:
        if int(hdr.fields["compresseddatasize"]) != available:
            raise InputError(f"it holds {available} bytes of compressed data instead of "
                             f"{hdr.fields['compresseddatasize']}", path=path)


def need_bytes_for(image) -> int:
    """Free space to ask before writing ``image``: its uncompressed size (+ gzip's worst case) + 64 KiB."""
    n = math.prod(image.GetSize()) * image.GetNumberOfComponentsPerPixel() * image.GetSizeOfPixelComponent()
    return n + n // 500 + (64 << 10)


def _sitk_write(image, tmp: Path, compress: bool) -> None:
    import SimpleITK as sitk

    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        sitk.WriteImage(image, str(tmp), useCompression=compress)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
        raise OSError(f"ITK could not write the file ({(lines[-1] if lines else 'unknown reason')[:200]})") \
            from None
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def write_image_file(image, path: str | Path, *, compress: bool = True, after_write=None) -> Path:
    """Write a SimpleITK ``image`` to ``path`` through the one write path, checked (see the module docstring).

    ``after_write(tmp)`` may adjust the written temporary file (e.g. a header field)
    before it is verified. A ``.nhdr`` / ``.mhd`` target gets its data file beside it.
    Raises :class:`surgiplan.core.fileio.WriteError`; the previous file is then unchanged.
    """
    from surgiplan.core.fileio import atomic_write

    path = Path(path)
    need = need_bytes_for(image)

    def verify(tmp: Path) -> None:
        check_written_volume(tmp, image)

    if volume_suffix(path) in (".nhdr", ".mhd"):
        return _write_detached(image, path, compress, need, verify, after_write)

    def writer(tmp: Path) -> None:
        _sitk_write(image, tmp, compress)
        if after_write is not None:
            after_write(tmp)

    return atomic_write(path, writer, verify=verify, need_bytes=need)


def _write_detached(image, path: Path, compress: bool, need: int, verify, after_write) -> Path:
    """A header + data file pair: the data file is committed first, then the header naming it."""
    from surgiplan.core.fileio import atomic_write

    nrrd = volume_suffix(path) == ".nhdr"

    def writer(tmp_header: Path) -> None:
        stem = tmp_header.name[: -len(tmp_header.suffix)]
        try:
            _sitk_write(image, tmp_header, compress)
        except BaseException:
            for name in os.listdir(tmp_header.parent):  # ITK's half-written data file
                if name.startswith(stem) and name != tmp_header.name:
                    (tmp_header.parent / name).unlink(missing_ok=True)
            raise
        hdr_text = tmp_header.read_text("latin-1")
        pat = r"(?m)^(data file: )(.*)$" if nrrd else r"(?m)^(ElementDataFile = )(.*)$"
        m = re.search(pat, hdr_text)
        if m is None:
            raise OSError("ITK wrote no data file name into the header")
        written = tmp_header.parent / m.group(2).strip()
        try:
            tail = written.name[len(stem):]
            final = path.with_name(path.name[: -len(path.suffix)] + tail)
            size = written.stat().st_size

            def move(tmp_data: Path) -> None:
                os.replace(written, tmp_data)

            atomic_write(final, move, expect_size=size, min_size=0, need_bytes=0)
        finally:
            if written.exists():
                written.unlink()
        new_text = hdr_text[: m.start(2)] + final.name + hdr_text[m.end(2):]
        with open(tmp_header, "w", encoding="latin-1", newline="") as fh:
            fh.write(new_text)
        if after_write is not None:
            after_write(tmp_header)

    return atomic_write(path, writer, verify=verify, need_bytes=need)


def write_volume(volume: Volume, path: str | Path, *, compress: bool = True) -> Path:
    """Write ``volume`` to ``path`` (.nrrd, .nhdr, .nii, .nii.gz, .mha, .mhd) atomically, checked.

    NRRD and MHA store LPS directly; NIfTI stores RAS (ITK converts). Returns the
    path; raises WriteError (previous file unchanged) when the disk is full or the
    written file does not read back.
    """
    path = Path(path)
    suffix = volume_suffix(path)
    if suffix not in VOLUME_SUFFIXES:
        raise InputError(
            f"unknown volume format '{suffix}' (use .nrrd, .nii.gz or .mha)", path=path
        )
    img = to_sitk(volume)
    if "modality" in volume.metadata:
        img.SetMetaData("surgiplan_modality", str(volume.metadata["modality"]))
    return write_image_file(img, path, compress=compress)
