"""``surgiplan scan``: list, inspect, convert and de-identify DICOM studies.

Thin: parse, call one core function, print (rich tables; ``--json`` for scripts).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from surgiplan.cli.outputs import OverwriteOpt

scan_app = typer.Typer(
    help="DICOM studies: list series, show one, convert to NRRD/NIfTI/MHA, de-identify.",
    no_args_is_help=True,
)


def _console():
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=160)


def _fmt_mm(values, digits: int = 3) -> str:
    if not values:
        return "-"
    return " x ".join(f"{v:.{digits}g}" for v in values) + " mm"


@scan_app.command("list")
def list_cmd(
    path: Path = typer.Argument(..., help="Folder (searched recursively) or DICOM file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List patients, studies and series under PATH (headers only, fast)."""
    from rich.table import Table

    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.imaging import discover

    with terminal_progress("Scanning") as bar:
        disc = discover(path, progress=bar)
    if as_json:
        typer.echo(json.dumps(disc.to_dict(), indent=1))
        return
    con = _console()
    table = Table(title=f"{len(disc.series)} series in {disc.n_files} files under {path}")
    for col in (
        "patient",
        "study",
        "#",
        "modality",
        "kind",
        "slices",
        "matrix",
        "pixel",
        "spacing",
        "description",
        "series UID",
    ):
        table.add_column(col, overflow="fold")
    for s in disc.series:
        flag = s.kind if s.is_image_series else f"[yellow]{s.kind}[/]"
        table.add_row(
            f"{s.patient_name or '-'} ({s.patient_id or '-'})",
            f"{s.study_date or '-'} {s.study_description}".strip(),
            str(s.series_number if s.series_number is not None else "-"),
            s.modality,
            flag,
            str(s.n_slices),
            "x".join(map(str, s.matrix)) if s.matrix else "-",
            _fmt_mm(s.pixel_spacing),
            f"{s.slice_spacing:.3g} mm" if s.slice_spacing else "-",
            s.description or "-",
            s.key + (f" (split: {s.split_reason})" if s.split_reason else ""),
        )
    con.print(table)
    _print_skipped(con, disc.skipped)


def _print_skipped(con, skipped) -> None:
    if skipped:
        con.print(f"[yellow]{len(skipped)} file(s) skipped:[/]")
        for s in skipped:
            con.print(f"  {s.path}: {s.reason}", markup=False)


@scan_app.command("info")
def info_cmd(
    path: Path = typer.Argument(..., help="Folder or DICOM file."),
    series: str = typer.Option(
        None, "--series", help="Series Instance UID (or UID#part) or series number."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Geometry of one series (default: the largest image series), without reading pixels."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.imaging import discover
    from surgiplan.core.imaging.dicom_loader import describe_series

    with terminal_progress("Scanning") as bar:
        disc = discover(path, progress=bar)
    info = describe_series(disc.find(series))
    info["skipped"] = [{"path": str(s.path), "reason": s.reason} for s in disc.skipped]
    if as_json:
        typer.echo(json.dumps(info, indent=1))
        return
    con = _console()
    rows = [
        ("patient", f"{info['patient_name'] or '-'} (ID {info['patient_id'] or '-'})"),
        ("study", f"{info['study_date'] or '-'} {info['study_description']}  {info['study_uid']}"),
        ("series", f"{info['series_number']} '{info['description']}'  {info['key']}"),
        ("modality / kind", f"{info['modality']} / {info['kind']}"),
        ("slices", f"{info['n_slices']} in {info['n_files']} file(s)"),
    ]
    if "size_ijk" in info:
        rows += [
            ("matrix", " x ".join(map(str, info["size_ijk"])) + " voxels (i x j x k)"),
            ("spacing", _fmt_mm(info["spacing_mm"], 5)),
            ("origin (LPS)", "(" + ", ".join(f"{v:.2f}" for v in info["origin_lps_mm"]) + ") mm"),
            ("axes +i +j +k", info["orientation"]),
            ("values", info["output_dtype"] + (" HU" if info["modality"] == "CT" else "")),
            ("gantry tilt", f"{info['gantry_tilt_deg']:.1f} deg"),
            ("regular spacing", "yes" if info["regular"] else "no"),
            ("transfer syntax", ", ".join(info["transfer_syntaxes"])),
        ]
    for k, v in rows:
        con.print(f"[bold]{k:>16}[/]  {v}", soft_wrap=True)
    for w in info["warnings"]:
        con.print(f"[yellow]warning:[/] {w}", soft_wrap=True)
    _print_skipped(con, disc.skipped)


@scan_app.command("convert")
def convert_cmd(
    path: Path = typer.Argument(..., help="Folder or DICOM file."),
    out: Path = typer.Argument(..., help="Output volume: .nrrd, .nii.gz or .mha."),
    series: str = typer.Option(
        None, "--series", help="Series Instance UID (or UID#part) or series number."
    ),
    uneven: str = typer.Option(
        "resample", "--uneven", help="Uneven slice spacing: resample (default) or refuse."
    ),
    overwrite: bool = OverwriteOpt,
) -> None:
    """Load one series into a volume file (LPS geometry; NIfTI stored as RAS)."""
    from surgiplan.cli.outputs import check_file
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.errors import InputError
    from surgiplan.core.imaging import load_dicom, write_volume
    from surgiplan.core.imaging.volume_io import volume_suffix

    if volume_suffix(out) not in (".nrrd", ".nii.gz", ".nii", ".mha"):  # one file each (not .nhdr/.mhd)
        raise InputError("the output must end in .nrrd, .nii.gz, .nii or .mha", path=out,
                         hint="Detached headers (.nhdr, .mhd) are not written: they are two files.")
    if uneven not in ("resample", "refuse"):
        raise InputError(f"--uneven must be 'resample' or 'refuse', not '{uneven}'")
    check_file(out, [path], overwrite=overwrite)
    with terminal_progress("Loading DICOM") as bar:
        vol = load_dicom(path, series=series, progress=bar, uneven_spacing=uneven)
    write_volume(vol, out)
    con = _console()
    con.print(f"wrote {out}: {vol.describe()}", markup=False, soft_wrap=True)
    for w in vol.warnings:
        con.print(f"[yellow]warning:[/] {w}", soft_wrap=True)


@scan_app.command("deidentify")
def deidentify_cmd(
    path: Path = typer.Argument(..., help="Folder of DICOM files (never modified)."),
    out_dir: Path = typer.Argument(
        ..., help="New folder for the de-identified copy (must not exist or be empty)."
    ),
    keep_dates: bool = typer.Option(
        False, "--keep-dates", help="Retain Longitudinal Temporal Information with Full Dates."
    ),
    option: list[str] = typer.Option(
        [], "--option", help="Further PS3.15 options, e.g. retain_device_identity."
    ),
) -> None:
    """Copy PATH to OUT_DIR with the PS3.15 Basic Application Level Confidentiality Profile."""
    from surgiplan.cli.outputs import check_folder
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.imaging.deidentify import deidentify

    check_folder(out_dir, [path])  # never into the input, a case or a read-only place
    opts = list(option) + (["retain_longitudinal_full_dates"] if keep_dates else [])
    with terminal_progress("De-identifying") as bar:
        result = deidentify(path, out_dir, options=tuple(opts), progress=bar)
    con = _console()
    con.print(
        f"wrote {result.n_written} de-identified file(s) to {out_dir} "
        f"({len(result.uid_map)} UIDs remapped; options: {', '.join(result.options) or 'none'})",
        markup=False,
        soft_wrap=True,
    )
    _print_skipped(con, result.skipped)


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app, name="scan")
