"""Show a big series fast: a preview Volume holding only the middle slices.

The desktop window calls :func:`preview_volume` first (a few slices read with
pydicom, well under a second even for 600-slice CTs) and shows it while the full
series loads through :func:`surgiplan.core.imaging.load_series` in the background.
The preview has the same grid as the full volume (origin, spacing, direction from
the first and last slice headers), so the crosshair and the window/level carry
over when the full volume replaces it. Slices not read yet hold the lowest value
(air for CT) so that they draw black.

Only single-frame series with their slice files known in order are previewed;
for anything else :func:`preview_volume` returns None and the caller just waits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report


def middle_out(n: int) -> list[int]:
    """Indices 0..n-1 ordered from the middle outwards: n//2, n//2-1, n//2+1, ..."""
    mid = n // 2
    order = [mid]
    for d in range(1, n):
        for k in (mid - d, mid + d):
            if 0 <= k < n:
                order.append(k)
        if len(order) >= n:
            break
    return order[:n]


def series_files(series) -> list[Path] | None:
    """The slice files of a discovered series in slice order, when it is single-frame.

    Reads the ``frames``/``files`` the DICOM discovery recorded; None when the
    series is multi-frame or its files are unknown.
    """
    frames = getattr(series, "frames", None)
    if frames:
        paths = [Path(getattr(f, "path", f)) for f in frames]
        if any(getattr(f, "n_frames", 1) != 1 for f in frames) or len(set(paths)) != len(paths):
            return None
        return paths
    for attr in ("files", "paths"):
        files = getattr(series, attr, None)
        if files:
            return [Path(p) for p in files]
    return None


def _read(path: Path, pixels: bool = True):
    import pydicom

    try:
        return pydicom.dcmread(str(path), stop_before_pixels=not pixels)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds
        raise InputError(f"cannot read DICOM file ({exc})", path=path) from None


def _pixels(ds) -> np.ndarray:
    arr = ds.pixel_array.astype(np.float32)
    slope = float(getattr(ds, "RescaleSlope", 1) or 1)
    inter = float(getattr(ds, "RescaleIntercept", 0) or 0)
    return arr * slope + inter


def preview_volume(paths: list[Path], count: int = 8, progress: Progress | None = None,
                   metadata: dict | None = None) -> Volume | None:
    """A Volume on the series' full grid with only the ``count`` middle slices filled.

    ``paths`` are the slice files in slice order. Returns None for fewer than 3
    slices or when the slice headers do not describe a regular stack.
    """
    n = len(paths)
    if n < 3:
        return None
    first, last = _read(paths[0], pixels=False), _read(paths[-1], pixels=False)
    try:
        iop = np.asarray([float(v) for v in first.ImageOrientationPatient])
        p0 = np.asarray([float(v) for v in first.ImagePositionPatient])
        p1 = np.asarray([float(v) for v in last.ImagePositionPatient])
        row_mm, col_mm = (float(v) for v in first.PixelSpacing)
        rows, cols = int(first.Rows), int(first.Columns)
    except (AttributeError, ValueError, TypeError):
        return None
    u, v = iop[:3], iop[3:]
    w = np.cross(u, v)
    step = (p1 - p0) / (n - 1)
    dz = float(np.linalg.norm(step))
    if dz <= 0:
        return None
    wk = step / dz
    if abs(abs(float(np.dot(wk, w))) - 1.0) > 0.05:  # tilted stack: leave it to the full loader
        return None
    direction = np.column_stack([u, v, wk])
    is_ct = str(getattr(first, "Modality", "")).upper() == "CT"
    mids = sorted(middle_out(n)[: max(1, min(count, n))])
    slices = {}
    for i, k in enumerate(mids):
        report(progress, i / len(mids), f"reading slice {k + 1} of {n}")
        slices[k] = _pixels(_read(paths[k]))
    lo = -1024.0 if is_ct else min(float(s.min()) for s in slices.values())
    exact = is_ct and all(np.all(np.mod(s, 1) == 0) for s in slices.values())
    dtype = np.int16 if exact else np.float32
    arr = np.full((n, rows, cols), lo, dtype=dtype)
    for k, s in slices.items():
        if s.shape != (rows, cols):
            return None
        arr[k] = s
    md = {"modality": str(getattr(first, "Modality", "") or ""),
          "series_description": str(getattr(first, "SeriesDescription", "") or ""),
          "patient_name": str(getattr(first, "PatientName", "") or ""),
          "patient_id": str(getattr(first, "PatientID", "") or ""),
          "series_uid": str(getattr(first, "SeriesInstanceUID", "") or ""),
          "preview_slices": mids}
    try:
        md["window_center"] = float(np.atleast_1d(first.WindowCenter)[0])
        md["window_width"] = float(np.atleast_1d(first.WindowWidth)[0])
    except (AttributeError, TypeError, ValueError):
        pass
    md.update(metadata or {})
    report(progress, 1.0, "first slices ready")
    return Volume(arr, (col_mm, row_mm, dz), tuple(p0), direction, md)


def thumbnail(path: Path, size: int = 64) -> np.ndarray:
    """A small uint8 greyscale picture of one DICOM slice (auto-windowed), for browsers."""
    img = _pixels(_read(Path(path)))
    if img.ndim == 3:  # multi-frame: its middle frame
        img = img[img.shape[0] // 2]
    step = max(1, int(np.ceil(max(img.shape) / size)))
    small = img[::step, ::step]
    lo, hi = np.percentile(small, [1, 99.5])
    if hi <= lo:
        hi = lo + 1
    return np.clip((small - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
