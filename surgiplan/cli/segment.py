"""``surgiplan segment``: one-click segmentation presets to a .seg.nrrd."""

from __future__ import annotations

from pathlib import Path

import typer


def segment(
    scan: Path = typer.Argument(..., help="DICOM folder, volume file (.nrrd/.nii.gz/.mha) or case folder."),
    preset: str = typer.Option("bone", "--preset", "-p", help="bone | hip-bones | knee-bones | spine-bones | vessel"),
    output: Path = typer.Option(..., "--output", "-o", help="Output segmentation (.seg.nrrd, or .nrrd/.nii.gz label map)."),
) -> None:
    """Segment SCAN with a preset and write the segmentation; prints per-segment statistics."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.jobs import sub_progress
    from surgiplan.core.segmentation import write_segmentation
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan

    with terminal_progress(f"segment {preset}") as bar:
        volume = load_scan(scan, progress=sub_progress(bar, 0.0, 0.3))
        seg = apply_preset(volume, preset, progress=sub_progress(bar, 0.3, 0.95))
        write_segmentation(seg, output)
    for st in seg.statistics(volume):
        hu = f", {st.mean:.0f} +/- {st.sd:.0f} HU" if st.mean is not None else ""
        typer.echo(f"{st.name}: {st.voxels} voxels, {st.volume_ml:.1f} mL{hu}")
    typer.echo(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
