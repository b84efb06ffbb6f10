"""Pictures of two registered scans: checkerboard, fused colour and difference (RGB arrays, PNG).

Both scans are shown on the planning scan's grid (the later scan resampled through the
registration) with one CT window; the fused image puts the planning scan in magenta and
the later scan in green, so aligned structures are grey and misalignment shows in colour.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.imaging.volume import Volume

MODES = ("checkerboard", "fused", "difference")


def window(a: np.ndarray, level: float = 400.0, width: float = 1800.0) -> np.ndarray:
    """Grey values 0..1 of ``a`` (HU) in a window (bone window by default)."""
    return np.clip((np.asarray(a, np.float32) - (level - width / 2)) / width, 0.0, 1.0)


def blend(a: np.ndarray, b: np.ndarray, mode: str, tile: int = 16) -> np.ndarray:
    """RGB (h, w, 3) uint8 of two windowed 2D slices (0..1) in ``mode`` (:data:`MODES`)."""
    if mode == "checkerboard":
        yy, xx = np.indices(a.shape)
        g = np.where(((yy // tile) + (xx // tile)) % 2 == 0, a, b)
        rgb = np.stack([g, g, g], axis=-1)
    elif mode == "fused":
        rgb = np.stack([a, b, a], axis=-1)
    elif mode == "difference":
        d = np.clip(0.5 + 0.5 * (b - a), 0, 1)
        rgb = np.stack([d, d, d], axis=-1)
    else:
        raise ValueError(f"unknown overlay mode {mode!r} (use {', '.join(MODES)})")
    return (rgb * 255).round().astype(np.uint8)


def slices_through(volume: Volume, point_ijk) -> dict[str, np.ndarray]:
    """Axial and coronal slices of ``volume`` through voxel ``point_ijk`` (row 0 = anterior / superior)."""
    i, j, k = (int(round(x)) for x in point_ijk)
    a = volume.array
    k = min(max(k, 0), a.shape[0] - 1)
    j = min(max(j, 0), a.shape[1] - 1)
    return {"axial": a[k], "coronal": a[:, j, :][::-1]}


def _centre(fixed: Volume, moving: Volume, scan_to_planning: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """(i, j, k) of the fixed grid to cut through: the centre of the (masked) voxels the later scan shows."""
    idx = np.argwhere(mask) if mask is not None and np.any(mask) else np.argwhere(
        np.ones(fixed.array.shape, bool)[::4, ::4, ::4]) * 4
    ijk = idx[:, ::-1].astype(float)
    p2s = np.linalg.inv(scan_to_planning)
    w = fixed.index_to_world(ijk)
    m = moving.world_to_index(w @ p2s[:3, :3].T + p2s[:3, 3])
    seen = np.all((m >= 0) & (m <= np.array(moving.shape_ijk) - 1), axis=1)
    return (ijk[seen] if np.any(seen) else ijk).mean(axis=0)


def registration_panels(fixed: Volume, moving: Volume, scan_to_planning: np.ndarray,
                        mask: np.ndarray | None = None) -> np.ndarray:
    """One RGB picture: rows axial / coronal, columns checkerboard / fused / difference."""
    from surgiplan.core.twin.registration import resample_to

    res = resample_to(fixed, moving, scan_to_planning)
    c = _centre(fixed, moving, scan_to_planning, mask)
    f, m = slices_through(fixed, c), slices_through(res, c)
    sk = fixed.spacing[2] / fixed.spacing[1]
    rows = []
    for view in ("axial", "coronal"):
        a, b = window(f[view]), window(m[view])
        if view == "coronal" and abs(sk - 1) > 1e-3:  # square pixels
            n = max(1, int(round(a.shape[0] * sk)))
            idx = np.minimum((np.arange(n) / sk).astype(int), a.shape[0] - 1)
            a, b = a[idx], b[idx]
        rows.append([blend(a, b, mode) for mode in MODES])
    width = max(sum(p.shape[1] for p in r) for r in rows)
    out = []
    for r in rows:
        line = np.concatenate(r, axis=1)
        out.append(np.pad(line, ((0, 4), (0, width - line.shape[1]), (0, 0))))
    return np.concatenate(out, axis=0)


def write_png(rgb: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 array (h, w, 3) as a PNG through the one write path (VTK's PNG writer)."""
    import vtk
    from vtk.util.numpy_support import numpy_to_vtk

    h, w, _ = rgb.shape
    img = vtk.vtkImageData()
    img.SetDimensions(w, h, 1)
    arr = numpy_to_vtk(np.ascontiguousarray(rgb[::-1]).reshape(-1, 3), deep=True)
    arr.SetNumberOfComponents(3)
    img.GetPointData().SetScalars(arr)

    def writer(tmp: Path) -> None:
        wr = vtk.vtkPNGWriter()
        wr.SetFileName(str(tmp))
        wr.SetInputData(img)
        wr.Write()

    return fileio.atomic_write(Path(path), writer, min_size=64)


def registration_png(fixed: Volume, moving: Volume, scan_to_planning: np.ndarray, path: str | Path,
                     mask: np.ndarray | None = None, scale: int = 2) -> Path:
    """Write :func:`registration_panels` (enlarged ``scale`` times) to ``path``."""
    rgb = registration_panels(fixed, moving, scan_to_planning, mask)
    if scale > 1:
        rgb = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    return write_png(rgb, path)


def timeline_pair(case, scan_a: str, scan_b: str, mode: str = "fused", bone: str | None = None) -> np.ndarray:
    """Two registered scans of ``case`` on the planning grid, axial over coronal, in ``mode``.

    Parameters
    ----------
    case : Case
        The case; both scans must be the planning scan or registered to it.
    scan_a, scan_b : str
        The two timepoints (``scan_a`` magenta / first tiles, ``scan_b`` green / second tiles).
    mode : str
        ``checkerboard``, ``fused`` or ``difference`` (:data:`MODES`).
    bone : str, optional
        Cut through the centre of this segment of the planning scan (else where both scans are).

    Returns
    -------
    numpy.ndarray
        RGB uint8 (h, w, 3).
    """
    from surgiplan.core.twin.registration import resample_to
    from surgiplan.core.twin.timeline import bone_mask, scan_to_planning, scan_volume

    if mode not in MODES:
        raise ValueError(f"unknown overlay mode {mode!r} (use {', '.join(MODES)})")
    planning = scan_volume(case, None)
    a_s2p, b_s2p = scan_to_planning(case, scan_a), scan_to_planning(case, scan_b)
    va, vb = scan_volume(case, scan_a), scan_volume(case, scan_b)
    ra = planning if scan_a == case.model.scans[0].name else resample_to(planning, va, a_s2p)
    rb = resample_to(planning, vb, b_s2p)
    mask = bone_mask(case, bone, 0) if bone else None
    c = _centre(planning, vb, b_s2p, mask)
    fa, fb = slices_through(ra, c), slices_through(rb, c)
    sk = planning.spacing[2] / planning.spacing[1]
    rows = []
    for view in ("axial", "coronal"):
        a, b = window(fa[view]), window(fb[view])
        if view == "coronal" and abs(sk - 1) > 1e-3:
            n = max(1, int(round(a.shape[0] * sk)))
            idx = np.minimum((np.arange(n) / sk).astype(int), a.shape[0] - 1)
            a, b = a[idx], b[idx]
        rows.append(blend(a, b, mode))
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)


def pair_on_grid(case, scan_a: str, scan_b: str, bone: str | None = None) -> tuple[Volume, Volume]:
    """Scan ``scan_a`` and scan ``scan_b`` resampled onto ``scan_a``'s grid through the registration
    (:func:`surgiplan.core.twin.timeline.timepoint_map`), for fused / checkerboard / difference
    slice views; voxels ``scan_b`` does not cover are -1024 HU."""
    from surgiplan.core.twin.registration import resample_to
    from surgiplan.core.twin.timeline import scan_volume, timepoint_map

    va, vb = scan_volume(case, scan_a), scan_volume(case, scan_b)
    b_to_a = timepoint_map(case, scan_b, scan_a, bone)
    return va, resample_to(va, vb, b_to_a)
