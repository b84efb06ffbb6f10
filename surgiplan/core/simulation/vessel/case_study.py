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
    res["verification"] = verification_status()
    report(progress, 1.0, "vessel study done")
    return json_safe(res)


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
