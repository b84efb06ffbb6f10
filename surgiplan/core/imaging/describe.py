"""DICOM values and a discovered series' findings in words people read (the window and reports).

Examples
--------
>>> person_name("DOE^JANE^M")
'DOE, JANE M'
>>> dicom_date("20240115")
'2024-01-15'
"""

from __future__ import annotations


def first_attr(obj, *names, default=None):
    """The first of attributes ``names`` of ``obj`` that is set (not None or ""), else ``default``."""
    for n in names:
        v = getattr(obj, n, None)
        if v not in (None, ""):
            return v
    return default


def spacing_text(s) -> str:
    """Pixel spacing (row, column) × slice spacing in mm, to 0.01 mm without trailing zeros
    ("2 × 2 × 2", "0.78 × 0.78 × 1.25")."""
    ps, dz = getattr(s, "pixel_spacing", None), getattr(s, "slice_spacing", None)
    if not ps:
        return ""
    return " × ".join(f"{round(float(x), 2):g}" for x in (*ps, *([dz] if dz else [])))


def person_name(pn: str) -> str:
    """A DICOM person name for people: ``"DOE^JANE^M"`` -> ``"DOE, JANE M"``."""
    parts = [p.strip() for p in str(pn).split("^")]
    family, rest = parts[0], " ".join(p for p in parts[1:] if p)
    return ", ".join(x for x in (family, rest) if x) or str(pn)


def dicom_date(d: str) -> str:
    """``"20240115"`` -> ``"2024-01-15"``; anything else unchanged."""
    d = str(d or "").strip()
    return f"{d[:4]}-{d[4:6]}-{d[6:8]}" if len(d) == 8 and d.isdigit() else d


def series_warnings(s) -> list[str]:
    """What the user should know before loading series ``s`` (from the discovery's findings)."""
    out = list(getattr(s, "warnings", ()) or ())
    kind = getattr(s, "kind", "volume")
    if kind not in ("volume", "image"):
        out.append(f"not an image volume ({kind.replace('_', ' ')})")
    if getattr(s, "split_reason", ""):
        out.append(f"part of a split series: {s.split_reason}")
    if getattr(s, "n_files", 0) and getattr(s, "n_slices", 0) == 1 and kind == "image":
        out.append("a single slice")
    return out
