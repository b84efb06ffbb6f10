"""One DICOM file's header, read fast: what discovery and the loader need per frame.

A :class:`FrameHeader` describes one 2D image (one file, or one frame of a
multi-frame file): where it is (LPS mm), how its pixels are stored and where
in the file they start, so that uncompressed pixel data can later be read
straight into a preallocated array without parsing the file again.

Reading uses pydicom with ``stop_before_pixels`` and ``specific_tags`` (about
1 ms a file). Positions are never taken from file names or InstanceNumber.
"""

from __future__ import annotations

import math
import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.dicom_fastheader import read_fast_header, text, ushort

#: Transfer syntaxes whose pixel data are stored uncompressed in the file (read directly).
NATIVE_SYNTAXES = {
    "1.2.840.10008.1.2": ("implicit", "<"),
    "1.2.840.10008.1.2.1": ("explicit", "<"),
    "1.2.840.10008.1.2.2": ("explicit", ">"),
}
DEFLATE_SYNTAX = "1.2.840.10008.1.2.1.99"
UNDEFINED_LENGTH = 0xFFFFFFFF

#: SOP classes that carry no image (structured reports, presentation states, ...).
NON_IMAGE_SOP_PREFIXES = (
    "1.2.840.10008.5.1.4.1.1.88.",  # structured reports
    "1.2.840.10008.5.1.4.1.1.11.",  # presentation states
    "1.2.840.10008.5.1.4.1.1.481.",  # RT objects
    "1.2.840.10008.5.1.4.1.1.104.",  # encapsulated PDF / CDA
    "1.2.840.10008.5.1.4.1.1.66",  # raw data, registration, segmentation-free fiducials
    "1.2.840.10008.5.1.4.1.1.9.",  # waveforms
    "1.2.840.10008.1.3.10",  # media storage directory (DICOMDIR)
)
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"

_HEADER_KEYWORDS = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "StudyID",
    "AccessionNumber",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "Modality",
    "Manufacturer",
    "BodyPartExamined",
    "ImageType",
    "InstanceNumber",
    "AcquisitionNumber",
    "EchoNumbers",
    "TemporalPositionIdentifier",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "RescaleSlope",
    "RescaleIntercept",
    "WindowCenter",
    "WindowWidth",
    "NumberOfFrames",
    "GantryDetectorTilt",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    "DirectoryRecordSequence",
)
_HEADER_TAGS = [Tag(k) for k in _HEADER_KEYWORDS]


@dataclass(frozen=True)
class FrameHeader:
    """One 2D image of a series: geometry (LPS mm) and how its pixels are stored.

    ``position`` is ImagePositionPatient (centre of the first transmitted pixel),
    ``orientation`` the 6 direction cosines (row direction, then column
    direction), ``pixel_spacing`` is (row spacing, column spacing) in mm as in
    DICOM, i.e. (spacing along j, spacing along i).
    """

    path: Path
    frame: int  # index of the frame in a multi-frame file, 0 otherwise
    n_frames: int
    sop_class_uid: str
    sop_instance_uid: str
    study_uid: str
    series_uid: str
    transfer_syntax: str
    modality: str
    image_type: tuple[str, ...]
    instance_number: int | None
    acquisition_number: int | None
    echo_number: float | None
    rows: int
    cols: int
    bits_allocated: int
    bits_stored: int
    pixel_representation: int
    samples_per_pixel: int
    photometric: str
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    slope: float
    intercept: float
    window: tuple[float, float] | None
    gantry_tilt_deg: float
    pixel_keyword: str | None  # PixelData, FloatPixelData, DoubleFloatPixelData or None
    pixel_value_offset: int  # byte offset of the pixel data value in the file (-1: unknown)
    pixel_value_length: int  # bytes, or UNDEFINED_LENGTH when encapsulated

    @property
    def has_pixels(self) -> bool:
        return self.pixel_keyword is not None

    @property
    def is_native(self) -> bool:
        """Pixel data uncompressed at a known offset: can be read with one seek + readinto."""
        return (
            self.transfer_syntax in NATIVE_SYNTAXES
            and self.pixel_value_offset >= 0
            and self.pixel_value_length != UNDEFINED_LENGTH
            and self.samples_per_pixel == 1
            and self.bits_allocated in (8, 16, 32, 64)
        )

    @property
    def frame_nbytes(self) -> int:
        return self.rows * self.cols * self.samples_per_pixel * self.bits_allocated // 8

    @property
    def stored_dtype(self) -> np.dtype:
        """numpy dtype of the stored values (native byte order)."""
        if self.pixel_keyword == "FloatPixelData":
            return np.dtype(np.float32)
        if self.pixel_keyword == "DoubleFloatPixelData":
            return np.dtype(np.float64)
        kind = "i" if self.pixel_representation == 1 else "u"
        return np.dtype(f"{kind}{max(self.bits_allocated, 8) // 8}")

    @property
    def is_localizer(self) -> bool:
        return "LOCALIZER" in self.image_type

    @property
    def normal(self) -> np.ndarray | None:
        """Unit slice normal (row x column direction), LPS."""
        if self.orientation is None:
            return None
        r = np.asarray(self.orientation[:3])
        c = np.asarray(self.orientation[3:])
        n = np.cross(r, c)
        norm = np.linalg.norm(n)
        return n / norm if norm > 0 else None


_BINARY_INT = {"US": "H", "SS": "h", "UL": "I", "SL": "i"}
_BINARY_FLOAT = {"FL": "f", "FD": "d"}


class _Fast:
    """Reads plain values of a header without pydicom's per-element conversion (hot path).

    Falls back to ``Dataset.get`` for anything already converted or unusual.
    """

    def __init__(self, ds: pydicom.Dataset) -> None:
        self.ds = ds
        self.d = ds._dict

    def raw(self, keyword: str):
        tag = _TAG_OF[keyword]
        elem = self.d.get(tag)
        if elem is None:
            return None
        if not isinstance(elem, RawDataElement) or elem.value is None:
            return self.ds.get(keyword)
        vr = elem.VR or dictionary_VR(tag)
        b = elem.value
        if vr in _BINARY_INT or vr in _BINARY_FLOAT:
            code = _BINARY_INT.get(vr) or _BINARY_FLOAT[vr]
            size = struct.calcsize(code)
            n = len(b) // size
            if n == 0:
                return None
            vals = struct.unpack(("<" if elem.is_little_endian else ">") + code * n, b[: n * size])
            return vals[0] if n == 1 else list(vals)
        if vr in ("SQ", "OB", "OW", "UN", "AT", "PN", "LO", "SH", "LT", "ST", "UT"):
            return self.ds.get(keyword)  # text with character sets, sequences: let pydicom decode
        text = b.decode("latin-1").strip("\x00 ")
        if "\\" in text:
            return [t.strip() for t in text.split("\\")]
        return text


_TAG_OF: dict[str, int] = {k: int(Tag(k)) for k in _HEADER_KEYWORDS}
_WANTED = {t for k, t in _TAG_OF.items() if not k.endswith("Sequence")}
_US_TAGS = {
    _TAG_OF[k]
    for k in (
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "HighBit",
        "PixelRepresentation",
        "SamplesPerPixel",
        "PlanarConfiguration",
    )
}


def _num(value, default=None, cast=float):
    if value is None or value == "":
        return default
    try:
        if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
            value = value[0]
        return int(float(value)) if cast is int else cast(value)
    except (TypeError, ValueError):
        return default


def _as_list(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple, pydicom.multival.MultiValue)):
        return list(value)
    return [value]


#: coordinates beyond this (mm, a kilometre) are damaged values, not patient positions
MAX_COORDINATE_MM = 1e6


def _vec(value, n: int, limit: float = MAX_COORDINATE_MM) -> tuple[float, ...] | None:
    """``n`` finite floats no larger than ``limit`` in magnitude, or None (absent/damaged)."""
    try:
        if value is None or len(value) != n:
            return None
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if all(math.isfinite(v) and abs(v) <= limit for v in out) else None


def _spacing(*values) -> tuple[float, float] | None:
    """The first present pixel spacing of ``values``; (nan, nan) when it is damaged.

    Absent spacing is None (the loader assumes 1 mm and says so); a present but
    unreadable or non-finite one is kept as NaN so that the loader refuses it instead of
    quietly assuming a size.
    """
    for value in values:
        if value is None or value == "" or value == []:
            continue
        sp = _vec(value, 2, math.inf)
        return sp if sp is not None else (math.nan, math.nan)
    return None


def _item(seq_parent, keyword: str):
    """First item of ``keyword`` sequence in ``seq_parent`` or None."""
    if seq_parent is None:
        return None
    seq = seq_parent.get(keyword)
    if not seq:
        return None
    return seq[0]


def _fg(shared, per_frame, keyword: str, attr: str):
    """A functional-group attribute: per-frame item first, then shared."""
    for parent in (per_frame, shared):
        it = _item(parent, keyword)
        if it is not None and attr in it:
            return it.get(attr)
    return None


def _drop_undecodable(ds: pydicom.Dataset) -> None:
    """Convert every element of ``ds`` now and delete those pydicom cannot convert.

    pydicom converts lazily, on first access: a flipped byte (an unknown VR such as
    'HO', a length that is no multiple of the value size, a broken nested sequence)
    would otherwise raise wherever the value is first used. For series-level text
    (names, descriptions) an undecodable value simply counts as absent.
    """
    for tag in list(ds.keys()):
        try:
            elem = ds[tag]  # converts the raw element
            if elem.VR == "SQ":
                for item in elem.value:
                    _drop_undecodable(item)
        except Exception:  # noqa: BLE001 - pydicom raises many kinds on hostile input
            del ds[tag]


def looks_like_dicom(path: Path) -> bool:
    """True when the file has the 'DICM' magic at byte 128 (Part 10 file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _pixel_element(fp, syntax: str, offset: int) -> tuple[str | None, int, int]:
    """Parse the pixel element header at ``offset``: (keyword, value offset, value length)."""
    names = {
        0x7FE00010: "PixelData",
        0x7FE00008: "FloatPixelData",
        0x7FE00009: "DoubleFloatPixelData",
    }
    if syntax not in NATIVE_SYNTAXES and syntax != DEFLATE_SYNTAX:
        # encapsulated or unknown: offsets are still valid (no deflate) but value is fragmented
        vr_kind, endian = "explicit", "<"
    elif syntax == DEFLATE_SYNTAX:
        return None, -1, UNDEFINED_LENGTH
    else:
        vr_kind, endian = NATIVE_SYNTAXES[syntax]
    fp.seek(offset)
    head = fp.read(12)
    if len(head) < 8:
        return None, -1, 0
    group, elem = struct.unpack(endian + "HH", head[:4])
    tag = (group << 16) | elem
    if tag not in names:
        return None, -1, 0
    if vr_kind == "implicit":
        (length,) = struct.unpack(endian + "I", head[4:8])
        return names[tag], offset + 8, length
    vr = head[4:6]
    if vr in (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN"):
        if len(head) < 12:
            return names[tag], -1, 0
        (length,) = struct.unpack(endian + "I", head[8:12])
        return names[tag], offset + 12, length
    (length,) = struct.unpack(endian + "H", head[6:8])
    return names[tag], offset + 8, length


def read_frame_headers(path: Path) -> tuple[list[FrameHeader], pydicom.Dataset | None]:
    """Header-only read of one file: a FrameHeader per frame and the (pixel-less) dataset.

    The dataset is None when the lean parser read the file (use
    :func:`read_series_dataset` for series-level text such as names).

    Raises :class:`InputError` naming the file when it is not DICOM, empty or unreadable.
    Files without pixel data return an empty list (e.g. SR, DICOMDIR).
    """
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY)  # hot path: no file object for the first chunk
        try:
            size = os.fstat(fd).st_size
            chunk = os.read(fd, _FAST_CHUNK) if size else b""
        finally:
            os.close(fd)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    if size == 0:
        raise InputError("the file is empty (0 bytes)", path=path)
    try:
        fast = read_fast_header(chunk, _WANTED)
    except (struct.error, ValueError):
        fast = None
    if fast is not None and fast.pixel_keyword is not None:
        return _frames_fast(path, fast, size), None
    try:
        fp = open(path, "rb")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=path) from None
    try:
        with fp:
            head = fp.read(132)
            magic = len(head) == 132 and head[128:132] == b"DICM"
            fp.seek(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pydicom's notes on odd VRs etc.
                ds = pydicom.dcmread(
                    fp, stop_before_pixels=True, specific_tags=_HEADER_TAGS, force=not magic
                )
            pix_start = fp.tell()
            syntax = str(getattr(ds.file_meta, "TransferSyntaxUID", "") or "")
            if not magic:
                # a raw dataset without Part 10 header must at least look like an instance
                if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
                    raise InputError("not a DICOM file (no DICM marker, no SOP header)", path=path)
                if not syntax:
                    syntax = "1.2.840.10008.1.2" if ds.is_implicit_VR else "1.2.840.10008.1.2.1"
            if syntax == DEFLATE_SYNTAX:
                # pydicom inflated the body into its own buffer: offsets are meaningless here
                keyword, value_off, value_len = (
                    ("PixelData", -1, UNDEFINED_LENGTH) if "Rows" in ds else (None, -1, 0)
                )
            elif pix_start < size:
                keyword, value_off, value_len = _pixel_element(fp, syntax, pix_start)
            else:
                keyword, value_off, value_len = None, -1, 0
            if keyword is None:
                _no_pixels(path, ds)
                return [], ds
            frames = _frames_from_dataset(path, ds, syntax, keyword, value_off, value_len)
    except InputError:
        raise
    except (InvalidDicomError, EOFError, struct.error) as exc:
        raise InputError(f"not a DICOM file or its header is damaged ({exc})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc})", path=path) from None
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds on hostile input
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise InputError(
            f"the DICOM header cannot be parsed ({type(exc).__name__}"
            f"{': ' + detail if detail else ''})",
            path=path,
            hint="The file is damaged; re-export it from the scanner or PACS.",
        ) from None
    _check_native_length(path, frames[0], size)
    return frames, ds


def _no_pixels(path: Path, ds: pydicom.Dataset) -> None:
    """InputError for an image header without pixel data (a truncated file); None otherwise."""
    sop = str(ds.get("SOPClassUID", "") or "")
    image_sop = sop.startswith("1.2.840.10008.5.1.4.1.1.") and not sop.startswith(
        NON_IMAGE_SOP_PREFIXES
    )
    if image_sop and not ("Rows" in ds and "Columns" in ds):
        raise InputError(
            "no pixel data and an incomplete header: the file looks truncated "
            "(an image SOP class without Rows/Columns or Pixel Data)",
            path=path,
        )
    if "Rows" in ds and "Columns" in ds:
        raise InputError(
            "no pixel data: the image header has Rows/Columns but no Pixel Data element",
            path=path,
        )


_FAST_CHUNK = 16384


def _frames_fast(path: Path, fast, size: int) -> list[FrameHeader]:
    """FrameHeaders from the lean parser's values (same checks as the pydicom path)."""

    def g(keyword: str):
        tag = _TAG_OF[keyword]
        raw = fast.get(tag)
        if raw is None:
            return None
        if tag in _US_TAGS:
            return ushort(raw, fast.little)
        return text(raw)

    frames = _frames_from_dataset(
        path,
        None,
        fast.transfer_syntax,
        fast.pixel_keyword,
        fast.pixel_value_offset,
        fast.pixel_value_length,
        getter=g,
    )
    _check_native_length(path, frames[0], size)
    return frames


def _check_native_length(path: Path, h: FrameHeader, file_size: int) -> None:
    """Refuse uncompressed pixel data shorter than the header promises (cheap, no read)."""
    if h.pixel_value_length == UNDEFINED_LENGTH or h.pixel_value_offset < 0:
        return
    need = h.frame_nbytes * h.n_frames
    if h.pixel_value_length < need:
        raise InputError(
            f"pixel data holds {h.pixel_value_length} bytes but Rows x Columns x "
            f"BitsAllocated/8 x frames = {h.rows} x {h.cols} x {h.bits_allocated // 8} x "
            f"{h.n_frames} needs {need} bytes (header and pixels disagree)",
            path=path,
            hint="The file is damaged; re-export it from the scanner or PACS.",
        )
    available = file_size - h.pixel_value_offset
    if available < need:
        raise InputError(
            f"the file is truncated: pixel data needs {need} bytes but the file ends "
            f"after {max(available, 0)}",
            path=path,
            hint="Copy the file again from its source.",
        )


def _check_image_header(
    path,
    rows,
    cols,
    bits_alloc,
    bits_stored,
    samples,
    pixel_rep,
    n_frames,
    value_off,
    value_len,
    syntax,
) -> None:
    """Refuse an image description no real file has, before anything is sized from it.

    Rows x Columns x samples x frames must be positive, the bit depths and sample counts
    ones DICOM allows, and the frames must fit the pixel data element: uncompressed
    frames need their bytes, each compressed frame at least one 8-byte fragment header.
    A damaged or hostile header (NumberOfFrames 2^31 in a 4 KB file) stops here, naming
    the file, instead of sizing arrays or frame lists from it.
    """
    damaged = "The file is damaged; re-export it from the scanner or PACS."
    if rows <= 0 or cols <= 0:
        raise InputError(f"the image header says {cols} x {rows} pixels", path=path, hint=damaged)
    if bits_alloc not in (1, 8, 16, 32, 64) or not 1 <= bits_stored <= bits_alloc:
        raise InputError(
            f"the image header's bit depth is impossible (BitsAllocated {bits_alloc}, "
            f"BitsStored {bits_stored})",
            path=path,
            hint=damaged,
        )
    if samples not in (1, 3, 4) or pixel_rep not in (0, 1):
        raise InputError(
            f"the image header is damaged (SamplesPerPixel {samples}, "
            f"PixelRepresentation {pixel_rep})",
            path=path,
            hint=damaged,
        )
    if value_len == UNDEFINED_LENGTH or syntax not in NATIVE_SYNTAXES:
        # encapsulated: one item header (8 bytes) per frame at the very least
        try:
            room = os.path.getsize(path) - max(value_off, 0)
        except OSError:
            return
        if n_frames > max(room // 8, 1):
            raise InputError(
                f"NumberOfFrames is {n_frames} but the file has room for at most "
                f"{max(room // 8, 1)} compressed frames (header and pixels disagree)",
                path=path,
                hint=damaged,
            )
        return
    frame_bytes = rows * cols * samples * bits_alloc // 8
    if frame_bytes * n_frames > value_len:
        raise InputError(
            f"pixel data holds {value_len} bytes but Rows x Columns x SamplesPerPixel x "
            f"frames = {rows} x {cols} x {samples} x {n_frames} at {bits_alloc} bits needs "
            f"{frame_bytes * n_frames} bytes (header and pixels disagree)",
            path=path,
            hint=damaged,
        )


def _check_rescale(path, slope: float, intercept: float, bits_stored: int) -> None:
    """Refuse a rescale that makes NaN, infinities or a constant image out of the pixels."""
    big = abs(slope) * 2.0 ** min(bits_stored, 64) + abs(intercept)
    if not (math.isfinite(slope) and math.isfinite(intercept)) or slope == 0 or big > 1e38:
        raise InputError(
            f"the rescale is damaged (RescaleSlope {slope:g}, RescaleIntercept {intercept:g}): "
            "pixel values would be lost or not finite",
            path=path,
            hint="Re-export the file from the scanner or PACS.",
        )


def _frames_from_dataset(
    path, ds, syntax, keyword, value_off, value_len, getter=None
) -> list[FrameHeader]:
    g = getter or _Fast(ds).raw
    try:
        rows = int(g("Rows"))
        cols = int(g("Columns"))
    except (AttributeError, TypeError, ValueError):
        raise InputError("image header without valid Rows/Columns", path=path) from None
    bits_alloc = _num(g("BitsAllocated"), 16, int)
    if keyword == "FloatPixelData":
        bits_alloc = 32
    elif keyword == "DoubleFloatPixelData":
        bits_alloc = 64
    bits_stored = _num(g("BitsStored"), bits_alloc, int)
    n_frames = max(_num(g("NumberOfFrames"), 1, int) or 1, 1)
    samples = _num(g("SamplesPerPixel"), 1, int)
    pixel_rep = _num(g("PixelRepresentation"), 0, int)
    _check_image_header(
        path,
        rows,
        cols,
        bits_alloc,
        bits_stored,
        samples,
        pixel_rep,
        n_frames,
        value_off,
        value_len,
        syntax,
    )
    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame_seq = (ds.get("PerFrameFunctionalGroupsSequence") if ds is not None else None) or []
    base = dict(
        path=path,
        n_frames=n_frames,
        sop_class_uid=str(g("SOPClassUID") or ""),
        sop_instance_uid=str(g("SOPInstanceUID") or ""),
        study_uid=str(g("StudyInstanceUID") or ""),
        series_uid=str(g("SeriesInstanceUID") or ""),
        transfer_syntax=syntax,
        modality=str(g("Modality") or "OT"),
        image_type=tuple(str(v).upper() for v in (_as_list(g("ImageType")))),
        instance_number=_num(g("InstanceNumber"), None, int),
        acquisition_number=_num(g("AcquisitionNumber"), None, int),
        echo_number=_num(g("EchoNumbers"), None, float),
        rows=rows,
        cols=cols,
        bits_allocated=bits_alloc,
        bits_stored=bits_stored,
        pixel_representation=pixel_rep,
        samples_per_pixel=samples,
        photometric=str(g("PhotometricInterpretation") or "MONOCHROME2"),
        gantry_tilt_deg=_num(g("GantryDetectorTilt"), 0.0, float),
        pixel_keyword=keyword,
        pixel_value_offset=value_off,
        pixel_value_length=value_len,
    )
    top_pos = _vec(g("ImagePositionPatient"), 3)
    top_ori = _vec(g("ImageOrientationPatient"), 6, 1.5)
    top_sp = _spacing(g("PixelSpacing"), g("ImagerPixelSpacing"))
    top_th = _num(g("SliceThickness"))
    top_sbs = _num(g("SpacingBetweenSlices"))
    top_slope = _num(g("RescaleSlope"), 1.0) or 1.0
    top_inter = _num(g("RescaleIntercept"), 0.0)
    wc, ww = _num(g("WindowCenter")), _num(g("WindowWidth"))
    top_win = (wc, ww) if wc is not None and ww else None
    frames = []
    for f in range(n_frames):
        pf = per_frame_seq[f] if f < len(per_frame_seq) else None
        if shared is None and pf is None:
            pos, ori, sp, th = top_pos, top_ori, top_sp, top_th
            slope, inter, win, sbs = top_slope, top_inter, top_win, top_sbs
        else:
            pos = (
                _vec(_fg(shared, pf, "PlanePositionSequence", "ImagePositionPatient"), 3) or top_pos
            )
            ori = (
                _vec(_fg(shared, pf, "PlaneOrientationSequence", "ImageOrientationPatient"), 6, 1.5)
                or top_ori
            )
            sp = _spacing(_fg(shared, pf, "PixelMeasuresSequence", "PixelSpacing")) or top_sp
            th = _num(_fg(shared, pf, "PixelMeasuresSequence", "SliceThickness")) or top_th
            sbs = _num(_fg(shared, pf, "PixelMeasuresSequence", "SpacingBetweenSlices")) or top_sbs
            s = _num(_fg(shared, pf, "PixelValueTransformationSequence", "RescaleSlope"))
            i = _num(_fg(shared, pf, "PixelValueTransformationSequence", "RescaleIntercept"))
            slope = s if s else top_slope
            inter = i if i is not None else top_inter
            c = _num(_fg(shared, pf, "FrameVOILUTSequence", "WindowCenter"))
            w = _num(_fg(shared, pf, "FrameVOILUTSequence", "WindowWidth"))
            win = (c, w) if c is not None and w else top_win
        _check_rescale(path, float(slope), float(inter), bits_stored)
        frames.append(
            FrameHeader(
                frame=f,
                position=pos,
                orientation=ori,
                pixel_spacing=sp,
                slice_thickness=th,
                spacing_between_slices=sbs,
                slope=float(slope),
                intercept=float(inter),
                window=win,
                **base,
            )
        )
    return frames


_SERIES_KEYWORDS = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "Modality",
    "BodyPartExamined",
    "ContrastBolusAgent",
    "SpecificCharacterSet",
]


def read_series_dataset(path: Path) -> pydicom.Dataset | None:
    """Series-level header values of one file via pydicom (character sets decoded)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=_SERIES_KEYWORDS, force=True
            )
            _drop_undecodable(ds)  # undecodable text: left out
            return ds
    except Exception:  # noqa: BLE001 - the series text is optional; the frames were read
        return None
