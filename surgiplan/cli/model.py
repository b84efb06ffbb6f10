"""``surgiplan model``: surface models (STL/OBJ/PLY/VTP/3MF) from a segmentation."""

from __future__ import annotations

from pathlib import Path

import typer


def model(
    seg_path: Path = typer.Argument(..., metavar="SEG", help="Segmentation (.seg.nrrd or label map .nrrd/.nii.gz)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output folder for the model files."),
    fmt: str = typer.Option("stl", "--format", "-f", help="stl | obj | ply | vtp | 3mf"),
    smooth: bool = typer.Option(True, "--smooth/--no-smooth", help="Volume-preserving smoothing."),
    decimate: int = typer.Option(0, "--decimate", help="Target triangle count per model (0 = keep all)."),
    frame: str = typer.Option("LPS", "--frame", help="Coordinate frame written to the files: LPS or RAS."),
    segment: list[str] = typer.Option(None, "--segment", "-s", help="Only these segments (repeatable)."),
    scan: Path = typer.Option(None, "--scan", help="The scan: refuse a segmentation on another grid."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace model files that exist in OUTPUT."),
) -> None:
    """Make one watertight surface model per segment of SEG and write them to OUTPUT.

    Loose shells below 10 mm^3 or 1 % of a model's largest shell (noise specks) are left
    out; the largest shell's internal cavities stay. Each line says how many were removed.

    Every model is made in a hidden folder inside OUTPUT first and moved into place only
    when all are done, so a failure leaves OUTPUT as it was.
    """
    import shutil

    from surgiplan.cli.outputs import check_file, check_folder
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.errors import InputError
    from surgiplan.core.fileio import commit, ensure_folder, temp_path_for
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.segmentation.scan_source import load_scan
    from surgiplan.core.surfaces.export import export_models
    from surgiplan.core.surfaces.mesh_io import MESH_FORMATS

    fmt = fmt.lower()
    if fmt not in MESH_FORMATS:
        raise InputError(f"unknown model format '{fmt}'", hint=f"Use one of: {', '.join(MESH_FORMATS)}.")
    inputs = [seg_path, scan]
    check_folder(output, inputs, may_hold_inputs=True)
    with terminal_progress("models") as bar:
        reference = load_scan(scan) if scan is not None else None
        seg = read_segmentation(seg_path, reference=reference)
        names = list(segment or seg.names)
        for n in names:
            seg.segment(n)  # unknown names fail before any work
        files: dict[str, Path] = {}
        for n in names:
            f = output / model_file_name(n, fmt)
            other = next((m for m, g in files.items() if g.name.lower() == f.name.lower()), None)
            if other is not None:
                raise InputError(f"segments {other!r} and {n!r} would both be written to {f.name}",
                                 path=output, hint="Export them one at a time with --segment.")
            files[n] = f
        for f in files.values():  # all checked before any is written
            check_file(f, inputs, overwrite=overwrite)
        created = not output.exists()
        _remove_stale_stages(output)
        stage = temp_path_for(output / "models")
        ensure_folder(stage)
        try:
            done = export_models(seg, stage, fmt=fmt, smooth=smooth, decimate_to=decimate or None,
                                 frame=frame.upper(), segments=names, progress=bar)
            for m in done:
                final = output / m.path.name
                if final not in files.values():
                    check_file(final, inputs, overwrite=overwrite)
                m.path = commit(m.path, final)
        except BaseException:
            if created:
                shutil.rmtree(stage, ignore_errors=True)
                try:
                    output.rmdir()
                except OSError:
                    pass
            raise
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    for m in done:
        typer.echo(f"{m.path}: {m.summary()}")


def model_file_name(segment: str, fmt: str) -> str:
    """``<segment>.<fmt>`` with characters other than letters, digits, ``-_.`` replaced (as
    ``surgiplan.core.surfaces.export`` names its files)."""
    from surgiplan.core.surfaces.export import model_file_name as name_of

    return name_of(segment, fmt)


def _remove_stale_stages(output: Path) -> None:
    """Remove hidden model folders a killed ``surgiplan model`` left in ``output``."""
    import os
    import re
    import shutil

    if not output.is_dir():
        return
    for p in output.iterdir():
        m = re.match(r"^\.models\.(\d+)\.[0-9a-f]{8}\.sptmp$", p.name)
        if m and p.is_dir() and not p.is_symlink():
            try:
                os.kill(int(m.group(1)), 0)
                continue  # its process still runs
            except ProcessLookupError:
                shutil.rmtree(p, ignore_errors=True)
            except (PermissionError, OverflowError, ValueError):
                continue


def import_model(
    case_dir: Path = typer.Argument(..., metavar="CASE", help="Case folder (holds case.json)."),
    mesh_path: Path = typer.Argument(..., metavar="MESH", help="Model file: STL, OBJ, PLY, VTP or 3MF."),
    frame: str = typer.Option(None, "--frame", help="Frame of the file's coordinates, LPS or RAS "
                              "(a SPACE= marker in the file wins; default LPS)."),
    name: str = typer.Option(None, "--name", help="Model name in the case (default: the file name)."),
    replace: bool = typer.Option(False, "--replace", help="Replace a model of that name."),
    allow_open: bool = typer.Option(False, "--allow-open", help="Accept a model that is not a closed surface."),
) -> None:
    """Add the surface model MESH to CASE (converted to LPS mm); refuses open or non-manifold surfaces."""
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.surfaces.mesh_io import import_model as read_checked

    if frame is not None and frame.upper() not in ("LPS", "RAS"):
        raise InputError(f"unknown frame '{frame}'", hint="Use --frame LPS or --frame RAS.")
    case = Case.open(case_dir)  # checked first: nothing is read into a folder that is not a case
    mesh, rep = read_checked(mesh_path, frame=frame.upper() if frame else None, require_watertight=not allow_open)
    model_name = name or mesh_path.name.split(".")[0]
    if model_name in case.model_names and not replace:
        raise InputError(f"the case already has a model named '{model_name}'", path=case_dir,
                         hint="Pick another --name or pass --replace.")
    case.add_model(model_name, mesh)
    case.save()
    typer.echo(f"added model '{model_name}' to {case_dir} (LPS mm): {rep.summary()}")


def register(app: typer.Typer) -> None:
    app.command("model")(model)
    app.command("import-model")(import_model)
