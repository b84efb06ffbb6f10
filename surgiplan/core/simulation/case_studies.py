"""Case-based simulation studies: a registry of study presets and the one function that runs one
on a saved plan (``surgiplan simulate CASE --plan A --study hip-walking``, the window's Simulate
step).

A study module provides ``prepare(case, plan_name, study, out_dir, progress, options) -> study.json``
and ``finish(case, plan_name, study, out_dir, summary, progress) -> summary``; between the two the
study runs in a child process (:func:`surgiplan.core.simulation.runner.run_study_process`). The
finished folder ``CASE/studies/<plan>--<study>/`` holds ``summary.json`` and ``surface.vtp`` and is
recorded in case.json as a StudyRef. Modules of studies not in this build (the blood-flow ones until
their module lands) are listed as not available.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from surgiplan.core import fileio
from surgiplan.core.errors import InputError, SolverError
from surgiplan.core.jobs import Progress, report, sub_progress

BIOMECH = "surgiplan.core.simulation.biomech.case_study"
VESSEL = "surgiplan.core.simulation.vessel.case_study"
VESSEL_PULSATILE = "surgiplan.core.simulation.vessel.pulsatile_study"
SPINE = "surgiplan.core.simulation.biomech.spine_case_study"
REMODEL = "surgiplan.core.twin.remodel_study"  # helper T (the living twin)

#: name -> (module, physics, anatomy, description)
STUDIES: dict[str, tuple[str, str, str, str]] = {
    "hip-walking": (BIOMECH, "elasticity", "hip",
                    "femur + planned stem under the peak hip contact and abductor forces of level walking "
                    "(OrthoLoad); stress, stress shielding per Gruen zone vs the intact femur"),
    "hip-stairs": (BIOMECH, "elasticity", "hip",
                   "as hip-walking with the stair-climbing peak force (Bergmann 2001)"),
    "hip-remodelling": (REMODEL, "elasticity", "hip",
                        "MODEL PREDICTION of bone density change around the planned stem at 3, 12, 24 months "
                        "(Huiskes strain-adaptive remodelling from the intact vs implanted femur, walking load)"),
    "spine-standing": (SPINE, "elasticity", "spine",
                       "instrumented lumbar vertebra + planned pedicle screws, standing: 500 N follower load "
                       "(Dreischarf 2014); stress in bone and screws, screw fatigue safety factor, bone strain "
                       "energy density vs the intact vertebra"),
    "spine-flexion": (SPINE, "elasticity", "spine",
                      "as spine-standing, flexion: 1175 N follower load + 7.5 N m (Dreischarf 2014)"),
    "spine-lifting": (SPINE, "elasticity", "spine", "instrumented lumbar vertebra, lifting: not offered, no "
                      "published follower load / moment pair for lifting was found (searched: Dreischarf 2014, "
                      "the 2014 PLoS ONE telemetry study of high spinal loads, Bender 2024, Wilke 1999; see "
                      "resources/loads/spine.json)"),
    "vessel-rest": (VESSEL, "flow", "vascular", "blood flow through the planned vessel at rest"),
    "vessel-exercise": (VESSEL, "flow", "vascular", "blood flow through the planned vessel during exercise"),
    "vessel-pulsatile": (VESSEL_PULSATILE, "flow", "vascular",
                         "pulsatile blood flow at rest (infrarenal waveform, 3 cycles): time-averaged WSS and OSI"),
}


def _module(name: str):
    module = STUDIES[name][0]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    supported = getattr(mod, "SUPPORTED_STUDIES", None)
    if supported is not None and name not in supported:
        return None
    return mod


def list_studies() -> list[dict]:
    """Every registered study: name, physics, anatomy, description, available (in this build)."""
    return [{"name": n, "physics": p, "anatomy": a, "description": d, "available": _module(n) is not None}
            for n, (_, p, a, d) in STUDIES.items()]


def default_out_dir(case_root: Path, plan: str, study: str) -> Path:
    return Path(case_root) / "studies" / f"{plan}--{study}"


def run_case_study(case_dir: Path, plan: str, study: str, *, n_ranks: int = 1, out_dir: Path | None = None,
                   progress: Progress | None = None, options: dict | None = None) -> dict:
    """Run study ``study`` on plan ``plan`` of the case folder ``case_dir``; return the summary.

    A study module with ``run_pre_post`` (the steady vessel studies) runs the plan's stented lumen and
    the native one (``options["pre"]`` False: the plan only).

    Raises InputError for an unknown or unavailable study or plan, and whatever the study raises
    (GeometryError, MeshingError, SolverError, Cancelled). The summary is also written to
    ``out_dir/summary.json`` and the folder is recorded in case.json (StudyRef).
    """
    from surgiplan.core.case import Case
    from surgiplan.core.simulation.runner import run_study_process
    from surgiplan.core.simulation.solver_env import require_solver

    require_solver(f"study {study!r}")
    if study not in STUDIES:
        raise InputError(f"unknown study {study!r}", hint=f"Choose one of: {', '.join(STUDIES)} "
                         "(surgiplan simulate --list).")
    mod = _module(study)
    if mod is None:
        raise InputError(f"study {study!r} is not available in this build",
                         hint="See surgiplan simulate --list for the studies this build runs.")
    options = dict(options or {})
    if options.pop("pre", True) is not False and hasattr(mod, "run_pre_post"):
        # a vessel study on a plan with a stent: the native lumen too, with the same physiology
        return mod.run_pre_post(case_dir, plan, study, n_ranks=n_ranks, out_dir=out_dir, progress=progress,
                                options=options)
    case = Case.open(case_dir)
    if plan not in case.plans:
        raise InputError(f"case {case.model.name!r} has no plan {plan!r} (plans: {', '.join(case.plans) or 'none'})",
                         path=case.root)
    out = Path(out_dir) if out_dir is not None else default_out_dir(case.root, plan, study)
    fileio.ensure_folder(out)
    opts = dict(options or {})
    opts.setdefault("n_ranks", n_ranks)
    report(progress, 0.0, f"preparing {study} on plan {plan}")
    study_json = mod.prepare(case, plan, study, out, sub_progress(progress, 0.0, 0.35), opts)
    report(progress, 0.35, "solving")
    try:
        summary = run_study_process(study_json, out, n_ranks, sub_progress(progress, 0.35, 0.7))
    except SolverError as exc:  # a study may say it in its own terms (vessel: the lesion jet)
        raise (mod.explain_failure(out, exc) if hasattr(mod, "explain_failure") else exc) from exc
    summary = mod.finish(case, plan, study, out, summary, sub_progress(progress, 0.7, 0.99))
    summary.setdefault("case_study", {}).update({"plan": plan, "study": study, "case": case.model.name})
    fileio.atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=_json_default))
    _record(case, plan, study, out)
    report(progress, 1.0, f"{study} on plan {plan}: done")
    return summary


def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _record(case, plan: str, study: str, out: Path) -> None:
    """Add (or refresh) the StudyRef of ``out`` in case.json and save the case."""
    from surgiplan.core.case import Case
    from surgiplan.core.case.schema import StudyRef

    try:
        rel = out.resolve().relative_to(case.root.resolve()).as_posix()
    except ValueError:
        return  # a folder outside the case (--out elsewhere) is not recorded in it
    name = f"{plan}--{study}"
    # the case as saved now: a study that finished meanwhile (another plan's, run in parallel) keeps its ref
    case = Case.open(case.root)
    case.model.studies = [s for s in case.model.studies if not (s.name == name and s.plan == plan)]
    case.model.studies.append(StudyRef(name=name, path=rel, plan=plan))
    case.save()


def study_rows(case, plan_names: list[str]) -> list[dict]:
    """Key results of every stored study of ``plan_names`` (for the plan comparison and the report).

    Rows ``{"plan", "study", "label", "value", "unit", "region"}``; a study whose summary is
    missing or unreadable is skipped.
    """
    rows = []
    for ref in case.model.studies:
        if ref.plan not in plan_names:
            continue
        path = Path(case.root) / ref.path / "summary.json"
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        study = summary.get("case_study", {}).get("study", ref.name)
        for r in summary.get("key_results", []):
            rows.append({"plan": ref.plan, "study": study, "label": r.get("label"), "value": r.get("value"),
                         "unit": r.get("unit"), "region": r.get("region")})
        # a vessel study run before and after the plan's stent: the native lumen's values, same quantities
        pre_post = summary.get("pre_post") or {}
        before = f"{study} before the stent (native lumen)"
        if pre_post and pre_post.get("native", {}).get("status") == "failed":
            rows.append({"plan": ref.plan, "study": before, "label": "result", "unit": "", "region": None,
                         "value": f"missing: {pre_post['native'].get('reason', 'the native solve failed')}"})
        for r in pre_post.get("rows", []):
            if r.get("pre") is not None:
                rows.append({"plan": ref.plan, "study": before, "label": r.get("quantity"), "value": r["pre"],
                             "unit": r.get("unit"), "region": r.get("region")})
    return rows
