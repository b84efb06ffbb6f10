"""Hip biomechanics on a saved plan: ``hip-walking`` and ``hip-stairs``.

prepare: the plan's stem, the neck cut (the plan's ``neck_cut_<side>`` resection, else the default
one of :mod:`surgiplan.core.planning.neck_resection`), the femur cropped ``crop_below_tip_mm`` below
the stem tip, conforming bone/stem meshes (implanted and intact, same crop), CT-mapped bone modulus,
the stem's material from the table, the hip contact and abductor forces of the preset in the
femoral frame, written as ``study.json`` (implanted) and ``intact/study.json``.
finish: the intact study is solved too; per-region stresses and strains, the stem's fatigue safety
factor, strain energy density per Gruen zone implanted vs intact, ``surface.vtp`` (bone and stem
surface with point fields), ``results.vtu`` (every field, readable by ParaView, pyvista and meshio).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np

from surgiplan.core import fileio
from surgiplan.core.errors import InputError
from surgiplan.core.jobs import report, sub_progress

SUPPORTED_STUDIES = ("hip-walking", "hip-stairs")
PRESET = {"hip-walking": "walking", "hip-stairs": "stairs"}

#: study options (all settable: ``surgiplan simulate ... --option key=value`` / run_case_study(options=))
DEFAULTS = {
    "element_size_mm": 4.0,  # tetrahedra far from the implant
    "implant_element_size_mm": 2.0,  # tetrahedra and surface triangles at the implant
    "bone_surface_edge_mm": 3.0,  # the bone surface is remeshed to this edge first
    "degree": 2,  # displacement element degree (P2 for bending-dominated bone)
    "crop_below_tip_mm": 60.0,
    "modulus_law": "morgan2003_femoral_neck",
    "calibration_slope_g_cm3_per_HU": 0.0008,
    "calibration_intercept_g_cm3": 0.0,
    "min_modulus_MPa": 10.0,
    "bone_poissons_ratio": 0.3,
    "body_mass_kg": None,  # None: the case's patient mass, else the preset's default (75 kg)
    "gruen_radius_mm": 30.0,
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


def _stem_of(case, plan_name: str):
    from surgiplan.core.planning.catalog import default_catalog

    cat = default_catalog()
    for imp in case.plan(plan_name).implants.values():
        if imp.catalog_id in cat and cat.get(imp.catalog_id).model.generator == "stem":
            return imp, cat.get(imp.catalog_id), cat
    raise InputError(f"plan {plan_name!r} has no femoral stem", hint="Place a stem in the plan first.")


def _geometry_inputs(case, plan_name: str, study: str, o: dict, *, implanted: bool):
    from surgiplan.core.planning.neck_resection import neck_resection
    from surgiplan.core.simulation.biomech.hip_model import HipGeometryInput
    from surgiplan.core.simulation.biomech.loads import body_mass_kg, femoral_frame, hip_loads, load_presets

    stem, spec, cat = _stem_of(case, plan_name)
    side = stem.side if stem.side in ("left", "right") else "left"
    lms = case.all_landmarks(plan_name)
    frame = femoral_frame(lms, side)
    default_mass = load_presets("hip")["body_weight"]["default_mass_kg"]
    if o["body_mass_kg"] is not None:
        mass, src = float(o["body_mass_kg"]), "study option body_mass_kg"
    else:
        mass, src = body_mass_kg(case, default_mass)
    loads = hip_loads(PRESET[study], frame, mass, mass_source=src)
    model = f"femur_{side}"
    if model not in case.model_names:
        raise InputError(f"case {case.model.name!r} has no model {model!r}", hint="Build the bone models first.")
    geo = spec.geometry(stem.size, stem.options).transformed(stem.transform)
    a = geo.anchors
    p = spec.size(stem.size)
    res = case.plan(plan_name).resections.get(f"neck_cut_{side}")
    res_source = "the plan's neck cut"
    if res is None:
        res = neck_resection(lms, side)
        res_source = "computed (default level 15 mm above the lesser trochanter, 45 deg to the shaft); not in the plan"
    crop = a["tip"] - float(o["crop_below_tip_mm"]) * frame.proximal
    if implanted:
        head_size = stem.options.get("head")
        head_r = cat.get("hip_head").size(str(head_size))["diameter"] / 2 if head_size else p["neck_diameter"] / 2
        inp = HipGeometryInput(
            femur=case.get_model(model), shaft_axis=frame.proximal, crop_point=crop, head_centre=a["head_centre"],
            head_radius=head_r, hip_force_dir=loads.hip_contact_N, lateral=frame.lateral,
            stem_parts=dict(geo.parts), resection_origin=res.origin, resection_normal=res.normal,
            neck_base=a["shaft_point"], neck_radius=p["neck_diameter"] / 2,
            bone_edge_mm=float(o["bone_surface_edge_mm"]), stem_edge_mm=float(o["implant_element_size_mm"]))
    else:
        head_r = lms.get(f"femoral_head_radius_{side}")
        inp = HipGeometryInput(
            femur=case.get_model(model), shaft_axis=frame.proximal, crop_point=crop, head_centre=frame.origin,
            head_radius=float(head_r.position[0]) if head_r is not None else 25.0,
            hip_force_dir=loads.hip_contact_N, lateral=frame.lateral,
            bone_edge_mm=float(o["bone_surface_edge_mm"]))
    ctx = {"stem": stem, "spec": spec, "side": side, "frame": frame, "loads": loads, "anchors": a,
           "resection": res, "resection_source": res_source, "crop": crop}
    return inp, ctx


def _mesh(inp, o: dict, path: Path, implanted: bool) -> dict:
    from surgiplan.core.simulation.biomech.hip_model import build_hip_surfaces
    from surgiplan.core.simulation.biomech.volume_mesher import mesh_volumes
    from surgiplan.core.simulation.meshes import finish, write_msh

    surf = build_hip_surfaces(inp)
    try:
        q = mesh_volumes(surf, coarse_mm=float(o["element_size_mm"]), fine_mm=float(o["implant_element_size_mm"]),
                         refine_near=("interface",) if implanted else ())
        write_msh(path)
    finally:
        finish()
    return {"quality": q.to_dict(), "surfaces": surf.facts}


def _study_json(name: str, ct_rel: str, ctx: dict, o: dict, implanted: bool) -> dict:
    from surgiplan.core.simulation.biomech.implant_materials import material_for

    loads = ctx["loads"]
    mats = [{"region": "bone", "youngs_modulus_MPa": 1000.0, "poissons_ratio": float(o["bone_poissons_ratio"]),
             "name": "bone (E replaced by the CT mapping)"}]
    if implanted:
        m = material_for(ctx["spec"].model.material)
        m.require("youngs_modulus_MPa", "poissons_ratio")
        mats.append({"region": "stem", "youngs_modulus_MPa": m.youngs_modulus_MPa, "poissons_ratio": m.poissons_ratio,
                     "name": m.name})
    return {
        "schema_version": 1, "name": name, "physics": "elasticity",
        "mesh": {"file": "mesh.msh", "unit": "mm"},
        "elasticity": {
            "degree": int(o["degree"]),
            "materials": mats,
            "boundary_conditions": [
                {"type": "fixed", "boundary": "fixed"},
                {"type": "force", "boundary": "head_load", "force_N": [float(x) for x in loads.hip_contact_N]},
                {"type": "force", "boundary": "abductor", "force_N": [float(x) for x in loads.abductor_N]},
            ],
            "ct_material": {"volume": ct_rel, "region": "bone", "law": o["modulus_law"],
                            "calibration_slope_g_cm3_per_HU": float(o["calibration_slope_g_cm3_per_HU"]),
                            "calibration_intercept_g_cm3": float(o["calibration_intercept_g_cm3"]),
                            "min_modulus_MPa": float(o["min_modulus_MPa"]),
                            "poissons_ratio": float(o["bone_poissons_ratio"])},
        },
        "solver": {"method": "auto"},
    }


def _ct_path(case) -> Path:
    if not case.model.scans:
        raise InputError(f"case {case.model.name!r} has no scan: the bone modulus is mapped from the CT",
                         hint="Add the planning CT to the case.")
    return (Path(case.root) / case.model.scans[0].volume).resolve()


def prepare(case, plan_name: str, study: str, out_dir: Path, progress, options: dict) -> Path:
    """Meshes and study files for ``study`` on ``plan_name`` in ``out_dir``; returns study.json."""
    import os

    if study not in SUPPORTED_STUDIES:
        raise InputError(f"study {study!r} is not implemented in this build (available: "
                         f"{', '.join(SUPPORTED_STUDIES)})")
    o = _options(options)
    out_dir = Path(out_dir)
    ct = _ct_path(case)
    setup = {}
    for k, implanted in enumerate((True, False)):
        folder = out_dir if implanted else out_dir / "intact"
        fileio.ensure_folder(folder)
        report(progress, 0.05 + 0.45 * k, f"meshing the {'implanted' if implanted else 'intact'} femur")
        inp, ctx = _geometry_inputs(case, plan_name, study, o, implanted=implanted)
        facts = _mesh(inp, o, folder / "mesh.msh", implanted)
        ct_rel = os.path.relpath(ct, folder.resolve())
        doc = _study_json(f"{plan_name} {study} {'implanted' if implanted else 'intact'}", ct_rel, ctx, o, implanted)
        fileio.atomic_write_text(folder / "study.json", json.dumps(doc, indent=1))
        setup["implanted" if implanted else "intact"] = facts
    frame, res, a = ctx["frame"], ctx["resection"], ctx["anchors"]
    setup_doc = {
        "options": o, "n_ranks": int(options.get("n_ranks", 1)), "side": ctx["side"],
        "frame": {"origin": frame.origin.tolist(), "lateral": frame.lateral.tolist(),
                  "anterior": frame.anterior.tolist(), "proximal": frame.proximal.tolist()},
        "stem": {"catalog_id": ctx["stem"].catalog_id, "size": ctx["stem"].size,
                 "tip": a["tip"].tolist(), "shoulder": a["shoulder"].tolist(), "axis": a["axis"].tolist(),
                 "head_centre": a["head_centre"].tolist(), "material": ctx["spec"].model.material},
        "resection": {"origin": res.origin.tolist(), "normal": res.normal.tolist(), "source": ctx["resection_source"]},
        "loads": ctx["loads"].facts, "hip_contact_N": ctx["loads"].hip_contact_N.tolist(),
        "abductor_N": ctx["loads"].abductor_N.tolist(), "meshes": setup,
    }
    fileio.atomic_write_text(out_dir / "setup.json", json.dumps(setup_doc, indent=1))
    report(progress, 1.0, "study files written")
    return out_dir / "study.json"


# --------------------------------------------------------------------------------------- finish
def _region_of_cells(grid, msh: Path) -> np.ndarray:
    """Physical volume name index per result cell (matched by centroid with the gmsh mesh)."""
    import meshio
    from scipy.spatial import cKDTree

    m = meshio.read(msh)
    tets, tags = [], []
    for block, data in zip(m.cells, m.cell_data["gmsh:physical"], strict=True):
        if block.type == "tetra":
            tets.append(block.data)
            tags.append(np.asarray(data))
    tets, tags = np.vstack(tets), np.concatenate(tags)
    names = {int(v[0]): k for k, v in m.field_data.items() if int(v[1]) == 3}
    cent = m.points[tets].mean(axis=1)
    res_cent = np.asarray(grid.cell_centers().points)
    _, idx = cKDTree(cent).query(res_cent)
    return np.array([names.get(int(t), "?") for t in tags[idx]])


def _zones(points, setup: dict) -> np.ndarray:
    from surgiplan.core.simulation.biomech.gruen import gruen_zones

    s = setup["stem"]
    axis = np.asarray(s["axis"], float)
    axis = axis / np.linalg.norm(axis)
    tip = np.asarray(s["tip"], float)
    head = np.asarray(s["head_centre"], float)
    medial = (head - tip) - np.dot(head - tip, axis) * axis
    medial /= np.linalg.norm(medial)
    res_o, res_n = np.asarray(setup["resection"]["origin"]), np.asarray(setup["resection"]["normal"])
    # the resection level on the stem axis: where the axis crosses the cut plane (else the shoulder)
    denom = float(np.dot(res_n, axis))
    top = float(np.dot(res_o - tip, res_n) / denom) if abs(denom) > 1e-6 else float(
        np.dot(np.asarray(s["shoulder"]) - tip, axis))
    top = min(top, float(np.dot(np.asarray(s["shoulder"]) - tip, axis)))
    return gruen_zones(points, tip, axis, medial, top, 0.0, radius_mm=float(setup["options"]["gruen_radius_mm"]))


def _read(folder: Path):
    from surgiplan.core.simulation.results import read_results

    grid = read_results(folder / "results.xdmf")
    grid.cell_data["region"] = _region_of_cells(grid, folder / "mesh.msh")
    return grid


def _sed_by_zone(grid, zones) -> dict[int, float]:
    vol = grid.compute_cell_sizes(length=False, area=False, volume=True).cell_data["Volume"]
    sed = np.asarray(grid.cell_data["strain_energy_density_mJ_per_mm3"])
    bone = grid.cell_data["region"] == "bone"
    out = {}
    for z in range(1, 8):
        sel = bone & (zones == z)
        out[z] = float(np.sum(sed[sel] * vol[sel]) / np.sum(vol[sel])) if np.any(sel) else float("nan")
    return out


def finish(case, plan_name: str, study: str, out_dir: Path, summary: dict, progress) -> dict:
    """Solve the intact femur too, then stresses, safety factor, Gruen-zone SED, surface.vtp, results.vtu."""

    from surgiplan.core.simulation.biomech.implant_materials import material_for
    from surgiplan.core.simulation.runner import run_study_process

    out_dir = Path(out_dir)
    setup = json.loads((out_dir / "setup.json").read_text(encoding="utf-8"))
    report(progress, 0.0, "solving the intact femur (stress-shielding reference)")
    intact_summary = run_study_process(out_dir / "intact" / "study.json", out_dir / "intact", setup["n_ranks"],
                                       sub_progress(progress, 0.0, 0.7))
    report(progress, 0.7, "stress shielding per Gruen zone")
    imp, ref = _read(out_dir), _read(out_dir / "intact")
    zi = _zones(np.asarray(imp.cell_centers().points), setup)
    zr = _zones(np.asarray(ref.cell_centers().points), setup)
    imp.cell_data["gruen_zone"] = np.where(imp.cell_data["region"] == "bone", zi, 0).astype(np.int32)
    ref.cell_data["gruen_zone"] = np.where(ref.cell_data["region"] == "bone", zr, 0).astype(np.int32)
    sed_i, sed_r = _sed_by_zone(imp, zi), _sed_by_zone(ref, zr)
    gruen = [{"zone": z, "sed_implanted_mJ_per_mm3": sed_i[z], "sed_intact_mJ_per_mm3": sed_r[z],
              "change_percent": 100.0 * (sed_i[z] - sed_r[z]) / sed_r[z] if sed_r[z] > 0 else float("nan")}
             for z in range(1, 8)]
    change = np.zeros(imp.n_cells)
    for g in gruen:
        change[imp.cell_data["gruen_zone"] == g["zone"]] = g["change_percent"]
    imp.cell_data["sed_change_percent_by_gruen_zone"] = change
    regions = summary.get("regions", {})
    mat = material_for(setup["stem"]["material"])
    stem_r = regions.get("stem", {})
    bone_r = regions.get("bone", {})
    intact_bone = intact_summary.get("regions", {}).get("bone", {})
    sf = (mat.fatigue_strength_MPa / stem_r["von_mises_peak_MPa"]
          if mat.fatigue_strength_MPa and stem_r.get("von_mises_peak_MPa") else float("nan"))
    key = []

    def row(label, value, unit, region):
        key.append({"label": label, "value": float(value), "unit": unit, "region": region})

    for name, r in (("bone", bone_r), ("stem", stem_r), ("intact bone", intact_bone)):
        if not r:
            continue
        row("von Mises stress, peak", r["von_mises_peak_MPa"], "MPa", name)
        row("von Mises stress, 99th percentile", r["von_mises_p99_MPa"], "MPa", name)
        row("max principal strain, 99th percentile", 1e6 * r.get("max_principal_strain_p99", float("nan")),
            "microstrain", name)
        row("min principal strain, 1st percentile", 1e6 * r.get("min_principal_strain_p1", float("nan")),
            "microstrain", name)
        row("max displacement", r["max_displacement_mm"], "mm", name)
    row("fatigue safety factor (fatigue strength / peak von Mises)", sf, "1", "stem")
    for g in gruen:
        row(f"strain energy density change vs intact, Gruen zone {g['zone']}", g["change_percent"], "%", "bone")
    # display surfaces: point data from cell data, bone and stem outside
    report(progress, 0.85, "writing surface.vtp and results.vtu")
    disp = imp.point_data["displacement_mm"]
    imp.point_data["displacement_magnitude_mm"] = np.linalg.norm(np.asarray(disp).reshape(-1, 3), axis=1)
    imp.cell_data["region_id"] = (imp.cell_data["region"] == "stem").astype(np.int32)
    vtu = imp.copy()
    del vtu.cell_data["region"]  # strings: VTU readers (meshio) want numbers
    _save(vtu, out_dir / "results.vtu")
    cells_pd = vtu.cell_data_to_point_data(pass_cell_data=False)
    surf = cells_pd.extract_surface(algorithm="dataset_surface")
    keep = ["von_mises_MPa", "displacement_magnitude_mm", "strain_energy_density_mJ_per_mm3",
            "sed_change_percent_by_gruen_zone", "youngs_modulus_MPa", "region_id"]
    for n in list(surf.point_data):
        if n not in keep:
            del surf.point_data[n]
    for n in list(surf.cell_data):
        del surf.cell_data[n]
    _save(surf, out_dir / "surface.vtp")
    ref_vtu = ref.copy()
    ref_vtu.cell_data["region_id"] = (ref_vtu.cell_data["region"] == "stem").astype(np.int32)
    del ref_vtu.cell_data["region"]
    _save(ref_vtu, out_dir / "intact" / "results.vtu")

    def rng(a):
        a = np.asarray(a, float)
        a = a[np.isfinite(a)]
        return [float(np.percentile(a, 1)), float(np.percentile(a, 99))] if len(a) else [0.0, 1.0]

    display = [
        # the bone's range (the stem's stresses are ten times higher and would leave the bone in one colour)
        {"name": "von_mises_MPa", "label": "von Mises stress", "unit": "MPa",
         "range": rng(np.asarray(surf["von_mises_MPa"])[np.asarray(surf["region_id"]) < 0.5])},
        {"name": "displacement_magnitude_mm", "label": "displacement", "unit": "mm",
         "range": rng(surf["displacement_magnitude_mm"])},
        {"name": "sed_change_percent_by_gruen_zone", "label": "strain energy density vs intact (Gruen zone)",
         "unit": "%", "range": [-100.0, 100.0]},
        # the bone alone: the stem's 114 GPa would leave every bone value in the bottom colour
        {"name": "youngs_modulus_MPa", "label": "Young's modulus (CT-mapped bone)", "unit": "MPa",
         "range": rng(np.asarray(surf["youngs_modulus_MPa"])[np.asarray(surf["region_id"]) < 0.5]),
         "bone_only": True},
    ]
    meshes = setup["meshes"]
    qi = meshes["implanted"]["quality"]
    result = dict(summary)
    result.update({
        "key_results": key,
        "display_fields": display,
        "gruen_zones": gruen,
        "intact": {"regions": intact_summary.get("regions", {}), "solver": intact_summary.get("solver", {}),
                   "wall_time_s": intact_summary.get("wall_time_s")},
        "setup": {
            "study": study, "plan": plan_name, "side": setup["side"],
            "stem": f"{setup['stem']['catalog_id']} size {setup['stem']['size']} ({mat.name}: E "
                    f"{mat.youngs_modulus_MPa:g} MPa, nu {mat.poissons_ratio:g}, fatigue strength "
                    f"{mat.fatigue_strength_MPa} MPa; sources in resources/materials/implant_materials.json)",
            "neck_cut": setup["resection"]["source"],
            **setup["loads"],
            "bone_material": _bone_text(setup["options"]),
            "crop": f"femur kept from {setup['options']['crop_below_tip_mm']:g} mm below the stem tip up to the neck "
                    "cut (intact: up to the head); the distal cut face is fixed",
            "interface": "bonded, conforming (the bone and the stem share the interface triangles)",
            "mesh": (f"{qi['elements']} tetrahedra ({qi['elements_per_region']}), {qi['nodes']} nodes, "
                     f"P{setup['options']['degree']}; {qi['algorithm']}; element size "
                     f"{setup['options']['implant_element_size_mm']:g} mm at the stem to "
                     f"{setup['options']['element_size_mm']:g} mm; min dihedral angle "
                     f"{qi['min_dihedral_deg']:.2f} deg (1st percentile {qi['p01_dihedral_deg']:.1f} deg), "
                     f"aspect ratio p99 {qi['p99_aspect_ratio']:.2f}"),
            "mesh_quality": meshes,
            "software": _versions(),
        },
        "verification": _verification(),
    })
    report(progress, 1.0, "done")
    return result


def _save(obj, path: Path) -> None:
    """Save a pyvista dataset through fileio (the temporary keeps the suffix VTK picks the format by)."""
    fileio.atomic_write(path, lambda tmp: obj.save(str(tmp), binary=True))


def _bone_text(o: dict) -> str:
    from surgiplan.core.simulation.biomech.bone_material import BoneMapping

    m = BoneMapping(law=o["modulus_law"], calibration_slope_g_cm3_per_HU=o["calibration_slope_g_cm3_per_HU"],
                    calibration_intercept_g_cm3=o["calibration_intercept_g_cm3"], min_modulus_MPa=o["min_modulus_MPa"])
    return (m.describe() + f"; nu {o['bone_poissons_ratio']:g}; integrated over each element (Gauss rule); "
            "the calibration is an assumed example unless set from the scan's phantom")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in ("dolfinx", "gmsh", "manifold3d", "pyacvd", "pyvista"):
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "") or getattr(m, "GMSH_API_VERSION", "")
        except Exception:
            pass
    return out


def _verification() -> dict:
    """The HU -> E mapping checked against the shared reference table now; the solver by surgiplan verify."""
    try:
        from surgiplan.core.simulation.verify import load_reference, verify_hu_mapping

        rows = verify_hu_mapping(load_reference())
        return {"hu_density_modulus_mapping": f"{sum(r.passed for r in rows)}/{len(rows)} reference values "
                f"reproduced (max relative error {max(r.relative_error for r in rows):.1e})",
                "solver": "verified against analytic solutions by `surgiplan verify` (run it to confirm on this "
                          "machine)"}
    except Exception as exc:  # the reference file is not on every installation
        return {"hu_density_modulus_mapping": f"not checked ({exc})",
                "solver": "verified against analytic solutions by `surgiplan verify`"}
