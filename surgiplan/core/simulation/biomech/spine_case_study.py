"""Spine biomechanics on a saved plan: ``spine-standing`` and ``spine-flexion``.

prepare: one instrumented vertebra (option ``level``; default the most caudal level holding the
plan's pedicle screws) with the screws' shanks bonded inside (conforming interface), the inferior
end plate fixed, the preset's compressive follower load (and flexion moment, as a statically
equivalent split between the anterior and posterior halves of the superior end plate) from
``resources/loads/spine.json``, CT-mapped bone modulus, the screws' material from the table;
written as ``study.json``.
The same vertebra without screws (``intact/``: same surface, loads and CT mapping) is meshed too.
finish: the intact vertebra is solved as well (the screws' effect on the bone: strain energy density
instrumented vs intact within ``peri_screw_mm`` of the screws and in the rest of the vertebra);
per-region stresses (bone, each screw), the screws' fatigue safety factor, ``surface.vtp``
(vertebra and screw surfaces with point fields) and ``results.vtu``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.errors import InputError
from surgiplan.core.jobs import report

SUPPORTED_STUDIES = ("spine-standing", "spine-flexion")
PRESET = {"spine-standing": "standing", "spine-flexion": "flexion"}

DEFAULTS = {
    "level": None,  # None: the most caudal level holding the plan's pedicle screws
    "element_size_mm": 3.0,
    "implant_element_size_mm": 1.5,
    "bone_surface_edge_mm": 2.5,
    "degree": 2,
    "modulus_law": "morgan2003_pooled",
    "calibration_slope_g_cm3_per_HU": 0.0008,
    "calibration_intercept_g_cm3": 0.0,
    "min_modulus_MPa": 10.0,
    "bone_poissons_ratio": 0.3,
    "follower_load_N": None,  # None: the preset's value
    "flexion_moment_Nm": None,
    "intact": True,  # also solve the vertebra without screws (the screws' effect on the bone)
    "peri_screw_mm": 5.0,  # bone within this distance of a screw is the peri-screw zone
}


def _options(options: dict | None) -> dict:
    o = dict(DEFAULTS)
    for k, v in (options or {}).items():
        if k == "n_ranks":
            continue
        if k not in DEFAULTS:
            raise InputError(f"unknown study option {k!r}", hint=f"Options: {', '.join(DEFAULTS)}.")
        o[k] = v
    return o


def _screws(case, plan_name: str, level: str | None):
    """(level, {side: (PlacedImplant, spec)}) of the plan's pedicle screws at ``level``."""
    from surgiplan.core.planning.catalog import default_catalog

    cat = default_catalog()
    by_level: dict[str, dict] = {}
    for imp in case.plan(plan_name).implants.values():
        if imp.catalog_id in cat and cat.get(imp.catalog_id).model.generator == "pedicle_screw" and imp.bone:
            by_level.setdefault(imp.bone, {})[imp.side or imp.id] = (imp, cat.get(imp.catalog_id))
    if not by_level:
        raise InputError(f"plan {plan_name!r} has no pedicle screws", hint="Place pedicle screws in the plan first.")
    if level is None:
        def height(lv):
            lm = case.all_landmarks(plan_name).get(f"vertebral_body_centre_{lv}")
            return float(lm.position[2]) if lm is not None else 0.0
        level = min(by_level, key=height)  # LPS +z is superior: the lowest body centre is the most caudal
    if level not in by_level:
        raise InputError(f"plan {plan_name!r} has no pedicle screws at level {level!r} "
                         f"(levels with screws: {', '.join(sorted(by_level))})")
    return level, by_level[level]


def _loads(study: str, o: dict) -> dict:
    from surgiplan.core.simulation.biomech.loads import load_presets

    p = load_presets("spine")["presets"][PRESET[study]]
    f = float(o["follower_load_N"]) if o["follower_load_N"] is not None else float(p["follower_load_N"])
    m = float(o["flexion_moment_Nm"]) if o["flexion_moment_Nm"] is not None else float(p["flexion_moment_Nm"])
    return {"follower_load_N": f, "flexion_moment_Nm": m, "description": p["description"],
            "source": p["source"] if o["follower_load_N"] is None and o["flexion_moment_Nm"] is None
            else "study options (preset: " + p["source"] + ")", "check": p.get("check", "")}


def prepare(case, plan_name: str, study: str, out_dir: Path, progress, options: dict) -> Path:
    """Mesh and study file for ``study`` on ``plan_name`` in ``out_dir``; returns study.json."""
    from surgiplan.core.simulation.biomech.case_study import _ct_path
    from surgiplan.core.simulation.biomech.implant_materials import material_for
    from surgiplan.core.simulation.biomech.spine_model import (
        SpineGeometryInput,
        build_spine_surfaces,
        split_load,
        vertebral_frame,
    )
    from surgiplan.core.simulation.biomech.volume_mesher import mesh_volumes
    from surgiplan.core.simulation.meshes import finish, write_msh

    if study not in SUPPORTED_STUDIES:
        raise InputError(f"study {study!r} is not implemented in this build (available: "
                         f"{', '.join(SUPPORTED_STUDIES)})")
    o = _options(options)
    out_dir = Path(out_dir)
    fileio.ensure_folder(out_dir)
    ct = _ct_path(case)
    level, screws = _screws(case, plan_name, o["level"])
    if level not in case.model_names:
        raise InputError(f"case {case.model.name!r} has no vertebra model {level!r}", hint="Build the models first.")
    lms = case.all_landmarks(plan_name)
    need = [f"superior_endplate_centre_{level}", f"inferior_endplate_centre_{level}"]
    missing = [k for k in need if k not in lms]
    if missing:
        raise InputError(f"case {case.model.name!r} lacks the landmarks {', '.join(missing)}",
                         hint="Fit the spine landmarks (the spine plans do this) first.")
    sup, inf = lms[need[0]].position, lms[need[1]].position
    up, ant = vertebral_frame(sup, inf, np.array([0.0, -1.0, 0.0]))
    parts = {}
    for side, (imp, spec) in screws.items():
        geo = spec.geometry(imp.size, imp.options).transformed(imp.transform)
        contact = spec.model.bone_contact_parts or list(geo.parts)
        parts[side] = geo.parts[contact[0]]
    loads = _loads(study, o)
    meshed = {}
    variants = [("instrumented", out_dir, parts)] + ([("intact", out_dir / "intact", {})] if o["intact"] else [])
    for k, (kind, folder, screw_parts) in enumerate(variants):
        report(progress, 0.05 + 0.45 * k, f"meshing vertebra {level} "
               + (f"with {len(parts)} screws" if screw_parts else "without screws (intact)"))
        fileio.ensure_folder(folder)
        surf = build_spine_surfaces(SpineGeometryInput(
            vertebra=case.get_model(level), superior_centre=sup, inferior_centre=inf, anterior=ant,
            screws=screw_parts, bone_edge_mm=float(o["bone_surface_edge_mm"]),
            screw_edge_mm=float(o["implant_element_size_mm"])))
        try:
            q = mesh_volumes(surf, coarse_mm=float(o["element_size_mm"]), fine_mm=float(o["implant_element_size_mm"]),
                             refine_near=tuple(f"interface_{s}" for s in screw_parts))
            write_msh(folder / "mesh.msh")
        finally:
            finish()
        fa, fp = split_load(loads["follower_load_N"], 1000.0 * loads["flexion_moment_Nm"],
                            surf.facts["load_anterior_centroid_ap_mm"], surf.facts["load_posterior_centroid_ap_mm"])
        meshed[kind] = (folder, surf, q, fa, fp)
    _folder, surf, q, fa, fp = meshed["instrumented"]
    mats = [{"region": "bone", "youngs_modulus_MPa": 1000.0, "poissons_ratio": float(o["bone_poissons_ratio"]),
             "name": "bone (E replaced by the CT mapping)"}]
    screw_mats = {}
    for side, (_imp, spec) in screws.items():
        m = material_for(spec.model.material)
        m.require("youngs_modulus_MPa", "poissons_ratio")
        mats.append({"region": f"screw_{side}", "youngs_modulus_MPa": m.youngs_modulus_MPa,
                     "poissons_ratio": m.poissons_ratio, "name": m.name})
        screw_mats[side] = spec.model.material
    for kind, (folder, _surf, _q, f_a, f_p) in meshed.items():
        doc = {
            "schema_version": 1, "name": f"{plan_name} {study} {level} {kind}", "physics": "elasticity",
            "mesh": {"file": "mesh.msh", "unit": "mm"},
            "elasticity": {
                "degree": int(o["degree"]), "materials": mats if kind == "instrumented" else mats[:1],
                "boundary_conditions": [
                    {"type": "fixed", "boundary": "fixed"},
                    {"type": "force", "boundary": "load_anterior", "force_N": (-f_a * up).tolist()},
                    {"type": "force", "boundary": "load_posterior", "force_N": (-f_p * up).tolist()},
                ],
                "ct_material": {"volume": os.path.relpath(ct, folder.resolve()), "region": "bone",
                                "law": o["modulus_law"],
                                "calibration_slope_g_cm3_per_HU": float(o["calibration_slope_g_cm3_per_HU"]),
                                "calibration_intercept_g_cm3": float(o["calibration_intercept_g_cm3"]),
                                "min_modulus_MPa": float(o["min_modulus_MPa"]),
                                "poissons_ratio": float(o["bone_poissons_ratio"])},
            },
            "solver": {"method": "auto"},
        }
        fileio.atomic_write_text(folder / "study.json", json.dumps(doc, indent=1))
    setup = {"options": o, "n_ranks": int(options.get("n_ranks", 1)), "level": level, "up": up.tolist(),
             "anterior": ant.tolist(), "loads": loads, "force_anterior_N": fa, "force_posterior_N": fp,
             "screws": {s: {"catalog_id": imp.catalog_id, "size": imp.size, "material": screw_mats[s]}
                        for s, (imp, _) in screws.items()},
             "mesh": {"quality": q.to_dict(), "surfaces": surf.facts},
             "intact_mesh": ({"quality": meshed["intact"][2].to_dict(), "surfaces": meshed["intact"][1].facts}
                             if "intact" in meshed else None)}
    fileio.atomic_write_text(out_dir / "setup.json", json.dumps(setup, indent=1))
    report(progress, 1.0, "study file written")
    return out_dir / "study.json"


def finish(case, plan_name: str, study: str, out_dir: Path, summary: dict, progress) -> dict:
    """Per-region stresses, the screws' fatigue safety factors, surface.vtp and results.vtu."""
    from surgiplan.core.simulation.biomech.case_study import _bone_text, _read, _save, _verification, _versions
    from surgiplan.core.simulation.biomech.implant_materials import material_for

    out_dir = Path(out_dir)
    setup = json.loads((out_dir / "setup.json").read_text(encoding="utf-8"))
    regions = summary.get("regions", {})
    key = []

    def row(label, value, unit, region):
        key.append({"label": label, "value": float(value), "unit": unit, "region": region})

    screw_text = []
    for name in ["bone"] + [f"screw_{s}" for s in sorted(setup["screws"])]:
        r = regions.get(name)
        if not r:
            continue
        label = name.replace("_", " ")
        row("von Mises stress, peak", r["von_mises_peak_MPa"], "MPa", label)
        row("von Mises stress, 99th percentile", r["von_mises_p99_MPa"], "MPa", label)
        row("max principal strain, 99th percentile", 1e6 * r.get("max_principal_strain_p99", float("nan")),
            "microstrain", label)
        row("min principal strain, 1st percentile", 1e6 * r.get("min_principal_strain_p1", float("nan")),
            "microstrain", label)
        row("max displacement", r["max_displacement_mm"], "mm", label)
        if name.startswith("screw_"):
            s = setup["screws"][name[len("screw_"):]]
            mat = material_for(s["material"])
            sf = (mat.fatigue_strength_MPa / r["von_mises_peak_MPa"]
                  if mat.fatigue_strength_MPa and r.get("von_mises_peak_MPa") else float("nan"))
            row("fatigue safety factor (fatigue strength / peak von Mises)", sf, "1", label)
            screw_text.append(f"{name}: {s['catalog_id']} {s['size']} ({mat.name}: E {mat.youngs_modulus_MPa:g} MPa, "
                              f"nu {mat.poissons_ratio:g}, fatigue strength {mat.fatigue_strength_MPa} MPa)")
    grid = _read(out_dir)
    intact = None
    if setup.get("intact_mesh") and (out_dir / "intact" / "study.json").is_file():
        from surgiplan.core.jobs import sub_progress
        from surgiplan.core.simulation.runner import run_study_process

        report(progress, 0.05, "solving the intact vertebra (the screws' effect on the bone)")
        intact_summary = run_study_process(out_dir / "intact" / "study.json", out_dir / "intact",
                                           setup["n_ranks"], sub_progress(progress, 0.05, 0.45))
        ref = _read(out_dir / "intact")
        zones = _screw_effect(grid, ref, float(setup["options"]["peri_screw_mm"]))
        ib = intact_summary.get("regions", {}).get("bone", {})
        if ib:
            row("von Mises stress, 99th percentile", ib["von_mises_p99_MPa"], "MPa", "intact bone")
            row("max displacement", ib["max_displacement_mm"], "mm", "intact bone")
        for z in zones:
            row(f"strain energy density change vs intact, {z['zone']}", z["change_percent"], "%", "bone")
        ref_vtu = ref.copy()
        del ref_vtu.cell_data["region"]
        _save(ref_vtu, out_dir / "intact" / "results.vtu")
        intact = {"regions": intact_summary.get("regions", {}), "solver": intact_summary.get("solver", {}),
                  "wall_time_s": intact_summary.get("wall_time_s"), "strain_energy_density_by_zone": zones}
    report(progress, 0.5, "writing surface.vtp and results.vtu")
    disp = np.asarray(grid.point_data["displacement_mm"]).reshape(-1, 3)
    grid.point_data["displacement_magnitude_mm"] = np.linalg.norm(disp, axis=1)
    grid.cell_data["region_id"] = (grid.cell_data["region"] != "bone").astype(np.int32)
    vtu = grid.copy()
    del vtu.cell_data["region"]
    _save(vtu, out_dir / "results.vtu")
    surf = vtu.cell_data_to_point_data(pass_cell_data=False).extract_surface(algorithm="dataset_surface")
    keep = ["von_mises_MPa", "displacement_magnitude_mm", "strain_energy_density_mJ_per_mm3",
            "youngs_modulus_MPa", "region_id"]
    for n in list(surf.point_data):
        if n not in keep:
            del surf.point_data[n]
    for n in list(surf.cell_data):
        del surf.cell_data[n]
    _save(surf, out_dir / "surface.vtp")

    def rng(a):
        a = np.asarray(a, float)
        a = a[np.isfinite(a)]
        return [float(np.percentile(a, 1)), float(np.percentile(a, 99))] if len(a) else [0.0, 1.0]

    bone_pts = np.asarray(surf["region_id"]) < 0.5
    display = [
        {"name": "von_mises_MPa", "label": "von Mises stress", "unit": "MPa",
         "range": rng(np.asarray(surf["von_mises_MPa"])[bone_pts])},
        {"name": "displacement_magnitude_mm", "label": "displacement", "unit": "mm",
         "range": rng(surf["displacement_magnitude_mm"])},
        {"name": "youngs_modulus_MPa", "label": "Young's modulus (CT-mapped bone)", "unit": "MPa",
         "range": rng(np.asarray(surf["youngs_modulus_MPa"])[bone_pts]), "bone_only": True},
    ]
    q = setup["mesh"]["quality"]
    o = setup["options"]
    ld = setup["loads"]
    result = dict(summary)
    if intact is not None:
        result["intact"] = intact
    result.update({
        "key_results": key,
        "display_fields": display,
        "setup": {
            "study": study, "plan": plan_name, "level": setup["level"],
            "screws": "; ".join(screw_text) + " (sources in resources/materials/implant_materials.json)",
            "loads": (f"{ld['description']}: follower load {ld['follower_load_N']:g} N along the end-plate normal, "
                      f"flexion moment {ld['flexion_moment_Nm']:g} N m, applied as {setup['force_anterior_N']:.0f} N "
                      f"on the anterior and {setup['force_posterior_N']:.0f} N on the posterior half of the superior "
                      "end plate (uniform traction on each half); inferior end plate fixed"),
            "load_source": ld["source"], "load_check": ld["check"],
            "bone_material": _bone_text(o),
            "model": f"vertebra {setup['level']} alone (no disc, facets or ligaments), screws' shanks only, no rods"
                     + ("; the same vertebra without screws solved as the intact reference (same surface, loads "
                        f"and CT mapping; peri-screw zone: bone within {o['peri_screw_mm']:g} mm of a screw)"
                        if intact is not None else ""),
            "interface": "bonded, conforming (the bone and each screw share the interface triangles; threads "
                         "not modelled)",
            "mesh": (f"{q['elements']} tetrahedra ({q['elements_per_region']}), {q['nodes']} nodes, P{o['degree']}; "
                     f"{q['algorithm']}; element size {o['implant_element_size_mm']:g} mm at the screws to "
                     f"{o['element_size_mm']:g} mm; min dihedral angle {q['min_dihedral_deg']:.2f} deg "
                     f"(1st percentile {q['p01_dihedral_deg']:.1f} deg), aspect ratio p99 {q['p99_aspect_ratio']:.2f}"),
            "mesh_quality": setup["mesh"],
            "software": _versions(),
        },
        "verification": _verification(),
    })
    report(progress, 1.0, "done")
    return result


def _screw_effect(grid, ref, radius_mm: float) -> list[dict]:
    """Volume-weighted mean strain energy density of the bone, instrumented (``grid``) vs intact
    (``ref``), in the peri-screw zone (bone cells whose centre lies within ``radius_mm`` of a screw
    node of the instrumented mesh) and in the rest of the vertebra; also sets the ``peri_screw``
    cell array (1 in the zone) on both grids."""
    from scipy.spatial import cKDTree

    screw_cells = np.flatnonzero(np.asarray(grid.cell_data["region"]) != "bone")
    screw_pts = np.asarray(grid.extract_cells(screw_cells).points)
    tree = cKDTree(screw_pts)
    out = {}
    for key, g in (("instrumented", grid), ("intact", ref)):
        centres = np.asarray(g.cell_centers().points)
        bone = np.asarray(g.cell_data["region"]) == "bone"
        near = bone & (tree.query(centres, k=1)[0] <= radius_mm)
        g.cell_data["peri_screw"] = near.astype(np.int32)
        vol = g.compute_cell_sizes(length=False, area=False, volume=True).cell_data["Volume"]
        sed = np.asarray(g.cell_data["strain_energy_density_mJ_per_mm3"])
        for zone, sel in (("peri-screw", near), ("rest of the vertebra", bone & ~near)):
            out.setdefault(zone, {})[key] = (float(np.sum(sed[sel] * vol[sel]) / np.sum(vol[sel]))
                                             if np.any(sel) else float("nan"))
            out[zone][f"{key}_volume_mm3"] = float(np.sum(vol[sel]))
    rows = []
    for zone, v in out.items():
        change = (100.0 * (v["instrumented"] - v["intact"]) / v["intact"]
                  if v["intact"] > 0 else float("nan"))
        rows.append({"zone": f"{zone} bone", "sed_instrumented_mJ_per_mm3": v["instrumented"],
                     "sed_intact_mJ_per_mm3": v["intact"], "change_percent": change,
                     "volume_instrumented_mm3": v["instrumented_volume_mm3"],
                     "volume_intact_mm3": v["intact_volume_mm3"]})
    return rows
