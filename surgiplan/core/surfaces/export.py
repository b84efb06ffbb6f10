"""Export the segments of a segmentation as surface model files (one per segment)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.surfaces.decimate import decimate
from surgiplan.core.surfaces.extract import segment_to_surface
from surgiplan.core.surfaces.mesh_io import MESH_FORMATS, write_mesh
from surgiplan.core.surfaces.repair import WatertightReport, watertight_report


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
    names = segments or seg.names
    if not names:
        raise InputError("the segmentation has no segments to export")
    for n in names:
        seg.segment(n)  # unknown names fail before any work
    out_dir = Path(out_dir)
    done = []
    for idx, name in enumerate(names):
        p = sub_progress(progress, idx / len(names), (idx + 1) / len(names))
        if not seg.mask(name).any():
            raise InputError(f"segment '{name}' is empty: no model can be made from it",
                             hint="Remove it or export the other segments with --segment.")
        report(p, 0.0, f"{name}: surface")
        mesh = segment_to_surface(seg, name, smooth=smooth, progress=sub_progress(p, 0, 0.6))
        if decimate_to:
            report(p, 0.6, f"{name}: decimating to {decimate_to} triangles")
            mesh = decimate(mesh, decimate_to)
        rep = watertight_report(mesh)
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        path = write_mesh(mesh, out_dir / f"{safe}.{fmt}", frame=frame, name=name)
        report(p, 1.0, f"{name}: written")
        done.append(ExportedModel(name, path, rep))
    return done
