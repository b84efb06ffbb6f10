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
) -> None:
    """Make one watertight surface model per segment of SEG and write them to OUTPUT."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.segmentation.scan_source import load_scan
    from surgiplan.core.surfaces.export import export_models

    with terminal_progress("models") as bar:
        reference = load_scan(scan) if scan is not None else None
        seg = read_segmentation(seg_path, reference=reference)
        done = export_models(seg, output, fmt=fmt, smooth=smooth, decimate_to=decimate or None,
                             frame=frame.upper(), segments=segment or None, progress=bar)
    for m in done:
        typer.echo(f"{m.path}: {m.report.summary()}")


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
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning import Case
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
