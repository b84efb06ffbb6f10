"""``hip-remodelling``: predicted bone density change around the planned stem (a model prediction).

prepare: the hip biomechanics study's meshes and study files (implanted and intact femur, CT-mapped
bone, walking loads: :mod:`surgiplan.core.simulation.biomech.case_study`, reused through its
functions) with a coarser default (P1, 4 mm); the remodelling options are kept in
``remodel_setup.json``.
The runner then solves the implanted femur (the contract's one study solve).
finish: the biomechanics finish (the intact femur is solved: the site-specific reference), then the
remodelling loop in a child process (:mod:`surgiplan.core.twin.remodel_run`: one FE solve a month by
default), density change per Gruen zone at the reported months (mass-weighted, like a DXA region's
BMD change), colour maps on ``surface.vtp`` and the published DXA changes beside the prediction.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.errors import InputError
from surgiplan.core.jobs import report, sub_progress

SUPPORTED_STUDIES = ("hip-remodelling",)
#: the biomechanics preset whose loads drive the remodelling
LOAD_PRESET = "hip-walking"

#: remodelling options (``--option key=value``); the rule's defaults and sources: remodel_rule.RemodelParams
DEFAULTS = {
    "lazy_zone_half_width": 0.75,
    "rate_constant": 15.0,  # (g/cm^3)^2 / (MPa month): 1.5 %/month disuse loss (remodel_rule.RemodelParams)
    "reference": "site-specific",
    "reference_stimulus_J_per_g": 0.004,  # used with reference=constant
    "density_min": 0.01,
    "density_max": 1.92,
    "time_step_months": 1.0,
    "months": "3,12,24",
}
#: biomechanics options changed for this study (affordable: one FE solve per month)
BIOMECH_DEFAULTS = {"degree": 1, "element_size_mm": 4.0}

PREDICTION_NOTE = ("MODEL PREDICTION, not a measurement: bone density change computed by a strain-adaptive "
                   "remodelling rule (Huiskes type) from one walking load case on a CT-based FE model; the time "
                   "scale (rate constant per month) is an assumption, not fitted to this patient.")

#: published periprosthetic DXA changes around cementless stems (BMD change %, Gruen zones), found with the
#: search tool (abstracts); used only to say where the prediction falls
PUBLISHED_DXA = [
    {"source": "Alm et al. 2009, Acta Orthop 80:531 (ABG II cementless, 39 women, DXA)", "months": 24,
     "zones": {7: -23.0}, "note": "zone 7 the only zone with a significant decrease at 24 months"},
    {"source": "Acta Orthop 2011 82(4):410 (RCT ABG-I / Unique cementless, DXA, 5 years)", "months": 60,
     "zones": {1: -15.0, 7: -28.0, 4: -1.6}, "note": "ABG-I group; Unique: zone 1 -14 %, zone 7 -27 %, zone 4 -9.7 %"},
    {"source": "Clin Orthop Relat Res 2009, doi 10.1007/s11999-009-0722-0 (introduction)", "months": 6,
     "zones": {}, "note": "the greatest BMD loss occurs in the first 3 to 6 months (10 % to 20 %)"},
]


def _split(options: dict | None) -> tuple[dict, dict]:
    """(remodelling options, biomechanics options) from the study options."""
    from surgiplan.core.simulation.biomech.case_study import DEFAULTS as BIOMECH

    remodel, biomech = dict(DEFAULTS), dict(BIOMECH_DEFAULTS)
    for k, v in (options or {}).items():
        if k in DEFAULTS:
            remodel[k] = v
        elif k in BIOMECH or k == "n_ranks":
            biomech[k] = v
        else:
            raise InputError(f"unknown study option {k!r}",
                             hint=f"Remodelling options: {', '.join(DEFAULTS)}; FE options: {', '.join(BIOMECH)}.")
    return remodel, biomech


def _months(text) -> list[float]:
    try:
        months = sorted({float(m) for m in str(text).replace(";", ",").split(",") if m.strip()})
    except ValueError:
        months = []
    if not months or months[0] <= 0 or months[-1] > 240:
        raise InputError(f"study option months={text!r} is not a list of months in (0, 240]",
                         hint="e.g. --option months=3,12,24")
    return months


def _params(remodel: dict, biomech: dict):
    """RemodelParams from the options; C and gamma from the study's CT modulus law (so the start is the CT's E)."""
    from surgiplan.core.simulation.biomech.case_study import DEFAULTS as BIOMECH
    from surgiplan.core.twin.remodel_rule import RemodelParams

    law = biomech.get("modulus_law", BIOMECH["modulus_law"])
    c_gamma = {"morgan2003_femoral_neck": (6850.0, 1.49), "morgan2003_pooled": (8920.0, 1.83),
               "keyak_falkinstein2003": (14664.0 * 0.6 ** 1.49, 1.49), "carter_hayes1977": (3790.0, 3.0)}[law]
    try:
        return RemodelParams(
            lazy_zone_half_width=float(remodel["lazy_zone_half_width"]), rate_constant=float(remodel["rate_constant"]),
            reference=str(remodel["reference"]),
            reference_stimulus_J_per_g=float(remodel["reference_stimulus_J_per_g"]),
            density_min=float(remodel["density_min"]), density_max=float(remodel["density_max"]),
            modulus_constant=c_gamma[0], modulus_exponent=c_gamma[1],
            time_step_months=float(remodel["time_step_months"]))
    except (TypeError, ValueError) as exc:
        raise InputError(f"invalid remodelling option: {exc}", hint="See surgiplan simulate --list.") from None


def prepare(case, plan_name: str, study: str, out_dir: Path, progress, options: dict) -> Path:
    """The hip study files (implanted + intact) and ``remodel_setup.json``; returns study.json."""
    from surgiplan.core.simulation.biomech import case_study as biomech_study

    if study not in SUPPORTED_STUDIES:
        raise InputError(f"study {study!r} is not implemented by the remodelling module")
    remodel, biomech = _split(options)
    months = _months(remodel["months"])
    params = _params(remodel, biomech)
    off = [m for m in months if abs(m / params.time_step_months - round(m / params.time_step_months)) > 1e-6]
    if off:
        raise InputError(f"month {off[0]:g} is not a whole number of time steps of {params.time_step_months:g} "
                         "month(s)", hint="Give months that are multiples of time_step_months.")
    if months[-1] / params.time_step_months > 600:
        raise InputError(f"{months[-1]:g} months in steps of {params.time_step_months:g} would take "
                         f"{months[-1] / params.time_step_months:.0f} FE solves (at most 600)",
                         hint="Use a larger time_step_months.")
    out_dir = Path(out_dir)
    fileio.ensure_folder(out_dir)
    path = biomech_study.prepare(case, plan_name, LOAD_PRESET, out_dir, progress, biomech)
    fileio.atomic_write_text(out_dir / "remodel_setup.json", json.dumps(
        {"options": remodel, "months": months, "params": params.to_dict(), "load_preset": LOAD_PRESET}, indent=1))
    return path


def _zone_changes(cells: dict, setup: dict, months: list[float]) -> list[dict]:
    """Mass-weighted density change (%) per Gruen zone (and zones 1-7 together) at each month."""
    from surgiplan.core.simulation.biomech.case_study import _zones

    zones = _zones(cells["centroids_mm"], setup)
    vol, rho0 = cells["volumes_mm3"], cells["rho0_g_cm3"]
    rows = []
    for z in list(range(1, 8)) + [0]:
        sel = (zones == z) if z else (zones > 0)
        m0 = float(np.sum(rho0[sel] * vol[sel]))
        row = {"zone": z if z else "1-7", "elements": int(np.sum(sel)), "volume_mm3": float(np.sum(vol[sel])),
               "mean_density_start_g_cm3": m0 / float(np.sum(vol[sel])) if np.any(sel) else float("nan")}
        for m in months:
            mt = float(np.sum(cells[f"rho_{m:g}_g_cm3"][sel] * vol[sel]))
            row[f"change_{m:g}_months_percent"] = 100.0 * (mt - m0) / m0 if m0 > 0 else float("nan")
        rows.append(row)
    return rows


def _plausibility(rows: list[dict], months: list[float]) -> dict:
    """Where the prediction falls against the published DXA changes (text and numbers)."""
    last = months[-1]
    z = {r["zone"]: r[f"change_{last:g}_months_percent"] for r in rows}
    z7, z1 = z.get(7, float("nan")), z.get(1, float("nan"))
    mid = [z.get(k, float("nan")) for k in (3, 4, 5)]
    in_band = -30.0 <= z7 <= -10.0
    text = (f"At {last:g} months the model predicts zone 7 (calcar) {z7:+.1f} %, zone 1 {z1:+.1f} %, zones 3-5 "
            f"{', '.join(f'{v:+.1f}' for v in mid)} %. Published DXA around cementless stems: zone 7 -23 % at "
            "24 months (Alm 2009), zone 7 -28 % and zone 1 -15 % at 5 years, zone 4 -1.6 % (Acta Orthop 2011); "
            "mid-shaft zones change little. ")
    if in_band:
        text += "Zone 7 falls inside the published 10-30 % loss band."
    elif z7 < -30.0:
        text += "Zone 7 loses more than the published 10-30 % (the model overpredicts calcar loss)."
    else:
        text += "Zone 7 loses less than the published 10-30 % (the model underpredicts calcar loss)."
    if all(abs(v) < 10.0 for v in mid if np.isfinite(v)):
        text += " The mid-shaft zones stay within 10 %, as published."
    else:
        text += " Some mid-shaft zone changes by more than 10 %, more than published."
    return {"text": text, "zone7_in_published_band": bool(in_band), "published": PUBLISHED_DXA}


def _surface_fields(out_dir: Path, months: list[float]) -> None:
    """Add ``density_change_<m>_months_percent`` point arrays (bone; NaN on the stem) to surface.vtp."""
    import pyvista as pv
    from scipy.spatial import cKDTree

    surf = pv.read(str(out_dir / "surface.vtp"))
    grid = pv.read(str(out_dir / "remodel" / "remodel.vtu"))
    pts = grid.cell_data_to_point_data(pass_cell_data=False)
    dist, idx = cKDTree(np.asarray(pts.points)).query(np.asarray(surf.points))
    stem = np.asarray(surf.point_data["region_id"]) > 0.5 if "region_id" in surf.point_data else np.zeros(
        surf.n_points, bool)
    for m in months:
        v = np.asarray(pts.point_data[f"density_change_{m:g}_months_percent"])[idx].astype(float)
        v[stem | (dist > 1e-3)] = np.nan
        surf.point_data[f"density_change_{m:g}_months_percent"] = v
    fileio.atomic_write(out_dir / "surface.vtp", lambda tmp: surf.save(str(tmp), binary=True))


def finish(case, plan_name: str, study: str, out_dir: Path, summary: dict, progress) -> dict:
    """Intact solve and stress shielding (biomechanics), then the remodelling loop and its summary."""
    from surgiplan.core.simulation.biomech import case_study as biomech_study
    from surgiplan.core.twin.remodel_process import run_remodel_process

    out_dir = Path(out_dir)
    rs = json.loads((out_dir / "remodel_setup.json").read_text(encoding="utf-8"))
    setup = json.loads((out_dir / "setup.json").read_text(encoding="utf-8"))
    months = [float(m) for m in rs["months"]]
    base = biomech_study.finish(case, plan_name, LOAD_PRESET, out_dir, summary, sub_progress(progress, 0.0, 0.2))
    report(progress, 0.2, "remodelling loop")
    rdir = out_dir / "remodel"
    fileio.ensure_folder(rdir)
    config = {"study": str((out_dir / "study.json").resolve()), "intact_results": str(
        (out_dir / "intact" / "results.vtu").resolve()), "params": rs["params"], "months": months,
        "out": str(rdir.resolve())}
    fileio.atomic_write_text(rdir / "config.json", json.dumps(config, indent=1))
    res = run_remodel_process(rdir / "config.json", sub_progress(progress, 0.2, 0.92))
    report(progress, 0.92, "density change per Gruen zone")
    with np.load(rdir / "remodel_cells.npz") as z:
        cells = {k: z[k] for k in z.files}
    rows = _zone_changes(cells, setup, months)
    _surface_fields(out_dir, months)
    plaus = _plausibility(rows, months)
    key = []
    for m in months:
        for r in rows:
            where = f"Gruen zone {r['zone']}" if r["zone"] != "1-7" else "Gruen zones 1-7 together"
            key.append({"label": f"predicted density change at {m:g} months, {where}",
                        "value": float(r[f"change_{m:g}_months_percent"]), "unit": "%", "region": "bone"})
    p = rs["params"]
    ref_text = ("the intact femur element by element" if p["reference"] == "site-specific"
                else f"{p['reference_stimulus_J_per_g']:g} J/g")
    n_solves = int(res["solves"])
    display = [{"name": f"density_change_{m:g}_months_percent",
                "label": f"predicted density change, {m:g} months (model prediction)", "unit": "%",
                "range": [-40.0, 40.0]} for m in months]
    result = dict(base)
    result["stress_shielding"] = {"key_results": base.get("key_results", []), "gruen_zones": base.get("gruen_zones")}
    result.update({
        "key_results": key,
        "display_fields": display + [d for d in base.get("display_fields", []) if d["name"] == "von_mises_MPa"],
        "model_prediction": PREDICTION_NOTE,
        "remodelling": {"gruen_zones": rows, "history": res["history"], "months": months, "params": p,
                        "solves": n_solves, "solve_s_median": res.get("solve_s_median"),
                        "wall_time_s": res.get("wall_time_s"), "plausibility": plaus,
                        "reference_distance_mm_p99": res.get("reference_distance_mm_p99")},
    })
    s = dict(base.get("setup", {}))
    s.update({
        "study": study,
        "prediction": PREDICTION_NOTE,
        "remodelling_rule": (f"Huiskes-type, stimulus U/rho (J/g), reference {p['reference']} "
                             f"({ref_text})"
                             f", lazy zone s = {p['lazy_zone_half_width']:g}, rate B = {p['rate_constant']:g} "
                             f"(g/cm^3)^2/(MPa month), E = {p['modulus_constant']:.4g} rho^{p['modulus_exponent']:g}"
                             f" (the CT law), density {p['density_min']:g}..{p['density_max']:g} g/cm^3; "
                             "Huiskes 1987, Weinans 1992; verified on bone_remodelling_uniform_bar"),
        "time_scale": (f"explicit Euler, one FE solve per {p['time_step_months']:g} month(s): {n_solves} remodelling "
                       f"solves + 2 (implanted and intact start) = {n_solves + 2} FE solves; 1 time unit = 1 month "
                       "is an assumption (the rule has no physiological time unit): B is set so that unloaded "
                       "bone (S = 0, k = 0.004 J/g, 1 g/cm^3) loses 1.5 % a month, the hip BMD loss in spaceflight "
                       "(Lang 2004)"),
        "loads": "one load case: peak hip contact and abductor force of level walking (hip-walking)",
        "plausibility": plaus["text"],
    })
    result["setup"] = s
    ver = dict(base.get("verification", {}))
    ver["remodelling_rule"] = _rule_verification()
    result["verification"] = ver
    report(progress, 1.0, "done")
    return result


def _rule_verification() -> str:
    try:
        from surgiplan.core.simulation.verify import load_reference
        from surgiplan.core.twin.remodel_verify import verify_remodelling

        rows = verify_remodelling(load_reference())
        return (f"{sum(r.passed for r in rows)}/{len(rows)} values of bone_remodelling_uniform_bar reproduced "
                f"(max relative error {max(r.relative_error for r in rows):.1e})")
    except Exception as exc:  # the reference file is not on every installation
        return f"not checked here ({exc}); run surgiplan verify --only bone_remodelling"
