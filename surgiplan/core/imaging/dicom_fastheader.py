"""A lean reader of the top-level header of an uncompressed-layout DICOM file (hot path of discovery).

pydicom's general reader costs about 1 ms a file in Python; this one walks the
elements with ``struct`` only, keeps the handful of top-level values discovery
needs and stops at the pixel data, recording its offset. It handles Part 10
files in Implicit/Explicit VR Little Endian, Explicit VR Big Endian and the
encapsulated syntaxes (their dataset is Explicit VR Little Endian). Anything
else (no DICM preamble, deflate, functional groups of enhanced multi-frame
files, surprises) returns ``None`` and the caller uses pydicom.
"""

from __future__ import annotations

import struct

_LONG_VRS = {
    b"OB",
    b"OD",
    b"OF",
    b"OL",
    b"OV",
    b"OW",
    b"SQ",
    b"UC",
    b"UN",
    b"UR",
    b"UT",
    b"SV",
    b"UV",
}
_PIXEL_TAGS = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
_ENHANCED = {0x52009229, 0x52009230}
_US = {
    0x00280010,
    0x00280011,
    0x00280100,
    0x00280101,
    0x00280102,
    0x00280103,
    0x00280002,
    0x00280006,
}
_UNDEF = 0xFFFFFFFF
_IMPLICIT = {e: struct.Struct(e + "HHI") for e in "<>"}  # group, element, length
_EXPLICIT = {e: struct.Struct(e + "HH2sH") for e in "<>"}  # group, element, VR, short length
_U32 = {e: struct.Struct(e + "I") for e in "<>"}


class FastHeader(dict):
    """Tag (int) -> raw value bytes, plus ``transfer_syntax`` and the pixel element position."""

    transfer_syntax: str = ""
    pixel_keyword: str | None = None
    pixel_value_offset: int = -1
    pixel_value_length: int = 0
    little: bool = True


def _skip_undefined(buf: bytes, pos: int, little: bool) -> int:
    """Position after a sequence/item of undefined length starting at ``pos`` (implicit items)."""
    fmt = "<HHI" if little else ">HHI"
    depth = 1
    n = len(buf)
    while pos + 8 <= n:
        g, e, length = struct.unpack_from(fmt, buf, pos)
        pos += 8
        tag = (g << 16) | e
        if tag == 0xFFFEE0DD:  # sequence delimiter
            depth -= 1
            if depth == 0:
                return pos
        elif tag == 0xFFFEE000:  # item
            if length != _UNDEF:
                pos += length
            else:
                depth += 1
        elif tag == 0xFFFEE00D:  # item delimiter
            depth -= 1
        else:
            raise ValueError("nested element inside an undefined-length item")
    raise ValueError("unterminated sequence")


def read_fast_header(buf: bytes, wanted: set[int]) -> FastHeader | None:
    """Parse ``buf`` (the start of a file) up to the pixel data; None when pydicom must do it."""
    if len(buf) < 144 or buf[128:132] != b"DICM":
        return None
    out = FastHeader()
    pos = 132
    n = len(buf)
    # file meta: always explicit VR little endian
    while pos + 8 <= n:
        g, e = struct.unpack_from("<HH", buf, pos)
        if g != 0x0002:
            break
        vr = buf[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", buf, pos + 8)
            vpos = pos + 12
        else:
            (length,) = struct.unpack_from("<H", buf, pos + 6)
            vpos = pos + 8
        if (g << 16 | e) == 0x00020010:
            out.transfer_syntax = (
                buf[vpos : vpos + length].decode("ascii", "replace").strip("\x00 ")
            )
        pos = vpos + length
    ts = out.transfer_syntax
    if ts == "1.2.840.10008.1.2":
        implicit, little = True, True
    elif ts == "1.2.840.10008.1.2.2":
        implicit, little = False, False
    elif ts == "1.2.840.10008.1.2.1.99" or not ts:
        return None
    else:
        implicit, little = False, True
    out.little = little
    e2 = "<" if little else ">"
    # one precompiled unpack per element header (a long VR reads its 32-bit length after it)
    head = _IMPLICIT[e2] if implicit else _EXPLICIT[e2]
    u32 = _U32[e2]
    while pos + 8 <= n:
        if implicit:
            g, e, length = head.unpack_from(buf, pos)
            vpos = pos + 8
            is_sq = False
        else:
            g, e, vr, length = head.unpack_from(buf, pos)
            if vr in _LONG_VRS:
                if pos + 12 > n:
                    return None
                (length,) = u32.unpack_from(buf, pos + 8)
                vpos = pos + 12
            else:
                vpos = pos + 8
            is_sq = vr == b"SQ"
        tag = (g << 16) | e
        if tag in _PIXEL_TAGS:
            out.pixel_keyword = _PIXEL_TAGS[tag]
            out.pixel_value_offset = vpos
            out.pixel_value_length = length
            return out
        if tag in _ENHANCED:
            return None  # functional groups: pydicom parses the nested geometry
        if length == _UNDEF:
            if not (is_sq or implicit):
                return None  # undefined length outside a sequence before the pixels: odd
            pos = _skip_undefined(buf, vpos, little)
            continue
        if tag in wanted and not is_sq:
            out[tag] = buf[vpos : vpos + length]
        pos = vpos + length
    return None if pos < n else out  # ran out of buffer before the pixels: let pydicom decide


def text(raw: bytes | None) -> str | list[str] | None:
    """A string value (multi-valued -> list), as pydicom gives for DS/IS/CS/UI/... ASCII VRs."""
    if raw is None:
        return None
    s = raw.decode("latin-1").strip("\x00 ")
    if "\\" in s:
        return [t.strip() for t in s.split("\\")]
    return s


def ushort(raw: bytes | None, little: bool) -> int | None:
    if raw is None or len(raw) < 2:
        return None
    return struct.unpack_from("<H" if little else ">H", raw)[0]
