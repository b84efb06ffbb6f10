"""Build a planning case from a sample scan: the first half of the demo and of the
window's "Open sample" action.

sample scan (DICOM, generated when missing) -> our DICOM importer -> one-click
segmentation preset -> smoothed, decimated, watertight surface models -> a case
folder holding scan, segmentation and models. Everything in LPS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress

#: anatomy -> (sample name, segmentation preset)
ANATOMIES: dict[str, tuple[str, str]] = {
    "hip": ("hip", "hip-bones"),
    "knee": ("knee", "knee-bones"),
    "spine": ("spine", "spine-bones"),
    "vascular": ("vascular", "vessel"),
}

#: models are decimated to at most this many triangles (interactive on software OpenGL)
MODEL_TRIANGLES = 200_000


@dataclass
class ModelSummary:
    """One surface model built for the case."""

    name: str
    triangles: int
    area_mm2: float
    volume_ml: float
    watertight: bool
    problems: list[str] = field(default_factory=list)


def build_sample_case(
    anatomy: str,
    case_dir: str | Path,
    *,
    size: str = "small",
    progress: Progress | None = None,
):
    """Create case folder ``case_dir`` from the ``anatomy`` sample scan.

    Returns ``(case, volume, segmentation, models)`` where ``models`` is a list of
    :class:`ModelSummary`. The case is saved. Raises InputError for an unknown
    anatomy or when ``case_dir`` exists and is not empty.
    """
    from surgiplan.core.imaging import load_dicom
    from surgiplan.core.planning import Case
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.surfaces import (
        decimate,
        mesh_area,
        mesh_volume,
        segment_to_surface,
        watertight_report,
    )

    if anatomy not in ANATOMIES:
        raise InputError(f"unknown sample case '{anatomy}'", hint=f"Use one of: {', '.join(ANATOMIES)}.")
    sample_name, preset = ANATOMIES[anatomy]
    report(progress, 0.0, f"sample scan '{sample_name}' ({size})")
    sample = sample_path(sample_name, size=size, progress=sub_progress(progress, 0.0, 0.25))
    report(progress, 0.25, "loading the DICOM series")
    volume = load_dicom(sample.dicom_dir, progress=sub_progress(progress, 0.25, 0.35))
    report(progress, 0.35, f"segmenting with preset '{preset}'")
    seg = apply_preset(volume, preset, progress=sub_progress(progress, 0.35, 0.6))
    case = Case.new(
        case_dir,
        name=Path(case_dir).name,
        patient_name=str(volume.metadata.get("patient_name", "")),
        patient_id=str(volume.metadata.get("patient_id", "")),
    )
    case.add_scan("planning", volume, segmentation=seg)
    models: list[ModelSummary] = []
    names = [s.name for s in seg.segments]
    for n, name in enumerate(names):
        lo = 0.6 + 0.35 * n / len(names)
        hi = 0.6 + 0.35 * (n + 1) / len(names)
        report(progress, lo, f"surface model '{name}'")
        mesh = segment_to_surface(seg, name, smooth=True, progress=sub_progress(progress, lo, hi))
        if mesh.n_cells > MODEL_TRIANGLES:
            mesh = decimate(mesh, MODEL_TRIANGLES)
        wt = watertight_report(mesh)
        case.add_model(name, mesh, scan="planning", segment=name)
        models.append(
            ModelSummary(
                name=name,
                triangles=int(mesh.n_cells),
                area_mm2=float(mesh_area(mesh)),
                volume_ml=float(mesh_volume(mesh)) / 1000.0,
                watertight=bool(wt.watertight),
                problems=[] if wt.watertight else [wt.summary()],
            )
        )
    case.save()
    report(progress, 1.0, "case ready")
    return case, volume, seg, models
