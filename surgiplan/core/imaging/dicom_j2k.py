"""JPEG 2000 frames decoded by imagecodecs (OpenJPEG) with the GIL released: threads decode in parallel.

pydicom's JPEG 2000 plugin (pylibjpeg-openjpeg) holds the GIL and is built
without OpenJPEG's threads, so parallel decoding needed worker processes whose
start-up (imports) and pipe traffic cost about 1 s of CPU for a series.
imagecodecs' ``jpeg2k_decode`` releases the GIL: a thread pool in this process
decodes one frame per core with no start-up and writes into the output directly.

:func:`decode_j2k_frame` returns exactly what ``pydicom.pixels.pixel_array``
returns for the frame (same container dtype and sign correction, see
``pydicom.pixels.decoders.base._apply_sign_correction``); it only takes the
common case (single-frame file, one sample, monochrome, 8/16 bits allocated) and
:func:`fast_j2k` says when it applies. Everything else goes through pydicom.
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.dicom_headers import UNDEFINED_LENGTH, FrameHeader

J2K_SYNTAXES = ("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91")

try:  # a pinned dependency; without it the pydicom path decodes everything
    import imagecodecs

    _AVAILABLE = bool(imagecodecs.JPEG2K.available)
except (ImportError, AttributeError):  # pragma: no cover - pinned in pyproject
    imagecodecs = None
    _AVAILABLE = False


def fast_j2k(h: FrameHeader) -> bool:
    """True when ``h`` is a JPEG 2000 frame :func:`decode_j2k_frame` decodes."""
    return (
        _AVAILABLE
        and h.transfer_syntax in J2K_SYNTAXES
        and h.n_frames == 1
        and h.samples_per_pixel == 1
        and h.photometric in ("MONOCHROME1", "MONOCHROME2")
        and h.bits_allocated in (8, 16)
        and h.pixel_keyword == "PixelData"
        and h.pixel_value_offset >= 0
        and h.pixel_value_length == UNDEFINED_LENGTH
    )


def _codestream(h: FrameHeader) -> bytes:
    from pydicom.encaps import get_frame

    with open(h.path, "rb") as f:
        f.seek(h.pixel_value_offset)
        return get_frame(f, 0, number_of_frames=1)


def decode_j2k_frame(h: FrameHeader) -> np.ndarray:
    """Stored values of the single JPEG 2000 frame of ``h`` (2D, as pydicom's ``pixel_array``).

    The container is sized by the codestream's precision (<= 8 bits: 1 byte, else 2)
    and read with the DICOM Pixel Representation's signedness; when the codestream's
    signedness disagrees with the header, the values are sign-corrected from the
    codestream precision (as pydicom does). Releases the GIL while decoding.
    Raises InputError naming the file when the data cannot be decoded.
    """
    from pydicom.pixels.utils import get_j2k_parameters

    from surgiplan.core.imaging.dicom_pixels import check_codestream

    try:
        code = _codestream(h)
        if code[:2] != b"\xff\x4f":
            # a JP2-wrapped stream: pydicom's decoder takes it (and its box walk)
            raise InputError("not a raw JPEG 2000 codestream", path=h.path)
        check_codestream(code, h.transfer_syntax, h.rows, h.cols, h.path)
        arr = imagecodecs.jpeg2k_decode(code, numthreads=1)
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"cannot read the pixel data ({exc.strerror})", path=h.path) from None
    except Exception as exc:  # noqa: BLE001 - pydicom/imagecodecs raise many kinds on bad data
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot decode the pixel data (JPEG 2000): {msg}",
            path=h.path,
            hint="The file may be damaged, or this compression is not supported.",
        ) from None
    if arr.ndim != 2 or arr.shape != (h.rows, h.cols) or arr.dtype.itemsize > 2:
        raise InputError(
            f"decoded JPEG 2000 frame has shape {arr.shape} ({arr.dtype}), expected "
            f"{(h.rows, h.cols)} with one sample per pixel",
            path=h.path,
        )
    kind = "i" if h.pixel_representation == 1 else "u"
    arr = arr.view(np.dtype(f"{kind}{arr.dtype.itemsize}"))
    info = get_j2k_parameters(code)
    precision = info.get("precision", h.bits_stored)
    signed = info.get("is_signed", h.pixel_representation)
    shift = 8 * arr.dtype.itemsize - precision
    if shift and signed != h.pixel_representation:
        np.left_shift(arr, shift, out=arr)
        np.right_shift(arr, shift, out=arr)
    return arr
