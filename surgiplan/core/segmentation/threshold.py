"""Threshold tools: intensity ranges with presets and a histogram suggestion.

Presets are HU ranges for CT (inclusive) and a relative range for MR. The
suggestion uses scikit-image's histogram thresholds (Otsu, Li, triangle...).
"""

from __future__ import annotations

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume

#: name -> (low, high) inclusive, HU for CT presets.
THRESHOLD_PRESETS: dict[str, tuple[float, float]] = {
    "ct-bone": (200.0, 3071.0),
    "ct-cortical-bone": (600.0, 3071.0),
    "ct-contrast-vessel": (150.0, 700.0),
    "ct-soft-tissue": (-100.0, 200.0),
    "ct-fat": (-190.0, -30.0),
    "ct-air": (-1100.0, -400.0),
}

_METHODS = ("otsu", "li", "triangle", "yen", "isodata", "mean")


def threshold(volume: Volume | np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Boolean mask [k, j, i] of voxels with ``low <= value <= high`` (None = unbounded)."""
    arr = volume.array if isinstance(volume, Volume) else np.asarray(volume)
    if low is not None and high is not None and low > high:
        raise InputError(f"threshold range is empty: low {low} > high {high}")
    if low is None and high is None:
        return np.ones(arr.shape, bool)
    if arr.dtype.kind in "iu" and (low is None or high is None):
        one = _one_sided_int(arr, low, high)
        if one is not None:
            return one
    if low is None:
        return arr <= high
    if high is None:
        return arr >= low
    # for integer volumes clip the bounds into the dtype so comparisons stay in-type (fast)
    if arr.dtype.kind in "iu":
        info = np.iinfo(arr.dtype)
        lo = int(np.ceil(max(low, info.min)))
        hi = int(np.floor(min(high, info.max)))
        out = arr >= arr.dtype.type(lo)
        out &= arr <= arr.dtype.type(hi)
        return out
    out = arr >= low
    out &= arr <= high
    return out


def _one_sided_int(arr: np.ndarray, low, high) -> np.ndarray | None:
    """``arr >= low`` or ``arr <= high`` for an integer ``arr``, compared in its own type (a float
    bound would make numpy convert every voxel to float64 first: 0.3 s on a 512 x 512 x 600 CT);
    None for a NaN bound."""
    info = np.iinfo(arr.dtype)
    if low is not None:
        lo = float(np.ceil(float(low)))
        if np.isnan(lo):
            return None
        if lo > info.max:
            return np.zeros(arr.shape, bool)
        return arr >= arr.dtype.type(max(lo, info.min))
    hi = float(np.floor(float(high)))
    if np.isnan(hi):
        return None
    if hi < info.min:
        return np.zeros(arr.shape, bool)
    return arr <= arr.dtype.type(min(hi, info.max))


def preset_range(preset: str, volume: Volume | None = None) -> tuple[float, float]:
    """The (low, high) range of a preset; 'mr' ranges use the volume's own intensities.

    'mr' / 'mr-bright': above the Otsu threshold of the volume (up to its maximum).
    """
    key = preset.lower().replace("_", "-").replace(" ", "-")
    if key in THRESHOLD_PRESETS:
        return THRESHOLD_PRESETS[key]
    if key in ("mr", "mr-bright"):
        if volume is None:
            raise InputError("the MR threshold preset needs the volume to adapt to its intensities")
        return (suggest_threshold(volume, "otsu"), float(volume.array.max()))
    raise InputError(
        f"unknown threshold preset '{preset}'",
        hint=f"Use one of: {', '.join([*THRESHOLD_PRESETS, 'mr'])}.",
    )


def suggest_threshold(volume: Volume | np.ndarray, method: str = "otsu", *, max_samples: int = 2_000_000) -> float:
    """A threshold separating the histogram in two (value in the volume's units, e.g. HU).

    ``method``: otsu, li, triangle, yen, isodata or mean (scikit-image
    ``skimage.filters.threshold_*``). Large volumes are subsampled regularly to
    ``max_samples`` voxels (the histogram barely changes).
    """
    from skimage import filters

    if method not in _METHODS:
        raise InputError(f"unknown threshold method '{method}'", hint=f"Use one of: {', '.join(_METHODS)}.")
    arr = volume.array if isinstance(volume, Volume) else np.asarray(volume)
    flat = arr.reshape(-1)
    step = max(1, flat.size // max_samples)
    sample = flat[::step]
    if sample.min() == sample.max():
        raise InputError("the volume has a single value: no threshold separates it")
    return float(getattr(filters, f"threshold_{method}")(sample))
