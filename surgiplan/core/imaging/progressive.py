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
Headers and pixels are read with the loader's checked readers, so a damaged or
hostile file never hangs or floods the preview (it is left out, or the preview is
skipped and the full load names the file).
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


def _header(path: Path):
    """The first frame header of a file (the loader's checked reader; InputError naming it)."""
    from surgiplan.core.imaging.dicom_headers import read_frame_headers

    frames, _ = read_frame_headers(Path(path))
    if not frames:
        raise InputError("DICOM file without an image", path=path)
    return frames


def _pixels(frames) -> np.ndarray:
    """Rescaled values of ``frames`` (one file's or a few slices'), through the loader's reader.

    The same checks as a full load (lengths against the file, compressed frame sizes
    against Rows/Columns), so that a damaged or hostile file gives an InputError.
    """
    from surgiplan.core.imaging.dicom_pixels import read_frames

    arr, _ = read_frames(list(frames))
    return arr


def preview_volume(paths: list[Path], count: int = 8, progress: Progress | None = None,
                   metadata: dict | None = None) -> Volume | None:
    """A Volume on the series' full grid with only the ``count`` middle slices filled.

    ``paths`` are the slice files in slice order. Returns None for fewer than 3
    slices or when the slice headers do not describe a regular stack.
    """
    n = len(paths)
    if n < 3:
        return None
    try:
        first, last = _header(paths[0])[0], _header(paths[-1])[0]
    except InputError:
        return None  # the full load names the damaged file
    if first.orientation is None or first.position is None or last.position is None:
        return None
    if first.pixel_spacing is None or not all(0 < float(x) < 1e3 for x in first.pixel_spacing):
        return None
    iop = np.asarray(first.orientation, dtype=float)
    p0 = np.asarray(first.position, dtype=float)
    p1 = np.asarray(last.position, dtype=float)
    row_mm, col_mm = (float(v) for v in first.pixel_spacing)
    rows, cols = first.rows, first.cols
    u, v = iop[:3], iop[3:]
    w = np.cross(u, v)
    step = (p1 - p0) / (n - 1)
    dz = float(np.linalg.norm(step))
    if not np.isfinite(dz) or dz <= 0:
        return None
    wk = step / dz
    if abs(abs(float(np.dot(wk, w))) - 1.0) > 0.05:  # tilted stack: leave it to the full loader
        return None
    direction = np.column_stack([u, v, wk])
    is_ct = first.modality.upper() == "CT"
    mids = sorted(middle_out(n)[: max(1, min(count, n))])
    from surgiplan.core.imaging.dicom_pixels import check_memory

    try:
        check_memory(n * rows * cols * 4, f"a preview of {n} slices of {cols} x {rows}", paths[0])
    except InputError:
        return None  # the full load says why
    slices = {}
    for i, k in enumerate(mids):
        report(progress, i / len(mids), f"reading slice {k + 1} of {n}")
        try:
            img = _pixels(_header(paths[k])[:1])[0].astype(np.float32)
        except InputError:
            continue  # a damaged slice stays empty in the preview; the full load names it
        if img.shape != (rows, cols):
            return None
        slices[k] = img
    if not slices:
        return None
    lo = -1024.0 if is_ct else min(float(s.min()) for s in slices.values())
    exact = is_ct and all(np.all(np.mod(s, 1) == 0) for s in slices.values())
    dtype = np.int16 if exact else np.float32
    arr = np.full((n, rows, cols), lo, dtype=dtype)
    for k, s in slices.items():
        arr[k] = s
    from surgiplan.core.imaging.dicom_headers import read_series_dataset

    first_ds = read_series_dataset(paths[0])  # None when unreadable: the text is optional
    md = {"modality": first.modality,
          "series_description": _text(first_ds, "SeriesDescription"),
          "patient_name": _text(first_ds, "PatientName"),
          "patient_id": _text(first_ds, "PatientID"),
          "series_uid": first.series_uid,
          "preview_slices": sorted(slices)}
    if first.window is not None:
        md["window_center"], md["window_width"] = (float(x) for x in first.window)
    md.update(metadata or {})
    report(progress, 1.0, "first slices ready")
    return Volume(arr, (col_mm, row_mm, dz), tuple(p0), direction, md)


def _text(ds, keyword: str) -> str:
    try:
        return str(ds.get(keyword, "") or "") if ds is not None else ""
    except Exception:  # noqa: BLE001 - an undecodable text value counts as absent
        return ""


def thumbnail(path: Path, size: int = 64) -> np.ndarray:
    """A small uint8 greyscale picture of one DICOM slice (auto-windowed), for browsers.

    Raises InputError naming the file when it cannot be read (damaged, hostile).
    """
    frames = _header(Path(path))
    img = _pixels([frames[len(frames) // 2]])[0].astype(np.float32)  # multi-frame: the middle
    step = max(1, int(np.ceil(max(img.shape) / size)))
    small = img[::step, ::step]
    lo, hi = np.percentile(small, [1, 99.5])
    if hi <= lo:
        hi = lo + 1
    return np.clip((small - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
