"""Window/level presets (centre, width in HU) and automatic windowing for non-CT scans.

CT values follow the usual radiology settings (Radiopaedia "Windowing (CT)";
3D Slicer's CT presets are within a few tens of HU of these).
"""

from __future__ import annotations

import numpy as np

#: name -> (centre HU, width HU)
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "bone": (400.0, 1800.0),
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "brain": (40.0, 80.0),
    "vessel": (200.0, 600.0),
}


def is_ct(volume) -> bool:
    """True when the volume holds CT Hounsfield units (modality CT, or unknown with air near -1000)."""
    mod = str(volume.metadata.get("modality", "") or "").upper()
    if mod:
        return mod == "CT"
    sample = np.asarray(volume.array)[:: max(1, volume.array.shape[0] // 8), ::8, ::8]
    return bool(sample.size and sample.min() <= -900)


def default_window(volume) -> tuple[float, float]:
    """(centre, width) to show ``volume`` first: the DICOM's own window, CT soft tissue, else auto."""
    md = volume.metadata
    try:
        c, w = float(md["window_center"]), float(md["window_width"])
        if w > 0:
            return c, w
    except (KeyError, TypeError, ValueError):
        pass
    if is_ct(volume):
        return CT_WINDOWS["soft tissue"]
    return auto_window(volume)


def auto_window(volume) -> tuple[float, float]:
    """(centre, width) spanning the 1st..99.5th percentile of a subsample (MR, unknown units)."""
    a = np.asarray(volume.array)
    step = max(1, int(round((a.size / 2_000_000) ** (1 / 3))))
    s = a[::step, ::step, ::step].astype(np.float32)
    if s.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(s, [1.0, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    return float((lo + hi) / 2), float(hi - lo)
