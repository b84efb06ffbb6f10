"""``surgiplan segment``: one-click segmentation presets to a .seg.nrrd."""

from __future__ import annotations

from pathlib import Path

import typer

from surgiplan.cli.outputs import OverwriteOpt, check_file


def segmentation_outputs(output: Path) -> list[Path]:
    """The files writing a segmentation to ``output`` makes: a .seg.nrrd, or a label map and its
    ``<name>.json``; InputError for a format that is not one file (.nhdr, .mhd) or unknown."""
    from surgiplan.core.errors import InputError
    from surgiplan.core.imaging.volume_io import volume_suffix

    name = output.name.lower()
    if name.endswith(".seg.nrrd"):
        return [output]
    suffix = volume_suffix(output)
    if name.endswith(".seg.nhdr") or suffix not in (".nrrd", ".nii.gz", ".nii", ".mha"):
        raise InputError("unknown segmentation format", path=output,
                         hint="Use .seg.nrrd (3D Slicer), or a .nrrd, .nii.gz or .mha label map.")
    return [output, output.with_name(output.name[: len(output.name) - len(suffix)] + ".json")]


def segment(
    scan: Path = typer.Argument(..., help="DICOM folder, volume file (.nrrd/.nii.gz/.mha) or case folder."),
    preset: str = typer.Option("bone", "--preset", "-p", help="bone | hip-bones | knee-bones | spine-bones | vessel"),
    output: Path = typer.Option(..., "--output", "-o",
                                help="Output segmentation (.seg.nrrd, or .nrrd/.nii.gz label map)."),
    seed: list[str] = typer.Option(None, "--seed", "-s", metavar="NAME=X,Y,Z",
                                   help="A point (LPS mm) anywhere inside bone NAME; repeat per bone (and for "
                                        "more points). The preset's bone is separated and named from the seeds."),
    partial_volume: bool = typer.Option(True, "--partial-volume/--fixed-threshold",
                                        help="bone preset: move the 200 HU surface (by at most 1.5 mm) to half-way "
                                             "between the local cortex and soft tissue (the default: right volume "
                                             "and area), or keep the fixed 200 HU surface."),
    strict: bool = typer.Option(False, "--strict", help="Refuse (write nothing, exit non-zero) when the result "
                                                        "is doubtful against anatomy."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output: the segments (name, voxels, "
                                                         "mL, mean HU), the doubts and the file written."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Segment SCAN with a preset and write the segmentation; prints per-segment statistics.

    Every result is checked against anatomy (volume per bone, left/right symmetry, femoral head
    radius, pieces): doubts are printed as a WARNING block with what to do, and the result is
    written anyway unless --strict.
    """
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.errors import InputError
    from surgiplan.core.jobs import sub_progress
    from surgiplan.core.segmentation import write_segmentation
    from surgiplan.core.segmentation.plausibility import check_anatomy, check_bone_segments
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan
    from surgiplan.core.segmentation.seeded import preset_with_seeds, seeds_from_texts

    seeds = seeds_from_texts(seed) if seed else None  # malformed seeds fail before any work
    for out in segmentation_outputs(output):
        check_file(out, [scan], overwrite=overwrite)
    with terminal_progress(f"segment {preset}") as bar:
        volume = load_scan(scan, progress=sub_progress(bar, 0.0, 0.3))
        opts = {} if partial_volume else {"partial_volume": False}
        if seeds:
            seg = preset_with_seeds(volume, preset, seeds, progress=sub_progress(bar, 0.3, 0.9), **opts)
        else:
            seg = apply_preset(volume, preset, progress=sub_progress(bar, 0.3, 0.9), **opts)
        doubts = check_bone_segments(volume, seg) + check_anatomy(volume, seg)
        if doubts and strict:
            raise InputError("the segmentation is doubtful (--strict): " + " | ".join(d.message for d in doubts),
                             path=scan, hint="Add seeds (--seed NAME=X,Y,Z) or drop --strict to write it anyway.")
        write_segmentation(seg, output)
    if as_json:
        import json

        typer.echo(json.dumps({
            "preset": preset, "output": str(output),
            "segments": [{"name": st.name, "voxels": int(st.voxels), "volume_ml": round(float(st.volume_ml), 3),
                          "mean_hu": None if st.mean is None else round(float(st.mean), 1)}
                         for st in seg.statistics(volume)],
            "doubts": [{"segment": d.segment, "kind": d.kind, "message": d.message} for d in doubts],
        }, indent=2))
        return
    for st in seg.statistics(volume):
        hu = f", {st.mean:.0f} +/- {st.sd:.0f} HU" if st.mean is not None else ""
        typer.echo(f"{st.name}: {st.voxels} voxels, {st.volume_ml:.1f} mL{hu}")
    if doubts:
        typer.echo("WARNING: this segmentation is doubtful:", err=True)
        for d in doubts:
            typer.echo(f"WARNING:   {d.message}", err=True)
    typer.echo(f"wrote {output}")


def export_dicom_seg(
    seg_path: Path = typer.Argument(..., metavar="SEG", help="Segmentation (.seg.nrrd or label map .nrrd/.nii.gz)."),
    dicom_dir: Path = typer.Argument(..., metavar="SCAN_DICOM_DIR",
                                     help="The DICOM series the segmentation was made on."),
    output: Path = typer.Option(..., "--output", "-o", help="Output DICOM SEG file (.dcm)."),
    description: str = typer.Option("surgiplan segmentation", "--description", help="Series description."),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Write SEG as a DICOM Segmentation object referencing the slices of SCAN_DICOM_DIR."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.errors import InputError
    from surgiplan.core.jobs import sub_progress
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.segmentation.dicom_seg import export_dicom_seg as export
    from surgiplan.core.segmentation.scan_source import load_scan

    if not dicom_dir.is_dir():
        raise InputError("not a DICOM folder", path=dicom_dir, hint="Pass the folder of the scan's DICOM series.")
    check_file(output, [seg_path, dicom_dir], overwrite=overwrite)
    with terminal_progress("DICOM SEG") as bar:
        volume = load_scan(dicom_dir, progress=sub_progress(bar, 0.0, 0.4))
        seg = read_segmentation(seg_path, reference=volume)  # GeometryError when made on another grid
        if volume.metadata.get("series_uid"):
            seg.metadata["series_uid"] = volume.metadata["series_uid"]  # reference that series only
        out = export(seg, dicom_dir, output, series_description=description, progress=sub_progress(bar, 0.4, 1.0))
    names = ", ".join(s.name for s in seg.segments)
    typer.echo(f"wrote {out}: {len(seg.segments)} segments ({names}), {seg.shape[0]} slices referenced")


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
    app.command("export-dicom-seg")(export_dicom_seg)
