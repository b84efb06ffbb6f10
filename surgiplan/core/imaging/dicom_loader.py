"""DICOM series -> Volume in LPS millimetres.

``load_series`` takes a :class:`SeriesInfo` from :func:`discover`, orders its
frames along the slice normal, reads the pixels (uncompressed: direct reads
into one array; compressed: pydicom decoders, in parallel), applies the
rescale, and corrects the geometry the way dcm2niix does (gantry tilt shear,
uneven spacing, duplicates). Everything corrected or noticed is listed in
``Volume.warnings``. ``load_dicom`` is discover + pick + load.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from surgiplan.core.errors import GeometryError, InputError
from surgiplan.core.imaging.dicom_discovery import SeriesInfo, discover
from surgiplan.core.imaging.dicom_geometry import (
    StackPlan,
    output_grid,
    plan_stack,
    resample_slices,
    unshear,
)
from surgiplan.core.imaging.dicom_pixels import check_memory, output_plan, read_frames
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.jobs import Progress, report, sub_progress

UNEVEN_CHOICES = ("resample", "refuse")


def _to_dtype(arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float32 working array back to the series' dtype (rounded for integers)."""
    if dtype.kind == "f":
        return arr.astype(dtype, copy=False)
    info = np.iinfo(dtype)
    np.rint(arr, out=arr)
    np.clip(arr, info.min, info.max, out=arr)
    return arr.astype(dtype)


def _metadata(series: SeriesInfo) -> dict:
    win = series.window
    return {
        "modality": series.modality,
        "patient_name": series.patient_name,
        "patient_id": series.patient_id,
        "study_uid": series.study_uid,
        "series_uid": series.series_uid,
        "series_key": series.key,
        "series_number": series.series_number,
        "series_description": series.description,
        "study_description": series.study_description,
        "study_date": series.study_date,
        "body_part": series.body_part,
        "contrast_agent": series.contrast_agent,
        "window_center": win[0] if win else None,
        "window_width": win[1] if win else None,
        "units": "HU" if series.modality == "CT" else "",
        "source": str(series.frames[0].path.parent) if series.frames else "",
    }


def peak_bytes(plan: StackPlan, rows: int, cols: int, dtype: np.dtype) -> int:
    """Most memory the loader holds at once for ``plan`` (bytes), from the headers alone.

    The stacked slices, then (tilt) the enlarged float32 copy beside them, then (uneven
    spacing) the resampled float32 stack beside that, then the final array beside it.
    """
    itemsize = np.dtype(dtype).itemsize
    nk = len(plan.order)
    grid = output_grid(plan, rows, cols)
    ni, nj, nk_out = grid.size_ijk
    stacked = nk * rows * cols * max(itemsize, 4 if np.dtype(dtype).kind != "f" else itemsize)
    sheared = nk * nj * ni * 4 if plan.sheared else 0
    resampled = nk_out * nj * ni * 4 if not plan.regular else 0
    final = nk_out * nj * ni * itemsize
    steps = [stacked, stacked + sheared, sheared + resampled, max(sheared, resampled) + final]
    return int(max(steps))


def _check_budget(series: SeriesInfo, plan: StackPlan, ordered, dtype: np.dtype) -> None:
    h = ordered[0]
    grid = output_grid(plan, h.rows, h.cols)
    need = peak_bytes(plan, h.rows, h.cols, dtype)
    ni, nj, nk = grid.size_ijk
    check_memory(
        need,
        f"series {series.series_number} '{series.description}' ({len(ordered)} images of "
        f"{h.cols} x {h.rows}, a {ni} x {nj} x {nk} {np.dtype(dtype).name} volume)",
        path=h.path.parent,
    )


def load_series(
    series: SeriesInfo,
    *,
    uneven_spacing: str = "resample",
    progress: Progress | None = None,
) -> Volume:
    """The series as a Volume (LPS mm; CT in int16 HU where exact, else float32).

    ``uneven_spacing``: "resample" (default) puts unevenly spaced slices (including
    gaps from missing slices) on a regular grid at the finest spacing present;
    "refuse" raises GeometryError saying what the spacing is. Gantry tilt is always
    shear-corrected. Frames that cannot be read are left out when the rest still
    forms a stack; each is named in ``Volume.warnings``.
    """
    if uneven_spacing not in UNEVEN_CHOICES:
        raise InputError(f"uneven_spacing must be one of {UNEVEN_CHOICES}, got {uneven_spacing!r}")
    if not series.frames:
        raise InputError(
            f"series {series.series_number} '{series.description}' has no images "
            f"(kind: {series.kind}); nothing to load",
            path=series.non_image_files[0] if series.non_image_files else None,
        )
    frames = list(series.frames)
    warnings: list[str] = []
    if series.kind not in ("volume", "image"):
        warnings.append(f"this series is flagged '{series.kind}', not a diagnostic image stack")
    report(progress, 0.0, "checking geometry")
    plan = plan_stack(frames)
    if not plan.regular and uneven_spacing == "refuse":
        raise GeometryError(
            f"uneven slice spacing in series {series.series_number} "
            f"'{series.description}': {plan.uneven_detail}",
            path=frames[0].path.parent,
            hint=f"Load with uneven spacing resampled (--uneven resample) to get a regular "
            f"{plan.finest_spacing:.2f} mm grid, or pick another series.",
        )
    ordered = [frames[k] for k in plan.order]
    out_plan = output_plan(ordered)
    _check_budget(series, plan, ordered, out_plan.dtype)
    errors: list[InputError] = []
    arr, kept = read_frames(ordered, sub_progress(progress, 0.0, 0.85), errors, out_plan)
    for e in errors:
        warnings.append(f"slice skipped: {e}")
    if len(kept) < len(ordered):
        # re-plan on the frames that were read: a lost slice becomes a gap
        ordered = [ordered[k] for k in kept]
        plan = plan_stack(ordered)
        if not plan.regular and uneven_spacing == "refuse":
            raise GeometryError(
                f"after skipping unreadable slices, the spacing is uneven: {plan.uneven_detail}",
                path=frames[0].path.parent,
                hint="Load with --uneven resample, or repair the files.",
            )
    warnings.extend(plan.warnings)
    dtype = arr.dtype
    origin = plan.origin.astype(float)
    si, sj = plan.spacing_ij
    if plan.sheared:
        report(progress, 0.86, "correcting gantry tilt")
        fill = float(arr.min())
        ni0, nj0 = arr.shape[2], arr.shape[1]
        arr, lo = unshear(arr, plan.shift_ij, fill)
        origin = origin + lo[0] * si * plan.row_dir + lo[1] * sj * plan.col_dir
        warnings.append(
            f"tilt-corrected grid: {arr.shape[2]} x {arr.shape[1]} pixels (acquired {ni0} x {nj0}); "
            f"voxels outside the acquired slices are {fill:g}"
        )
    if not plan.regular:
        report(progress, 0.93, "resampling uneven slices")
        n_in = arr.shape[0]
        arr, _ = resample_slices(arr, plan.z, plan.spacing_k)
        warnings.append(
            f"uneven slice spacing ({plan.uneven_detail}): resampled {n_in} slices to "
            f"{arr.shape[0]} slices at {plan.spacing_k:.3f} mm (linear, as dcm2niix's equalised output)"
        )
    if arr.dtype != dtype:
        arr = _to_dtype(arr, dtype)
    meta = _metadata(series)
    meta["slice_count_acquired"] = len(ordered)
    if plan.sheared:
        meta["gantry_tilt_deg"] = plan.tilt_deg
    vol = Volume(
        array=arr,
        spacing=(si, sj, plan.spacing_k),
        origin=tuple(origin),
        direction=plan.direction,
        metadata=meta,
        warnings=tuple(warnings),
    )
    report(progress, 1.0, "loaded")
    return vol


def load_dicom(
    path: str | Path,
    series: str | int | None = None,
    progress: Progress | None = None,
    *,
    uneven_spacing: str = "resample",
) -> Volume:
    """Discover ``path`` (folder or file) and load one series as a Volume.

    ``series`` is a Series Instance UID (optionally ``UID#part``) or a series
    number; by default the image series with the most slices. Files skipped by
    discovery that belong nowhere are not errors; they are listed in the warnings.
    """
    disc = discover(path, progress=sub_progress(progress, 0.0, 0.15))
    chosen = disc.find(series)
    vol = load_series(
        chosen, uneven_spacing=uneven_spacing, progress=sub_progress(progress, 0.15, 1.0)
    )
    if disc.skipped:
        extra = tuple(f"file skipped: {s}" for s in disc.skipped)
        from dataclasses import replace

        vol = replace(vol, warnings=vol.warnings + extra)
    return vol


def describe_series(series: SeriesInfo) -> dict:
    """Header-only geometry of a series, as loading would build it (no pixels read).

    Keys: ``size_ijk`` (acquired columns, rows, slices), ``spacing_mm`` (i, j, k),
    ``origin_lps_mm`` (the first acquired pixel), ``volume_size_ijk`` and
    ``volume_origin_lps_mm`` (the grid loading builds: tilt-corrected, spacing
    equalised; equal to the acquired ones otherwise), ``orientation`` (letters of
    +i, +j, +k), ``regular``,
    ``gantry_tilt_deg``, ``warnings`` (what loading would correct) and the
    series summary. Raises GeometryError for inconsistent orientation.
    """
    from surgiplan.core.imaging.volume import orientation_labels

    info = series.summary()
    if not series.frames:
        return info | {"warnings": [f"no images in this series (kind: {series.kind})"]}
    plan = plan_stack(list(series.frames))
    h = series.frames[0]
    grid = output_grid(plan, h.rows, h.cols)
    info.update(
        size_ijk=[h.cols, h.rows, len(plan.order)],
        spacing_mm=[plan.spacing_ij[0], plan.spacing_ij[1], plan.spacing_k],
        origin_lps_mm=[float(x) for x in plan.origin],
        volume_size_ijk=list(grid.size_ijk),
        volume_origin_lps_mm=[float(x) for x in grid.origin],
        orientation="".join(orientation_labels(plan.direction)),
        regular=plan.regular,
        gantry_tilt_deg=plan.tilt_deg if plan.sheared else 0.0,
        output_dtype=str(output_plan(list(series.frames)).dtype),
        warnings=list(plan.warnings) + ([plan.uneven_detail] if not plan.regular else []),
    )
    return info
