"""Case studies ``vessel-rest`` and ``vessel-exercise``: steady blood flow through the case's lumen,
with the plan's stent (if any) opening the lumen to its nominal diameter.

``prepare`` builds the vessel model (:mod:`surgiplan.core.simulation.vessel.geometry`) from the case's
planning CT and lumen segment, writes ``mesh.msh``, ``vessel_geometry.json`` and ``study.json`` in the
study folder; ``finish`` turns the solver's summary into the study summary
(:func:`surgiplan.core.simulation.vessel.results.vessel_results`).

Physiology (defaults; ``options`` override): inflow at the infrarenal aorta 20 mL/s at rest, 50 mL/s
in lower-limb exercise (order of the MRI-measured infrarenal flow, about 1.2 L/min at rest and 2-4x
that in leg exercise); mean pressure 93 mmHg at rest, 100 mmHg in exercise, which sets the outlet
resistances with the flow split by Murray's law. Options: ``flow_mL_s``, ``mean_pressure_mmHg``,
``split`` (fractions per outlet), ``density``, ``viscosity``, ``h_max_mm`` (largest cell, mm),
``stent`` (False: solve the native lumen even if the plan has a stent).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress

STUDIES = {
    "vessel-rest": {"flow_mL_s": 20.0, "mean_pressure_mmHg": 93.0,
                    "description": "steady blood flow at rest: pressure drop across the lesion, WSS, flow split"},
    "vessel-exercise": {"flow_mL_s": 50.0, "mean_pressure_mmHg": 100.0,
                        "description": "steady blood flow in lower-limb exercise (2.5x rest flow)"},
}
GEOMETRY_FILE = "vessel_geometry.json"
#: steady continuation through a stenosis: at most this increase of the lesion jet's Reynolds number per
#: flow step. The outlet resistances force the Murray split through the lesion (traction outlets would divert
#: the flow to the healthy leg), so the jet, not the inlet, sets how far one Newton solve can jump. Measured on
#: the vascular sample's native lumen (3.56 mm lesion, lesion Re 1036 at 20 mL/s): a jump from 25 % to 50 %
#: of the flow (lesion Re 260 -> 520) stalled Newton and left pseudo-time marching on a plateau; steps of
#: 1/16 of the flow (lesion Re +65) converged in 3-7 Newton iterations each (VN, round 5).
LESION_RE_PER_STEP = 65.0


def plan_stent(case, plan_name: str):
    """The plan's stent as a :class:`~surgiplan.core.simulation.vessel.geometry.Stent`, or None."""
    from surgiplan.core.planning.catalog import default_catalog
    from surgiplan.core.simulation.vessel.geometry import Stent

    plan = case.plan(plan_name)
    stents = [imp for imp in plan.implants.values() if "stent" in imp.catalog_id]
    if not stents:
        return None
    imp = stents[0]
    size = default_catalog().get(imp.catalog_id).size(imp.size)
    t = np.asarray(imp.transform, float)
    return Stent(t[:3, 3].copy(), t[:3, 2] / np.linalg.norm(t[:3, 2]), float(size["diameter"]),
                 float(size["length"]), f"{imp.catalog_id} {imp.size}")


def prepare(case, plan_name: str, study: str, out_dir: Path, progress: Progress | None, options: dict) -> Path:
    from surgiplan.core.fileio import atomic_write_text
    from surgiplan.core.simulation.vessel.geometry import build_vessel_model, lumen_mask_from_case
    from surgiplan.core.simulation.vessel.results import flow_study_dict, json_safe
    from surgiplan.core.vessels.lumen_surface import lumen_field

    if study not in STUDIES:
        raise InputError(f"unknown vessel study {study!r}", hint=f"Use one of {', '.join(STUDIES)}.")
    options = dict(options or {})
    from surgiplan.core.simulation.vessel.blood_models import apply_blood_model, blood_model

    blood = blood_model(options)  # checked before the (slow) vessel model
    defaults = STUDIES[study]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report(progress, 0.0, "reading the CT and the lumen segment")
    volume, mask = lumen_mask_from_case(case)
    lf = lumen_field(volume, mask)
    stent = plan_stent(case, plan_name) if options.get("stent", True) else None
    model = build_vessel_model(lf, out_dir, stent=stent, h_max=float(options.get("h_max_mm", 2.5)),
                               progress=sub_progress(progress, 0.05, 0.95))
    study_dict, bc = flow_study_dict(
        model.info, float(options.get("flow_mL_s", defaults["flow_mL_s"])),
        float(options.get("mean_pressure_mmHg", defaults["mean_pressure_mmHg"])),
        density=blood.density_kg_m3, viscosity=blood.viscosity_Pa_s,
        split=options.get("split"), probe_points_mm=model.probe_points_mm, name=study)
    apply_blood_model(study_dict, blood)
    jets = [] if stent is not None else lesion_jets(model.info, bc)
    if jets and blood.model == "newtonian":
        # Reynolds continuation paced by the lesion jet (the inlet Re alone jumps too far on a tight lesion)
        steps = max(1, math.ceil(max(j["reynolds"] for j in jets) / LESION_RE_PER_STEP))
        study_dict["flow"]["reynolds_steps"] = max(int(study_dict["flow"].get("reynolds_steps", 0)), steps)
    if jets:
        # where the continuation stalls the solver marches in physical time: its step is the fastest jet's
        # convective time d / U (U the jet's mean velocity 4 Q / (pi d^2)), 3.7 ms on the vascular sample
        from surgiplan.core.simulation.flow_march import MARCH_DT_PER_JET_TIME

        jet = max(jets, key=lambda j: j["reynolds"])
        d = jet["minimal_diameter_mm"] * 1e-3
        study_dict["flow"]["march_time_step_s"] = MARCH_DT_PER_JET_TIME * math.pi * d**3 / (4 * jet["flow_mL_s"] * 1e-6)
    bc["lesion_jets"] = jets
    bc.update({"density": blood.density_kg_m3, "viscosity": blood.viscosity_Pa_s, "blood_model": blood.label(),
               "plan": plan_name, "study": study, "stent_applied": stent is not None,
               "case": case.model.name})
    geo = json_safe({"geometry": model.info, "boundary_conditions": bc})
    atomic_write_text(out_dir / GEOMETRY_FILE, json.dumps(geo, indent=1))
    path = out_dir / "study.json"
    atomic_write_text(path, json.dumps(study_dict, indent=1))
    report(progress, 1.0, "vessel model ready")
    return path


def finish(case, plan_name: str, study: str, out_dir: Path, summary: dict, progress: Progress | None) -> dict:
    from surgiplan.core.simulation.vessel.results import json_safe, vessel_results

    out_dir = Path(out_dir)
    report(progress, 0.0, "centreline table, lesion pressures, wall shear stress")
    geo = json.loads((out_dir / GEOMETRY_FILE).read_text(encoding="utf-8"))
    info, bc = geo["geometry"], geo["boundary_conditions"]
    res = vessel_results(out_dir, info, bc, summary)
    res["study"] = study
    res["plan"] = plan_name
    res["setup"] = setup_facts(info, bc, summary)
    res["flow_regime"] = flow_regime(summary)
    if res["flow_regime"]["result"] != "steady":
        res["key_results"].insert(1, {"label": "flow regime", "value": res["flow_regime"]["label"], "unit": "",
                                      "region": "whole vessel"})
    res["verification"] = verification_status()
    report(progress, 1.0, "vessel study done")
    return json_safe(res)


def flow_regime(summary: dict) -> dict:
    """How the solver reached the result: ``result`` 'steady' (Newton), 'settled' (a physical-time march came to
    rest) or 'unsteady' (the march's fields are time averages over ``window``, with the ``fluctuation`` of the
    inlet-to-outlet pressure drops and outlet flows), and a ``label`` for the summary."""
    march = (summary.get("solver") or {}).get("time_march")
    if not march:
        return {"result": "steady", "label": "steady (Newton with Reynolds continuation)"}
    out = {"result": march["result"], "label": march["label"]}
    for k in ("time_step_s", "steps", "simulated_time_s", "factorisations", "wall_s", "from_flow_fraction", "window",
              "fluctuation", "newton_finish"):
        if k in march:
            out[k] = march[k]
    return out


def lesion_jets(info: dict, bc: dict, flow_mL_s: float | None = None) -> list[dict]:
    """The jet through each stenosis at ``flow_mL_s`` (default: the study's inflow), with the flow split the
    outlet resistances set: its outlet, share of the inflow, flow (mL/s), minimal diameter (mm) and Reynolds
    number 4 rho Q / (pi d mu) (d the native minimal diameter)."""
    q_in = float(bc["inflow_mL_s"] if flow_mL_s is None else flow_mL_s)
    rho, mu = float(bc.get("density", 1060.0)), float(bc.get("viscosity", 0.0035))
    names = [o["name"] for o in info.get("outlets", [])]
    split = list(bc.get("split") or [])
    jets = []
    for st in info.get("stenoses", []):
        try:
            outlet = info["centrelines"][st["centreline"]]["outlet"]
            share = float(split[names.index(outlet)])
            d_m = float(st["minimal_diameter_mm"]) * 1e-3
        except (KeyError, IndexError, ValueError, TypeError):
            continue
        q = share * q_in
        jets.append({"outlet": outlet, "share": share, "flow_mL_s": q, "minimal_diameter_mm": d_m * 1e3,
                     "reynolds": 4.0 * rho * q * 1e-6 / (math.pi * d_m * mu)})
    return jets


_LAST_CONVERGED = re.compile(r"last converged at Re = [0-9.]+, ([0-9.eE+-]+) mL/s")


def explain_failure(out_dir: Path, exc: Exception) -> Exception:
    """A steady vessel solve that did not converge, said in the terms of the lesion: the jet's Reynolds number
    at the requested inflow and at the last flow that converged, why a steady answer may not exist there, and
    what to run instead. ``exc`` itself when it is not a convergence failure (or the set-up is unreadable)."""
    from surgiplan.core.errors import SolverError

    text = getattr(exc, "message", str(exc))
    if not isinstance(exc, SolverError) or "did not converge" not in text:
        return exc
    bc = _bc(out_dir)
    try:
        info = json.loads((Path(out_dir) / GEOMETRY_FILE).read_text(encoding="utf-8"))["geometry"]
    except (OSError, ValueError, KeyError):
        return exc
    jets = lesion_jets(info, bc) if bc else []
    if not jets:
        return exc
    jet = max(jets, key=lambda j: j["reynolds"])
    q = float(bc["inflow_mL_s"])
    m = _LAST_CONVERGED.search(text)
    q_ok = float(m.group(1)) if m else 0.0
    what = (f"the steady flow did not converge at {q:g} mL/s: the jet through the {jet['minimal_diameter_mm']:.2f} mm "
            f"lesion (toward {jet['outlet']}, {100 * jet['share']:.1f} % of the inflow by the outlet resistances) "
            f"would have Reynolds number {jet['reynolds']:.0f}")
    if q_ok > 0:
        what += (f"; the solve converged up to {q_ok:.3g} mL/s (lesion Re {jet['reynolds'] * q_ok / q:.0f})")
    what += (". A stenotic jet at a throat Reynolds number of several hundred to a thousand may have no stable "
             f"steady state (it wanders or sheds vortices). Solver: {text}")
    safe = math.floor(10 * q_ok) / 10 if q_ok > 0 else round(q * LESION_RE_PER_STEP * 4 / jet["reynolds"], 1)
    hint = (f"Compare at a lower steady flow (--option flow_mL_s={safe:g}), or run the time-resolved study "
            "(--study vessel-pulsatile), whose cycle-averaged results do not assume a steady jet.")
    return SolverError(what, hint=hint)


def setup_facts(info: dict, bc: dict, summary: dict) -> dict:
    import dolfinx
    import gmsh

    solver = summary.get("solver", {})
    st = info.get("stent")
    return {
        "inflow": f"{bc['inflow_mL_s']:g} mL/s, developed (parabolic) profile on the inlet section",
        "outlets": f"resistances R = P_mean / Q_i, P_mean {bc['mean_pressure_mmHg']:g} mmHg; split "
                   f"{', '.join(f'{100 * f:.1f} %' for f in bc['split'])} ({bc['split_rule']})",
        "blood": bc.get("blood_model")
        or f"Newtonian, {bc.get('density', 1060.0):g} kg/m^3, {1e3 * bc.get('viscosity', 0.0035):g} mPa s",
        "walls": "rigid, no slip",
        "stent": "none (native lumen)" if not st else
                 f"{st['name']}: lumen opened to {st['diameter_mm']:g} mm over {st['length_mm']:g} mm (2 mm tapers)",
        "geometry": "lumen surface at the local half-maximum between contrast lumen and wall; ends cut "
                    "perpendicular to the centreline; flow extensions 3 (inlet) / 5 (outlets) radii",
        "mesh": f"{info['mesh']['tetrahedra']} tetrahedra (gmsh), size {info['mesh']['size_per_radius']:g} x "
                f"local radius ({info['mesh']['lesion_size_per_radius']:g} x at the lesion), max "
                f"{info['mesh']['h_max_mm']:g} mm",
        "discretisation": f"Taylor-Hood P2-P1, {solver.get('dofs', '?')} DOFs; steady Newton with adaptive "
                          "Reynolds continuation; stabilisation: " + str(solver.get("stabilisation", "none")),
        "software": f"dolfinx {dolfinx.__version__}, gmsh {gmsh.__version__}",
    }


def verification_status() -> dict:
    return {"command": "surgiplan verify",
            "flow_cases": ["poiseuille (4 cases, mesh convergence)", "womersley", "kovasznay Re 40/100",
                           "ethier_steinman nu 1/0.01 (pressure)", "manufactured swirling pipe (body force)"],
            "note": "convection verified on exact/manufactured solutions (navier_stokes_exact.json)"}


# --------------------------------------------------------------------------------------------------
# Pre- and post-stent pair from one plan
# --------------------------------------------------------------------------------------------------

#: bump when the native result's content changes meaning (a cached native of an older version is re-solved)
NATIVE_CACHE_VERSION = 1
#: options that do not change the native result (not in its cache key)
NOT_PHYSICS = frozenset({"n_ranks", "stent", "pre"})
#: key results compared before/after, in this order (label prefixes; the flow rows follow the outlets)
PRE_POST_LABELS = ("pressure drop across the lesion", "distal/proximal pressure ratio",
                   "minimal lumen diameter (model)", "flow through ", "mean wall shear stress",
                   "maximal wall shear stress", "wall area with WSS < 0.4 Pa", "wall area with WSS > 2.5 Pa",
                   "Reynolds number at the inlet", "Reynolds number at the lesion")


def native_cache_key(volume, mask: np.ndarray, study: str, options: dict) -> str:
    """SHA-256 (hex) of what the native result depends on: the CT voxels and geometry, the lumen mask,
    the study and every physics option (flow, pressure, split, blood, mesh size); not the ranks."""
    import hashlib

    h = hashlib.sha256()
    h.update(f"native-v{NATIVE_CACHE_VERSION}|{study}|".encode())
    physics = {k: _canonical(v) for k, v in (options or {}).items() if k not in NOT_PHYSICS}
    h.update(json.dumps(physics, sort_keys=True, default=str).encode())
    arr = np.ascontiguousarray(volume.array)
    h.update(f"|{arr.dtype.str}{arr.shape}".encode())
    h.update(arr.tobytes())
    for v in (volume.spacing, volume.origin, volume.direction):
        h.update(np.asarray(v, np.float64).round(9).tobytes())
    m = np.ascontiguousarray(np.asarray(mask, bool))
    h.update(f"|mask{m.shape}".encode())
    h.update(np.packbits(m).tobytes())
    return h.hexdigest()


def _canonical(v):
    """An option value as it is meant (``--option flow_mL_s=6`` gives 6, the window 6.0: one key)."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float | np.number):
        return float(v)
    if isinstance(v, list | tuple):
        return [_canonical(x) for x in v]
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v.strip().lower()
    return str(v)


def native_folder(case_root: Path, study: str, key: str) -> Path:
    """Folder of the native (pre-stent) result of ``study``: ``CASE/studies/native--<study>--<key[:12]>``."""
    return Path(case_root) / "studies" / f"native--{study}--{key[:12]}"


def _cached_native(folder: Path, key: str) -> dict | None:
    try:
        s = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = s.get("native_cache", {}).get("key") == key and (folder / "surface.vtp").is_file()
    return s if ok else None


def run_pre_post(case_dir: Path, plan: str, study: str, *, n_ranks: int = 1, out_dir: Path | None = None,
                 progress: Progress | None = None, options: dict | None = None) -> dict:
    """``study`` on plan ``plan`` and, when the plan has a stent, on the native lumen too: the summary of
    the stented lumen with a ``pre_post`` section (native result, comparison rows).

    Both runs have the same inflow (mL/s) and the same outlet resistances (Pa s/m^3: Murray's split from
    the healthy outlet radii measured on the native lumen, or the given ``split``). The native result
    is stored once per CT + lumen mask + study + physics options in
    :func:`native_folder` and reused by every plan (the key in its ``summary.json``). A native solve
    that fails does not stop the stented one: ``pre_post.native`` then says why (``status`` "failed",
    ``reason``, ``hint``). Cancel (``progress.cancelled``) stops both. Options: those of :func:`prepare`
    plus ``pre`` (False: the plan only, as ``surgiplan simulate --no-pre``).
    """
    from surgiplan.core import fileio
    from surgiplan.core.case import Case
    from surgiplan.core.errors import Cancelled, SurgiplanError
    from surgiplan.core.simulation.case_studies import run_case_study
    from surgiplan.core.simulation.vessel.geometry import lumen_mask_from_case

    opts = dict(options or {})
    opts.pop("pre", None)
    single = dict(opts, pre=False)
    case = Case.open(case_dir)
    if plan not in case.plans:  # the plain run says it clearly
        return run_case_study(case_dir, plan, study, n_ranks=n_ranks, out_dir=out_dir, progress=progress,
                              options=single)
    if opts.get("stent", True) is False or plan_stent(case, plan) is None:
        return run_case_study(case_dir, plan, study, n_ranks=n_ranks, out_dir=out_dir, progress=progress,
                              options=single)
    report(progress, 0.0, "native lumen: looking for a stored result")
    volume, mask = lumen_mask_from_case(case)
    key = native_cache_key(volume, mask, study, opts)
    del volume, mask
    folder = native_folder(case.root, study, key)
    native = {"key": key, "folder": folder.relative_to(case.root).as_posix()}
    pre = _cached_native(folder, key)
    if pre is not None:
        native["status"] = "reused"
        report(progress, 0.5, "native lumen: stored result reused")
    else:
        try:
            pre = _solve_native(case, plan, study, folder, key, n_ranks, sub_progress(progress, 0.0, 0.5), opts)
            native["status"] = "solved"
        except Cancelled:
            raise
        except SurgiplanError as exc:
            native.update(status="failed", reason=exc.message, hint=exc.hint or NATIVE_FAILED_HINT)
        except Exception as exc:  # noqa: BLE001 - the stented result is still worth having; reason kept
            native.update(status="failed", reason=f"{type(exc).__name__}: {exc}", hint=NATIVE_FAILED_HINT)
    if pre is not None and pre.get("flow_regime"):
        native["flow_regime"] = pre["flow_regime"]["label"]
    if pre is None:
        # a failure is kept beside the cache folder for the record (not reused: the next run tries again)
        fileio.ensure_folder(folder)
        fileio.atomic_write_text(folder / "failed.json", json.dumps(native, indent=1))
    report(progress, 0.5, f"stented lumen of plan {plan}")
    post = run_case_study(case_dir, plan, study, n_ranks=n_ranks, out_dir=out_dir, progress=sub_progress(
        progress, 0.5, 0.97), options=single)
    from surgiplan.core.simulation.case_studies import default_out_dir

    out = Path(out_dir) if out_dir is not None else default_out_dir(case.root, plan, study)
    post["pre_post"] = pre_post_section(pre, post, native, folder, out)
    fileio.atomic_write_text(out / "summary.json", json.dumps(post, indent=1, default=_json_default))
    report(progress, 1.0, f"{study} before and after the stent of plan {plan}: done")
    return post


NATIVE_FAILED_HINT = ("The stented result below is complete. Try a lower flow for both (--option flow_mL_s=6) or a "
                      "finer mesh (--option h_max_mm=1.5); 'surgiplan simulate CASE --plan P --study S "
                      "--option stent=false --no-pre' runs the native lumen alone with its full log.")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"{type(o).__name__} is not JSON")


def _solve_native(case, plan: str, study: str, folder: Path, key: str, n_ranks: int, progress, opts: dict) -> dict:
    """The native lumen's study in ``folder`` (prepare with the stent left out, solve, finish)."""
    from surgiplan.core import fileio
    from surgiplan.core.errors import SolverError
    from surgiplan.core.simulation.runner import run_study_process

    fileio.ensure_folder(folder)
    (folder / "failed.json").unlink(missing_ok=True)
    native_opts = dict(opts, stent=False)
    native_opts.setdefault("n_ranks", n_ranks)
    report(progress, 0.0, "native lumen: vessel model")
    study_json = prepare(case, plan, study, folder, sub_progress(progress, 0.0, 0.35), native_opts)
    report(progress, 0.35, "native lumen: solving")
    try:
        solver = run_study_process(study_json, folder, n_ranks, sub_progress(progress, 0.35, 0.9))
    except SolverError as exc:
        raise explain_failure(folder, exc) from exc
    s = finish(case, plan, study, folder, solver, sub_progress(progress, 0.9, 1.0))
    s["plan"] = None
    s["case_study"] = {"study": study, "case": case.model.name, "lumen": "native", "first_plan": plan}
    s["native_cache"] = {"key": key, "version": NATIVE_CACHE_VERSION,
                         "depends_on": "planning CT voxels and geometry, lumen mask, study, physics options"}
    fileio.atomic_write_text(folder / "summary.json", json.dumps(s, indent=1, default=_json_default))
    return s


def _bc(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / GEOMETRY_FILE).read_text(encoding="utf-8"))["boundary_conditions"]
    except (OSError, ValueError, KeyError):
        return {}


def pre_post_rows(pre: dict | None, post: dict) -> list[dict]:
    """Rows ``{"quantity", "region", "unit", "pre", "post", "change"}`` of the compared key results
    (``pre`` None: the native is missing, its values are None)."""
    theirs = {(r["label"], r.get("region")): r for r in (pre or {}).get("key_results", [])}
    rows = []
    for prefix in PRE_POST_LABELS:
        for r in post.get("key_results", []):
            if not str(r.get("label", "")).startswith(prefix):
                continue
            o = theirs.get((r["label"], r.get("region")))
            a, b = (o or {}).get("value"), r.get("value")
            num = isinstance(a, int | float) and isinstance(b, int | float)
            rows.append({"quantity": r["label"], "region": r.get("region"), "unit": r.get("unit"),
                         "pre": a, "post": b, "change": round(float(b) - float(a), 6) if num else None})
    return rows


def pre_post_section(pre: dict | None, post: dict, native: dict, native_dir: Path, post_dir: Path) -> dict:
    """The ``pre_post`` section of the plan's summary: the native run's status and folder, whether both
    runs had the same inflow and resistances, and the comparison rows."""
    b0, b1 = _bc(native_dir), _bc(post_dir)
    same = None
    if b0 and b1:
        r0, r1 = np.asarray(b0.get("resistances_Pa_s_m3", [])), np.asarray(b1.get("resistances_Pa_s_m3", []))
        same = bool(b0.get("inflow_mL_s") == b1.get("inflow_mL_s") and r0.shape == r1.shape
                    and np.allclose(r0, r1, rtol=1e-9))
    return {"native": native,
            "same_physiology": {"inflow_mL_s": b1.get("inflow_mL_s"), "resistances_Pa_s_m3": b1.get(
                "resistances_Pa_s_m3"), "split": b1.get("split"), "identical_before_and_after": same},
            "rows": pre_post_rows(pre, post)}
