"""``surgiplan plan measure``: a plan's measurements, and hand measurements (ruler, angle, diameter).

Without a tool option it lists every measurement of the plan (the plugins' rows, then the hand
measurements). With ``--ruler``, ``--angle``, ``--diameter`` or ``--circle`` it adds one hand
measurement from points typed as ``X,Y,Z`` (LPS mm), saved with the plan (one undo step, audited),
computed by :func:`surgiplan.core.planning.measurements.manual.measure` as the window's tools do.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from surgiplan.core.errors import InputError


def _point(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in text.replace(" ", "").split(",")]
    except ValueError:
        raise InputError(f"{what}: a point must be X,Y,Z (LPS mm), got {text!r}") from None
    if len(vals) != 3:
        raise InputError(f"{what}: a point must be X,Y,Z (LPS mm), got {len(vals)} numbers in {text!r}")
    return vals


def _tool(ruler, angle, diameter, circle) -> tuple[str, list[list[float]]] | None:
    given = [(k, v) for k, v in (("ruler", ruler), ("angle", angle), ("diameter", diameter),
                                 ("circle", circle)) if v]
    if len(given) > 1:
        raise InputError(f"give one of --ruler, --angle, --diameter, --circle (got {', '.join(k for k, _ in given)})")
    if not given:
        return None
    flag, pts = given[0]
    kind = "diameter" if flag == "circle" else flag
    if flag == "circle" and len(pts) < 3:
        raise InputError(f"--circle needs at least 3 points on the wall (repeat --circle X,Y,Z), got {len(pts)}")
    return kind, [_point(p, f"--{flag}") for p in pts]


def measure_cmd(
    case_path: Path = typer.Argument(..., metavar="CASE", help="Case folder."),
    plan_arg: str = typer.Argument(None, metavar="PLAN", help="Plan name (or --plan)."),
    plan_opt: str = typer.Option(None, "--plan", help="Plan name."),
    ruler: tuple[str, str] | None = typer.Option(None, "--ruler", metavar="X,Y,Z X,Y,Z",
                                                help="Two points (LPS mm): the length."),
    angle: tuple[str, str, str] | None = typer.Option(None, "--angle", metavar="X,Y,Z X,Y,Z X,Y,Z",
                                                help="Three points A V B (LPS mm): the angle at V, deg."),
    diameter: tuple[str, str] | None = typer.Option(None, "--diameter", metavar="X,Y,Z X,Y,Z",
                                             help="Two points across the lumen X,Y,Z X,Y,Z (LPS mm): diameter."),
    circle: list[str] = typer.Option(None, "--circle", metavar="X,Y,Z",
                                     help="A point on the wall (repeat, >= 3): diameter of the fitted circle."),
    name: str = typer.Option(None, "--name", help="Name of the hand measurement (default Ruler 1, Angle 1, ...)."),
    replace: bool = typer.Option(False, "--replace", help="Replace a hand measurement of the same name."),
    remove: str = typer.Option(None, "--remove", help="Remove the hand measurement of this name."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Every measurement of a plan with units and definitions; or add/remove a hand measurement."""
    from surgiplan.core.case import Case
    from surgiplan.core.planning.measurements import measure_plan
    from surgiplan.core.planning.measurements.manual import measure, next_name

    if plan_arg and plan_opt and plan_arg != plan_opt:
        raise InputError(f"two plans given: {plan_arg!r} and --plan {plan_opt!r}")
    plan = plan_opt or plan_arg
    if not plan:
        raise InputError("which plan? give PLAN or --plan NAME")
    ruler_pts = [p for p in ruler if p] if ruler else []
    angle_pts = [p for p in angle if p] if angle else []
    dia_pts = [p for p in diameter if p] if diameter else []
    tool = _tool(ruler_pts, angle_pts, dia_pts, circle or [])
    if tool is not None and remove:
        raise InputError("give either a tool (--ruler/--angle/--diameter/--circle) or --remove, not both")
    case = Case.open(case_path)
    if remove:
        case.remove_manual_measurement(plan, remove)
        case.save()
        typer.echo(json.dumps({"removed": remove}) if as_json else f"measurement {remove!r} removed from {plan!r}")
        return
    if tool is not None:
        kind, pts = tool
        case.plan(plan)  # a clear error for a wrong plan before the points
        m = measure(kind, pts, next_name(kind, case.plan(plan).manual) if name is None else name, view="cli")
        case.add_manual_measurement(plan, m, replace=replace)
        case.save()
        typer.echo(json.dumps(m.to_dict(), indent=1) if as_json else f"{m.text()} ({m.method}) in plan {plan!r}")
        return
    res = measure_plan(case, plan)
    manual = list(case.plan(plan).manual.values())
    rows = [r.to_dict() for r in res] + [
        {"key": f"manual:{m.name}", "name": m.name, "value": float(m.value), "unit": m.unit,
         "definition": m.definition, "missing": "", "details": {"group": "manual", **m.to_dict()}} for m in manual]
    lines = [f"{r.text()}    [{r.definition}]" for r in res] + [f"{m.text()}    [{m.method}]" for m in manual]
    typer.echo(json.dumps(rows, indent=1) if as_json else
               ("\n".join(lines) or "no measurements (no landmarks, implants or hand measurements)"))
