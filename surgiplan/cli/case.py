"""``surgiplan case``: create a case folder, show what it holds, add models, fit landmarks."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Case folders: new, info, add-model, set-landmark, fit-landmarks, recover, add-scan, "
                  "register.", no_args_is_help=True)


def _print(data, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=1) if as_json else text)


@app.command("new")
def new(
    path: Path = typer.Argument(..., help="Folder to create (must not exist or be empty)."),
    name: str = typer.Option(None, "--name", help="Case name (default: the folder name)."),
    patient_name: str = typer.Option("", "--patient-name"),
    patient_id: str = typer.Option("", "--patient-id"),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Create an empty case folder."""
    from surgiplan.cli.outputs import enclosing_cases
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.fileio import check_name_length

    check_name_length(path)
    around = enclosing_cases(path.parent)
    if around:  # only a case's own save writes inside it
        raise InputError(f"a new case may not be made inside the case folder {around[0]}", path=path,
                         hint="Choose a folder outside it.")
    case = Case.new(path, name, patient_name=patient_name, patient_id=patient_id)
    _print(case.info(), as_json, f"created case {case.model.name!r} in {case.root}")


@app.command("info")
def info(
    path: Path = typer.Argument(..., help="Case folder."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Show a case: patient, scans, models, landmarks, plans (and an autosave to recover)."""
    from surgiplan.core.case import Case
    from surgiplan.core.case.autosave import find_autosave

    case = Case.open(path)
    d = case.info()
    auto = find_autosave(case.root)
    d["autosave"] = None if auto is None else {"path": str(auto.path), "saved_at": auto.saved_at}
    lines = [f"case {d['case']} ({d['path']}), schema version {d['schema_version']}",
             f"patient: {d['patient']['name'] or '-'} {d['patient']['id'] or ''}".rstrip(),
             f"scans: {', '.join(s['name'] + ' (' + s['kind'] + ')' for s in d['scans']) or 'none'}",
             f"models: {', '.join(d['models']) or 'none'}",
             f"landmarks: {len(d['landmarks'])}",
             f"plans: {len(d['plans'])}"]
    for p in d["plans"]:
        lock = f", locked by {p['locked']['by']} at {p['locked']['at']}" if p["locked"] else ""
        lines.append(f"  {p['name']}: {p['implants']} implant(s){lock}{' - ' + p['note'] if p['note'] else ''}")
    if auto is not None:
        lines.append(f"an autosave from {auto.saved_at} is newer than the case ({auto.path})")
    _print(d, as_json, "\n".join(lines))


@app.command("add-model")
def add_model(
    path: Path = typer.Argument(..., help="Case folder."),
    name: str = typer.Argument(..., help="Model name, e.g. pelvis, femur_left."),
    mesh: Path = typer.Argument(..., help="Surface file: STL, OBJ, PLY, VTP or 3MF."),
    frame: str = typer.Option(None, "--frame", help="Frame of the file's coordinates, LPS or RAS "
                              "(a SPACE= marker in the file wins; default LPS)."),
    allow_open: bool = typer.Option(False, "--allow-open", help="Accept a model that is not a closed surface."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add (or replace) the surface model NAME of the case, checked as `surgiplan import-model` checks it."""
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.surfaces.mesh_io import import_model as read_checked

    if frame is not None and frame.upper() not in ("LPS", "RAS"):
        raise InputError(f"unknown frame '{frame}'", hint="Use --frame LPS or --frame RAS.")
    case = Case.open(path)  # checked first: nothing is read into a folder that is not a case
    m, rep = read_checked(mesh, frame=frame.upper() if frame else None, require_watertight=not allow_open)
    case.add_model(name, m)
    case.save()
    _print({"model": name, "n_points": int(m.n_points), "n_cells": int(m.n_cells), "report": rep.summary()},
           as_json, f"added model {name!r} ({m.n_cells} triangles, LPS mm) to {case.root}: {rep.summary()}")


@app.command("set-landmark")
def set_landmark(
    path: Path = typer.Argument(..., help="Case folder."),
    name: str = typer.Argument(..., help="Landmark name, e.g. hip_centre, ankle_centre."),
    at: str = typer.Option(..., "--at", help="X,Y,Z in LPS mm."),
    direction: str = typer.Option(None, "--direction", help="DX,DY,DZ (an axis landmark), LPS."),
    source: str = typer.Option("manual", "--source", help="manual, imported (e.g. from a long-leg study), "
                               "fitted or ground_truth."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Set a case landmark (e.g. the hip and ankle centres a knee CT does not show) and save."""
    import math

    from surgiplan.cli.plan import _floats
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError

    pos = _floats(at, 3, "--at")
    d = _floats(direction, 3, "--direction")
    if not all(math.isfinite(v) for v in pos + (d or [])):
        raise InputError(f"--at/--direction must be finite numbers, got {at!r} / {direction!r}")
    if d is not None and math.hypot(*d) < 1e-9:
        raise InputError("--direction must not be the zero vector")
    if source not in ("manual", "imported", "fitted", "ground_truth"):
        raise InputError(f"--source must be manual, imported, fitted or ground_truth, not {source!r}")
    case = Case.open(path)
    case.set_landmark(name, pos, d, source=source)
    case.save()
    lm = case.landmarks[name]
    _print({"landmark": name, "position": lm.position.tolist(),
            "direction": None if lm.direction is None else lm.direction.tolist(), "source": source}, as_json,
           f"{name}: ({', '.join(f'{x:.1f}' for x in lm.position)}) mm set in {case.root}")


@app.command("fit-landmarks")
def fit_landmarks(
    path: Path = typer.Argument(..., help="Case folder."),
    anatomy: str = typer.Option("hip", "--anatomy", help="hip (models pelvis, femur_left/right), knee (femur, "
                                "tibia + hip_centre, ankle_centre landmarks) or spine (vertebra models L1..L5)."),
    plan: str = typer.Option(None, "--plan", help="Plan whose landmarks override the case's (knee: hip "
                             "and ankle centres) and whose implants decide the side."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Fit anatomical landmarks automatically on the case's bone models and save them."""
    from surgiplan.cli.progress import terminal_progress
    from surgiplan.core.case import Case
    from surgiplan.core.planning.auto_landmarks import fit_case_landmarks

    case = Case.open(path)
    with terminal_progress("landmarks") as bar:
        lms = fit_case_landmarks(case, anatomy, progress=bar, plan=plan)
    case.save()
    data = {k: {"position": v.position.tolist(),
                "direction": None if v.direction is None else v.direction.tolist(),
                "definition": v.definition} for k, v in lms.items()}
    text = "\n".join(f"{k}: ({', '.join(f'{x:.1f}' for x in v.position)}) mm - {v.definition}"
                     for k, v in lms.items())
    _print(data, as_json, text)


@app.command("recover")
def recover(
    path: Path = typer.Argument(..., help="Case folder."),
    discard: bool = typer.Option(False, "--discard", help="Delete the autosave instead of recovering it."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Recover the autosave newer than the case (saving it into the case), or discard it."""
    from surgiplan.core.case.autosave import discard_autosave, find_autosave, recover_autosave
    from surgiplan.core.errors import InputError

    auto = find_autosave(path)
    if auto is None:
        raise InputError("no autosave newer than this case", path=path)
    if discard:
        discard_autosave(path)
        _print({"discarded": str(auto.path)}, as_json, f"discarded the autosave from {auto.saved_at}")
        return
    case = recover_autosave(path)
    case.save()
    discard_autosave(path)
    _print(case.info(), as_json, f"recovered the autosave from {auto.saved_at} into {case.root}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="case")


from surgiplan.cli.case_twin import add_scan_cmd, register_cmd  # noqa: E402 - the scan timeline

app.command("add-scan")(add_scan_cmd)
app.command("register")(register_cmd)
