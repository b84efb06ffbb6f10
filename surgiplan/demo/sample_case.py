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
    from surgiplan.core.case import Case
    from surgiplan.core.imaging import load_dicom
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.surfaces import mesh_area, mesh_volume
    from surgiplan.core.surfaces.models import build_models

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
    built = build_models(seg, names, smooth=True, decimate_to=MODEL_TRIANGLES,
                         progress=sub_progress(progress, 0.6, 0.95))
    for m in built:
        case.add_model(m.name, m.mesh, scan="planning", segment=m.name)
        models.append(
            ModelSummary(
                name=m.name,
                triangles=int(m.mesh.n_cells),
                area_mm2=float(mesh_area(m.mesh)),
                volume_ml=float(mesh_volume(m.mesh)) / 1000.0,
                watertight=bool(m.report.watertight),
                problems=[] if m.report.watertight else [m.report.summary()],
            )
        )
    case.save()
    report(progress, 1.0, "case ready")
    return case, volume, seg, models
