"""``surgiplan case add-scan`` and ``surgiplan case register``: the case's scan timeline.

``add-scan`` puts a post-operative or follow-up scan (DICOM folder or volume file) on the
timeline with its date; ``register`` aligns it rigidly to the planning scan (optionally on one
bone) and writes ``scans/<scan>/to_planning.tfm`` with a report and an overlay picture; with
``--bone`` the transform is that bone's own, ``to_planning.<bone>.tfm`` (one per vertebra for
pedicle screws), and the first registration of a scan is also its scan transform. Both
call :mod:`surgiplan.core.twin.timeline`, as the window's Data panel does.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def _print(data, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=1) if as_json else text)


def add_scan_cmd(
    path: Path = typer.Argument(..., help="Case folder."),
    source: Path = typer.Argument(..., help="DICOM folder (one series) or volume file (.nrrd, .nii.gz, .mha)."),
    date: str = typer.Option(..., "--date", help="Acquisition date, YYYY-MM-DD."),
    kind: str = typer.Option("postop", "--kind", help="postop or followup."),
    name: str = typer.Option(None, "--name", help="Scan name (default: <kind>-<date>)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Add a later scan (post-operative or follow-up) to the case's timeline and save."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.case import Case
    from surgiplan.core.twin.timeline import add_later_scan, check_date, timeline

    check_date(date)  # before any reading
    case = Case.open(path)
    with terminal_progress("add scan") as bar:
        sm = add_later_scan(case, source, date, kind, name, progress=bar)
    case.save()
    _print({"scan": sm.model_dump(), "timeline": timeline(case)}, as_json,
           f"added {sm.kind} scan {sm.name!r} of {sm.date} to {case.root}; register it with: "
           f"surgiplan case register {case.root} {sm.name!r}")


def register_cmd(
    path: Path = typer.Argument(..., help="Case folder."),
    scan: str = typer.Argument(..., help="The later scan to register to the planning scan."),
    bone: str = typer.Option(None, "--bone", help="Only this segment of the planning scan drives the fit "
                             "(e.g. pelvis, femur_left, L4)."),
    metric: str = typer.Option("auto", "--metric", help="auto, mean_squares, correlation or mutual_information."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Register a later scan rigidly to the planning scan; writes to_planning.tfm (with --bone:
    to_planning.<bone>.tfm, that bone's own), a report and a PNG."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.case import Case
    from surgiplan.core.twin.timeline import register_scan

    case = Case.open(path)
    with terminal_progress("registration") as bar:
        reg = register_scan(case, scan, bone, metric=metric, progress=bar)
    case.save()
    d = {"scan": scan, "bone": bone or "", **reg.to_dict()}
    t = reg.scan_to_planning[:3, 3]
    where = []
    if bone:
        where.append(f"{bone}'s transform {case.root / reg.details['bone_transform']}")
    if reg.details.get("scan_transform", True):
        where.append(f"scan transform {case.root / 'scans' / scan / 'to_planning.tfm'}")
    _print(d, as_json, f"registered {scan!r} to the planning scan{' on ' + bone if bone else ''}: rotation "
           f"{reg.rotation_deg:.2f} deg, translation ({t[0]:.2f}, {t[1]:.2f}, {t[2]:.2f}) mm LPS; "
           f"{reg.metric} {reg.final_metric:.4g} after {sum(reg.iterations)} iterations; "
           f"wrote {' and '.join(where)}; overlay {case.root / reg.details['overlay_png']}")
