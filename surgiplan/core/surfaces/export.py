"""Export surface models as files, one per model: the segments of a segmentation
(``surgiplan model``) or the models of a case (the window's Models step)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.surfaces.mesh_io import MESH_FORMATS, write_mesh
from surgiplan.core.surfaces.models import build_models
from surgiplan.core.surfaces.repair import DebrisRemoval, WatertightReport


@dataclass
class ExportedModel:
    segment: str
    path: Path
    report: WatertightReport
    debris: DebrisRemoval | None = None

    def summary(self) -> str:
        """The watertightness line, and the debris shells removed when there were any."""
        text = self.report.summary()
        if self.debris is not None and self.debris.shells_removed:
            text += (f"; {self.debris.shells_removed} debris shell(s) removed "
                     f"({self.debris.removed_volume_mm3:.1f} mm^3)")
        return text


def _check_format(fmt: str) -> str:
    fmt = fmt.lower()
    if fmt not in MESH_FORMATS:
        raise InputError(f"unknown model format '{fmt}'", hint=f"Use one of: {', '.join(MESH_FORMATS)}.")
    return fmt


def model_file_name(name: str, fmt: str) -> str:
    """``<name>.<fmt>`` with characters other than letters, digits, ``-_.`` replaced."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + f".{fmt.lower()}"


def model_files(names: Iterable[str], out_dir: str | Path, fmt: str = "stl") -> dict[str, Path]:
    """name -> the file it is exported to in ``out_dir``; InputError when two would share a file
    (names differing only in case or in replaced characters)."""
    fmt = _check_format(fmt)
    files: dict[str, Path] = {}
    for n in names:
        f = Path(out_dir) / model_file_name(n, fmt)
        other = next((m for m, g in files.items() if g.name.lower() == f.name.lower()), None)
        if other is not None:
            raise InputError(f"models {other!r} and {n!r} would both be written to {f.name}",
                             path=out_dir, hint="Export them one at a time.")
        files[n] = f
    return files


def export_meshes(meshes: dict[str, object], out_dir: str | Path, *, fmt: str = "stl", frame: str = "LPS",
                  overwrite: bool = False, protected: Iterable[str | Path] = (),
                  progress: Progress | None = None) -> list[Path]:
    """Write each of ``meshes`` (name -> PolyData in LPS mm) to ``<out_dir>/<name>.<fmt>``.

    Every file is checked before any is written (:func:`fileio.check_output`): an existing
    file is refused unless ``overwrite``, and nothing lands inside a ``protected`` folder
    (e.g. the case). Each file goes through :func:`mesh_io.write_mesh` (atomic, verified).
    Returns the written paths, in the order of ``meshes``.

    Examples
    --------
    >>> export_meshes({"femur": f, "pelvis": p}, "/tmp/out", fmt="stl")  # doctest: +SKIP
    [PosixPath('/tmp/out/femur.stl'), PosixPath('/tmp/out/pelvis.stl')]
    """
    from surgiplan.core.fileio import check_output

    if not meshes:
        raise InputError("no models to export", hint="Select one or more models.")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("the export folder is a file", path=out_dir, hint="Choose a folder.")
    files = model_files(meshes, out_dir, fmt)
    for f in files.values():
        check_output(f, overwrite=overwrite, protected=protected)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (name, f) in enumerate(files.items()):
        written.append(write_mesh(meshes[name], f, frame=frame, name=name))
        report(progress, (i + 1) / len(files), f"{name}: written")
    return written


def export_models(
    seg, out_dir: str | Path, *, fmt: str = "stl", smooth: bool = True, decimate_to: int | None = None,
    frame: str = "LPS", segments: list[str] | None = None, progress: Progress | None = None,
) -> list[ExportedModel]:
    """Write ``<out_dir>/<segment>.<fmt>`` for each segment (all by default); returns what was written.

    An empty segment raises InputError naming it (nothing is written for it). Debris shells
    are removed as :func:`models.build_model` does.
    """
    fmt = _check_format(fmt)
    out_dir = Path(out_dir)
    built = build_models(seg, segments, smooth=smooth, decimate_to=decimate_to,
                         progress=sub_progress(progress, 0.0, 0.9))
    done = []
    for m in built:
        path = write_mesh(m.mesh, out_dir / model_file_name(m.name, fmt), frame=frame, name=m.name)
        report(progress, 1.0, f"{m.name}: written")
        done.append(ExportedModel(m.name, path, m.report, m.debris))
    return done
