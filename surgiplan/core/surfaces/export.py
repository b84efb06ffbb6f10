"""Export the segments of a segmentation as surface model files (one per segment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.surfaces.mesh_io import MESH_FORMATS, write_mesh
from surgiplan.core.surfaces.models import build_models
from surgiplan.core.surfaces.repair import WatertightReport


@dataclass
class ExportedModel:
    segment: str
    path: Path
    report: WatertightReport


def export_models(
    seg, out_dir: str | Path, *, fmt: str = "stl", smooth: bool = True, decimate_to: int | None = None,
    frame: str = "LPS", segments: list[str] | None = None, progress: Progress | None = None,
) -> list[ExportedModel]:
    """Write ``<out_dir>/<segment>.<fmt>`` for each segment (all by default); returns what was written.

    An empty segment raises InputError naming it (nothing is written for it).
    """
    fmt = fmt.lower()
    if fmt not in MESH_FORMATS:
        raise InputError(f"unknown model format '{fmt}'", hint=f"Use one of: {', '.join(MESH_FORMATS)}.")
    out_dir = Path(out_dir)
    built = build_models(seg, segments, smooth=smooth, decimate_to=decimate_to,
                         progress=sub_progress(progress, 0.0, 0.9))
    done = []
    for m in built:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in m.name)
        path = write_mesh(m.mesh, out_dir / f"{safe}.{fmt}", frame=frame, name=m.name)
        report(progress, 1.0, f"{m.name}: written")
        done.append(ExportedModel(m.name, path, m.report))
    return done
