"""``surgiplan plan``: new, copy, place, move, measure, compare, lock (all saved to the case)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(help="Plans of a case: new, copy, place, move, measure, compare, lock.",
                  no_args_is_help=True)

CaseArg = typer.Argument(..., metavar="CASE", help="Case folder.")
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _floats(text: str | None, n: int, what: str) -> list[float] | None:
    from surgiplan.core.errors import InputError

    if text is None:
        return None
    try:
        vals = [float(x) for x in text.replace(" ", "").split(",")]
    except ValueError:
        raise InputError(f"{what} must be {n} numbers separated by commas, got {text!r}") from None
    if len(vals) != n:
        raise InputError(f"{what} must be {n} numbers separated by commas, got {len(vals)}")
    return vals


def _implant_dict(imp) -> dict:
    return {"id": imp.id, "catalog_id": imp.catalog_id, "size": imp.size, "side": imp.side, "bone": imp.bone,
            "options": imp.options, "transform": imp.transform.tolist()}


def _out(data, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=1) if as_json else text)


@app.command("new")
def new(case_path: Path = CaseArg, name: str = typer.Argument(..., help="Plan name."),
        note: str = typer.Option("", "--note"), as_json: bool = JsonOpt) -> None:
    """Add an empty plan."""
    from surgiplan.core.case import Case

    case = Case.open(case_path)
    plan = case.new_plan(name, note)
    case.save()
    _out(plan.to_dict(), as_json, f"plan {name!r} added to {case.root}")


@app.command("copy")
def copy(case_path: Path = CaseArg, source: str = typer.Argument(...), new_name: str = typer.Argument(...),
         as_json: bool = JsonOpt) -> None:
    """Duplicate a plan (the copy is unlocked)."""
    from surgiplan.core.case import Case

    case = Case.open(case_path)
    plan = case.copy_plan(source, new_name)
    case.save()
    _out(plan.to_dict(), as_json, f"plan {source!r} copied to {new_name!r}")


@app.command("place")
def place(
    case_path: Path = CaseArg,
    plan: str = typer.Argument(...),
    implant_id: str = typer.Argument(..., help="Name of the implant in the plan, e.g. cup."),
    catalog_id: str = typer.Option(..., "--implant", help="Catalog id, e.g. hip_cup (see resources/implants)."),
    size: str = typer.Option(..., "--size"),
    side: str = typer.Option("none", "--side", help="left | right | none"),
    bone: str = typer.Option(None, "--bone", help="Bone model it sits in (for interference; default: pelvis for a "
                             "cup, femur_<side> for a stem, when the case has it)."),
    at: str = typer.Option(None, "--at", help="X,Y,Z in LPS mm."),
    at_landmark: str = typer.Option(None, "--at-landmark", help="Put the implant origin on this landmark."),
    inclination: float = typer.Option(None, "--inclination", help="Cup radiographic inclination, deg."),
    anteversion: float = typer.Option(None, "--anteversion", help="Cup radiographic anteversion, deg."),
    canal_axis: bool = typer.Option(False, "--canal-axis", help="Stem axis on femoral_canal_axis_<side>."),
    start: bool = typer.Option(False, "--start", help="The window's starting pose: a cup at 40/15 deg on "
                               "acetabular_centre_<side>, a stem on the canal axis, else at --at."),
    option: list[str] = typer.Option(None, "--option", help="KEY=VALUE, e.g. head=32/+4 (repeatable)."),
    replace: bool = typer.Option(False, "--replace", help="Replace the plan's implant of the same kind and "
                                 "side (and level, for a pedicle screw with --bone) in one undo step, keeping "
                                 "its id (IMPLANT_ID is then ignored), as the window's Place does. Without "
                                 "it, a second stem or cup is added beside the first. Rods, stents, plates "
                                 "and cages are never replaced."),
    as_json: bool = JsonOpt,
) -> None:
    """Place an implant from the catalog.

    A plan has one cup, liner, head, stem and knee component per side and one pedicle
    screw per level and side: --replace swaps that one for the new implant (same id, so
    `plan compare` compares them); without --replace the implant is always added.
    """
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.operations import implant_to_replace, place_implant

    opts = {}
    for o in option or []:
        if "=" not in o:
            raise InputError(f"--option must be KEY=VALUE, got {o!r}")
        k, v = o.split("=", 1)
        opts[k] = v
    case = Case.open(case_path)
    old = implant_to_replace(case, plan, catalog_id, side, bone) if replace else None
    replaced = None if old is None else _implant_dict(old)
    imp = place_implant(case, plan, implant_id, catalog_id, size, at=_floats(at, 3, "--at"),
                        at_landmark=at_landmark, inclination=inclination, anteversion=anteversion,
                        on_canal_axis=canal_axis, side=side, bone=bone, options=opts or None,
                        start=start, replace_same_kind=replace)
    case.save()
    p = imp.transform[:3, 3]
    data = _implant_dict(imp)
    if replace:
        data["replaced"] = replaced
    what = "placed" if old is None else f"replaced {old.id} ({old.catalog_id} size {old.size}) with"
    _out(data, as_json, f"{what} {imp.id} ({catalog_id} size {size}) in plan {plan!r} at "
         f"({p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f}) mm LPS")


@app.command("move")
def move(
    case_path: Path = CaseArg,
    plan: str = typer.Argument(...),
    implant_id: str = typer.Argument(...),
    translate: str = typer.Option(None, "--translate", help="DX,DY,DZ in mm."),
    rotate: str = typer.Option(None, "--rotate", help="AXIS:DEG, AXIS = x|y|z, e.g. z:5."),
    frame: str = typer.Option("own", "--frame", help="own | world | pelvis axes for the numbers."),
    snap_to: str = typer.Option(None, "--snap-to", help="Bone model to snap the implant origin onto."),
    as_json: bool = JsonOpt,
) -> None:
    """Move an implant by exact numbers or snap it to a bone surface."""
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.operations import move_implant

    rot = None
    if rotate is not None:
        axis, _, deg = rotate.partition(":")
        if axis not in ("x", "y", "z") or not deg:
            raise InputError(f"--rotate must be AXIS:DEG with AXIS x, y or z, got {rotate!r}")
        try:
            rot = (axis, float(deg))
        except ValueError:
            raise InputError(f"--rotate angle must be a number of degrees, got {deg!r}") from None
    case = Case.open(case_path)
    t = move_implant(case, plan, implant_id, translate=_floats(translate, 3, "--translate"), rotate=rot,
                     frame=frame, snap_to=snap_to)
    case.save()
    p = t[:3, 3]
    _out(_implant_dict(case.implant(plan, implant_id)), as_json,
         f"moved {implant_id} in plan {plan!r}; origin now ({p[0]:.2f}, {p[1]:.2f}, {p[2]:.2f}) mm LPS")


@app.command("set-angles")
def set_angles(
    case_path: Path = CaseArg,
    plan: str = typer.Option(..., "--plan", help="Plan name."),
    implant_id: str = typer.Option(..., "--implant", help="Id of the cup, liner or stem in the plan."),
    inclination: float = typer.Option(None, "--inclination", help="Cup inclination, deg."),
    anteversion: float = typer.Option(None, "--anteversion", help="Cup anteversion, deg."),
    convention: str = typer.Option("radiographic", "--convention",
                                   help="radiographic | operative | anatomical (Murray 1993)."),
    version: float = typer.Option(None, "--version", help="Stem version, deg (positive = anteversion)."),
    depth: float = typer.Option(None, "--depth", help="Stem depth, mm: prosthetic head centre distal to the "
                                "native femoral head centre along the canal axis."),
    as_json: bool = JsonOpt,
) -> None:
    """Type a cup's inclination/anteversion or a stem's version/depth (as the window's Plan panel).

    Angles are in the pelvic frame of the case's ASIS and pubic tubercle landmarks
    (scanner axes without them); one undo step; values left out keep the implant's.
    """
    from surgiplan.core.case import Case
    from surgiplan.core.planning.hip_angles import set_hip_angles
    from surgiplan.core.planning.names import human_name

    case = Case.open(case_path)
    r = set_hip_angles(case, plan, implant_id, inclination=inclination, anteversion=anteversion,
                       convention=convention, version=version, depth=depth)
    case.save()
    if "inclination_deg" in r:
        text = (f"{human_name(implant_id)} in plan {plan!r}: inclination {r['inclination_deg']:.1f} deg, anteversion "
                f"{r['anteversion_deg']:.1f} deg ({r['convention']}, {r['reference']})")
    else:
        dep = "n/a" if r["depth_mm"] is None else f"{r['depth_mm']:.1f} mm"
        text = (f"{human_name(implant_id)} in plan {plan!r}: version {r['version_deg']:.1f} deg, depth {dep} "
                f"({r['reference']})")
    _out(r, as_json, text)


@app.command("cut")
def cut(
    case_path: Path = CaseArg,
    plan: str = typer.Argument(...),
    cut_name: str = typer.Argument(..., metavar="CUT", help="distal_femur or proximal_tibia."),
    depth: float = typer.Option(None, "--depth", help="Resection depth, mm (default 9)."),
    varus: float = typer.Option(0.0, "--varus", help="Varus (+) / valgus (-) angle, deg."),
    slope: float = typer.Option(None, "--slope", help="Posterior slope, deg (default 0 femur, 3 tibia)."),
    as_json: bool = JsonOpt,
) -> None:
    """Set a knee resection by depth and angles (as the window's Resections group) and print its readout."""
    from surgiplan.core.case import Case
    from surgiplan.core.planning.knee_cuts import knee_cut_readout, set_knee_cut

    case = Case.open(case_path)
    set_knee_cut(case, plan, cut_name, depth, varus, slope)
    case.save()
    r = knee_cut_readout(case, plan, cut_name)
    from surgiplan.core.planning.names import human_name

    _out(r.to_dict(), as_json, f"{human_name(cut_name)} in plan {plan!r}: depth {r.depth_mm:.1f} mm, varus/valgus "
         f"{r.varus_valgus_deg:.1f} deg, slope {r.slope_deg:.1f} deg; resected thickness lateral "
         f"{r.thickness_mm['lateral']:.1f} mm, medial {r.thickness_mm['medial']:.1f} mm")


from surgiplan.cli.plan_measure import measure_cmd  # noqa: E402 - plan measure (+ hand measurements)

app.command("measure")(measure_cmd)
from surgiplan.cli.plan_achieved import achieved_cmd  # noqa: E402 - achieved vs planned (core/twin)

app.command("achieved")(achieved_cmd)


@app.command("compare")
def compare(
    case_path: Path = CaseArg,
    plans: list[str] = typer.Argument(..., help="Two or more plan names."),
    target: list[str] = typer.Option(None, "--target", help="KEY=MIN:MAX, e.g. cup_inclination=30:45."),
    csv_path: Path = typer.Option(None, "--csv", help="Also write the table as CSV here (outside the case)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --csv file."),
    as_json: bool = JsonOpt,
) -> None:
    """Compare plans row by row: implants, positions, measurements, interference, targets."""
    from surgiplan.cli.outputs import check_file
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.fileio import atomic_write_text
    from surgiplan.core.planning.comparison import compare_plans

    targets = {}
    for t in target or []:
        try:
            k, rng = t.split("=", 1)
            lo, hi = (float(x) for x in rng.split(":"))
        except ValueError:
            raise InputError(f"--target must be KEY=MIN:MAX, got {t!r}") from None
        targets[k] = (lo, hi)
    if csv_path is not None:  # never into the case (nor over its case.json), checked before any work
        root = case_path.parent if case_path.name == "case.json" else case_path
        check_file(csv_path, [root], overwrite=overwrite, protected=[root])
    case = Case.open(case_path)
    comp = compare_plans(case, plans, targets)
    if csv_path is not None:
        atomic_write_text(csv_path, comp.to_csv())
    typer.echo(comp.to_json() if as_json else comp.to_text())


@app.command("lock")
def lock(case_path: Path = CaseArg, plan: str = typer.Argument(...), note: str = typer.Option("", "--note"),
         as_json: bool = JsonOpt) -> None:
    """Approve and lock a plan (records who and when)."""
    from surgiplan.core.case import Case

    case = Case.open(case_path)
    info = case.lock_plan(plan, note)
    case.save()
    _out(info.model_dump(), as_json, f"plan {plan!r} locked by {info.by} at {info.at}")


@app.command("propose-sizes")
def propose_sizes(
    case_path: Path = CaseArg,
    plan: str = typer.Option(..., "--plan", help="Plan name (its landmarks count too)."),
    side: str = typer.Option(..., "--side", help="left or right."),
    as_json: bool = JsonOpt,
) -> None:
    """Propose the cup and stem sizes from the anatomy, with the next size down and up (as the window)."""
    from surgiplan.core.case import Case
    from surgiplan.core.errors import InputError
    from surgiplan.core.planning.size_proposal import propose_cup, propose_stem

    if side not in ("left", "right"):
        raise InputError(f"--side must be left or right, got {side!r}")
    case = Case.open(case_path)
    case.plan(plan)
    out, errors = {}, {}
    for kind, fn in (("cup", propose_cup), ("stem", propose_stem)):
        try:
            out[kind] = fn(case, plan, side)
        except InputError as exc:
            errors[kind] = str(exc)
    if not out:
        raise InputError(f"no size could be proposed for the {side} hip: " + "; ".join(errors.values()))
    data = {k: v.to_dict() for k, v in out.items()} | {"errors": errors}
    text = "\n".join(f"{k}: {v.size} (smaller {v.smaller}, larger {v.larger}) - {v.reason}" for k, v in out.items())
    _out(data, as_json, text + "".join(f"\n{k}: not proposed ({e})" for k, e in errors.items()))


@app.command("snap-screw")
def snap_screw_cmd(
    case_path: Path = CaseArg,
    plan: str = typer.Option(..., "--plan", help="Plan name."),
    at: str = typer.Option(..., "--at", help="X,Y,Z in LPS mm: the point clicked on a vertebra."),
    size: str = typer.Option(None, "--size", help="Screw size DxL (default: the largest the pedicle holds)."),
    as_json: bool = JsonOpt,
) -> None:
    """Place a pedicle screw snapped to the level and pedicle axis nearest a point (as a click in the window)."""
    from surgiplan.core.case import Case
    from surgiplan.core.planning.names import human_name
    from surgiplan.core.planning.screw_snap import place_snapped_screw, snap_screw

    case = Case.open(case_path)
    case.plan(plan)
    snap = snap_screw(case, plan, _floats(at, 3, "--at"), size=size)
    imp = place_snapped_screw(case, plan, snap)
    case.save()
    data = snap.to_dict() | {"implant": imp.id}
    _out(data, as_json, f"{human_name(imp.id)} in plan {plan!r}: {snap.level} {snap.side}, {snap.size} mm, breach "
         f"{snap.breach_mm:.1f} mm (grade {snap.grade}); entry ({', '.join(f'{x:.1f}' for x in snap.entry)}) mm LPS")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="plan")


@app.command("neck-cut")
def neck_cut(case_path: Path = CaseArg, plan: str = typer.Argument(..., help="Plan name."),
             side: str = typer.Option("left", "--side", help="left or right."),
             level: float = typer.Option(15.0, "--level-above-lt", help="mm above the lesser trochanter."),
             angle: float = typer.Option(45.0, "--angle", help="deg between the cut and the shaft axis."),
             as_json: bool = JsonOpt) -> None:
    """Set the femoral neck cut of a hip plan from the landmarks (level and angle)."""
    from surgiplan.core.case import Case
    from surgiplan.core.planning.neck_resection import neck_cut_facts, neck_resection

    case = Case.open(case_path)
    lms = case.all_landmarks(plan)
    res = neck_resection(lms, side, level_above_lt_mm=level, angle_to_shaft_deg=angle)
    case.set_resection(plan, res)
    case.save()
    facts = neck_cut_facts(res, lms, side)
    _out(facts, as_json, f"plan {plan!r}: neck cut {res.name} at {level:g} mm above the lesser trochanter, "
         f"{facts['angle_to_shaft_deg']:g} deg to the shaft; head centre {facts['head_centre_to_plane_mm']:g} mm "
         "above the cut")
