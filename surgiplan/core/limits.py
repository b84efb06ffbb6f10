"""How much a file may make surgiplan allocate, and how numbers in file headers are parsed.

A file from elsewhere states its own sizes (voxel counts, vertex counts, extents).
Readers check those claims here *before* VTK, ITK or numpy allocate anything:

* :func:`memory_budget` is the most one file may ask for: half the memory
  available now, and never more than :data:`FIXED_CAP_BYTES` (8 GiB). The
  environment variable ``SURGIPLAN_MEMORY_BUDGET`` (bytes, e.g. ``2e9``) sets it
  instead, for a workstation that really holds larger scans or for tests.
* :data:`MAX_VOXELS` caps one grid at 2^30 voxels (a 1024^3 grid or a
  512 x 512 x 4096 CT), far beyond a planning scan; ``SURGIPLAN_MAX_VOXELS``
  overrides it.
* :func:`parse_int` / :func:`parse_float` read a header number with a digit
  limit, so a 5000-digit number is refused by name instead of becoming ``inf``
  or a ``ValueError`` traceback.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from surgiplan.core.errors import InputError

#: Largest allocation one file may cause, whatever the free memory (8 GiB).
FIXED_CAP_BYTES = 8 << 30
#: Most voxels one grid may have (2^30), see the module docstring.
MAX_VOXELS = 1 << 30
#: Most digits a number in a header may have (an int64 has 19).
MAX_DIGITS = 40
#: Longest header surgiplan parses as text (NRRD, MetaImage, PLY, VTP tags).
MAX_HEADER_BYTES = 8 << 20
#: Longest name component (bytes) of a file a header refers to.
NAME_MAX = 255

_INT_RE = re.compile(r"^[+-]?\d+$")
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _env_number(name: str) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def memory_budget() -> int:
    """Bytes one file may make surgiplan allocate (see the module docstring)."""
    env = _env_number("SURGIPLAN_MEMORY_BUDGET")
    if env is not None:
        return int(env)
    try:
        import psutil

        available = int(psutil.virtual_memory().available)
    except Exception:  # psutil cannot read the memory (odd platform): the fixed cap alone
        available = 2 * FIXED_CAP_BYTES
    return int(min(available * 0.5, FIXED_CAP_BYTES))


def max_voxels() -> int:
    """Most voxels one grid may have (``SURGIPLAN_MAX_VOXELS`` or :data:`MAX_VOXELS`)."""
    env = _env_number("SURGIPLAN_MAX_VOXELS")
    return int(env) if env is not None else MAX_VOXELS


def fmt_bytes(n: float) -> str:
    """``n`` bytes in words: '1,980 bytes', '3.2 MB', '7.45 GiB'."""
    n = float(n)
    if n < 1e6:
        return f"{int(n):,} bytes"
    if n < 1 << 30:
        return f"{n / 1e6:.1f} MB"
    if n < 1 << 50:
        return f"{n / (1 << 30):.2f} GiB"
    return f"{n:.3g} bytes"


def check_budget(nbytes: float, what: str, path: str | Path | None = None) -> None:
    """InputError when ``nbytes`` (what reading ``what`` would allocate) exceeds :func:`memory_budget`."""
    budget = memory_budget()
    if nbytes > budget:
        raise InputError(
            f"{what} would need {fmt_bytes(nbytes)} of memory, more than the "
            f"{fmt_bytes(budget)} surgiplan allows for one file; nothing was read",
            path=path,
            hint="The header may be damaged or hostile. If the file is genuine, set "
                 "SURGIPLAN_MEMORY_BUDGET (bytes) on a machine with enough memory.",
        )


def check_grid(shape, itemsize: int, what: str, path: str | Path | None = None, *,
               copies: float = 1.0) -> int:
    """Check a claimed grid ``shape`` (any order) of ``itemsize``-byte values; returns its byte count.

    Refuses a zero or negative size, more than :func:`max_voxels` voxels, or
    ``copies`` x the bytes beyond :func:`memory_budget`; the message gives the numbers.
    """
    dims = [int(s) for s in shape]
    if any(s <= 0 for s in dims):
        raise InputError(f"{what} has a size of {' x '.join(map(str, dims))} voxels: every size must be "
                         "at least 1", path=path, hint="The header is damaged; nothing was read.")
    voxels = math.prod(dims)
    if voxels > max_voxels():
        raise InputError(
            f"{what} claims {' x '.join(map(str, dims))} = {voxels:.3g} voxels, more than the "
            f"{max_voxels():.3g} surgiplan accepts; nothing was read", path=path,
            hint="The header may be damaged or hostile. If the scan is genuine, crop or resample it "
                 "first (or set SURGIPLAN_MAX_VOXELS).")
    nbytes = voxels * int(itemsize)
    check_budget(nbytes * copies, what, path)
    return nbytes


def _short(text: str, n: int = 40) -> str:
    text = text.strip()
    return text if len(text) <= n else text[: n // 2] + "..." + text[-n // 4:] + f" ({len(text)} characters)"


def parse_int(text: str, field: str, path: str | Path | None = None, *, lo: int | None = None,
              hi: int | None = None) -> int:
    """An integer header field, at most :data:`MAX_DIGITS` digits, within ``[lo, hi]``; InputError else."""
    s = str(text).strip()
    if not _INT_RE.match(s) or len(s.lstrip("+-")) > MAX_DIGITS:
        raise InputError(f"the {field} field is not a sensible whole number ({_short(s)!r})", path=path,
                         hint="The header is damaged; nothing was read.")
    value = int(s)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"{lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'}"
        raise InputError(f"the {field} field is {value}, outside {span}", path=path,
                         hint="The header is damaged; nothing was read.")
    return value


def parse_float(text: str, field: str, path: str | Path | None = None) -> float:
    """A finite decimal header number, at most :data:`MAX_DIGITS` digits; InputError else."""
    s = str(text).strip()
    mantissa = re.split(r"[eE]", s)[0]
    digits = sum(c.isdigit() for c in mantissa)
    if not _FLOAT_RE.match(s) or digits > MAX_DIGITS or len(s) > MAX_DIGITS + 10:
        raise InputError(f"the {field} field is not a sensible number ({_short(s)!r})", path=path,
                         hint="The header is damaged; nothing was read.")
    value = float(s)
    if not math.isfinite(value):
        raise InputError(f"the {field} field is not a finite number ({_short(s)!r})", path=path,
                         hint="The header is damaged; nothing was read.")
    return value


def parse_ints(text: str, field: str, path: str | Path | None = None, *, count: int | None = None,
               lo: int | None = None, hi: int | None = None) -> list[int]:
    """Whitespace-separated integers (``count`` of them when given); see :func:`parse_int`."""
    parts = str(text).split()
    if count is not None and len(parts) != count:
        raise InputError(f"the {field} field has {len(parts)} values, expected {count}", path=path,
                         hint="The header is damaged; nothing was read.")
    return [parse_int(p, field, path, lo=lo, hi=hi) for p in parts]


def parse_floats(text: str, field: str, path: str | Path | None = None, *,
                 count: int | None = None) -> list[float]:
    """Numbers separated by whitespace, commas or brackets (``count`` of them when given)."""
    parts = [p for p in re.split(r"[\s,()]+", str(text)) if p]
    if count is not None and len(parts) != count:
        raise InputError(f"the {field} field has {len(parts)} values, expected {count}", path=path,
                         hint="The header is damaged; nothing was read.")
    return [parse_float(p, field, path) for p in parts]


def check_name(name: str, field: str, path: str | Path | None = None) -> None:
    """InputError when a file name given in a header has a component over :data:`NAME_MAX` bytes."""
    for part in re.split(r"[/\\]", name):
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(f"the {field} field names a file whose name is {len(os.fsencode(part))} "
                             f"bytes long (the limit is {NAME_MAX})", path=path,
                             hint="The header is damaged or hostile; nothing was read.")
