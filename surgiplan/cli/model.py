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


def register(app: typer.Typer) -> None:
    app.command("model")(model)
