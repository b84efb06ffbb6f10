"""Flow study set-up for a vessel model and its results: centreline table, lesion pressure drop,
pressure ratio, WSS, flow split, ``surface.vtp`` and the summary keys of the study contract.

Boundary conditions (steady):

* inlet: the flow rate (mL/s) with a developed (parabolic) profile mapped onto the real inlet section
  (at the end of its straight flow extension);
* outlets: resistances R_i = P_mean / Q_i, with the split Q_i of the inlet flow by Murray's law
  (Q_i proportional to r_i^3 with r_i the HEALTHY reference radius of outlet i, measured on the native
  lumen) or a split the user gives; the same resistances before and after a stent, so pre/post compare
  the same physiology (the resistances dwarf the lesion's, so the split stays near the target);
* walls rigid, no slip; Newtonian blood 1060 kg/m^3, 3.5 mPa s unless set.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from surgiplan.core.errors import InputError

MMHG = 133.322387415
WSS_LOW, WSS_HIGH = 0.4, 2.5


def flow_study_dict(info: dict, flow_mL_s: float, mean_pressure_mmHg: float, *, density=1060.0,
                    viscosity=0.0035, split: list[float] | None = None, probe_points_mm=None,
                    name: str = "vessel") -> dict:
    """The study.json content (mesh ``mesh.msh`` beside it, mm)."""
    if not (flow_mL_s > 0 and math.isfinite(flow_mL_s)):
        raise InputError(f"the inlet flow must be a positive number of mL/s (got {flow_mL_s})")
    if not (density > 0 and viscosity > 0):
        raise InputError(f"density and viscosity must be positive (got {density} kg/m^3, {viscosity} Pa s)",
                         hint="Blood: 1060 kg/m^3, 0.0035 Pa s.")
    outs = info["outlets"]
    if split is None:
        w = np.array([o["reference_radius_mm"] ** 3 for o in outs])
        split = (w / w.sum()).tolist()
        how = "Murray's law (Q_i ~ r_i^3, healthy reference radius of each outlet)"
    else:
        if len(split) != len(outs) or min(split) <= 0:
            raise InputError(f"the flow split needs {len(outs)} positive fractions (got {split})")
        split = (np.asarray(split, float) / float(np.sum(split))).tolist()
        how = "given by the user"
    q = flow_mL_s * 1e-6
    p = mean_pressure_mmHg * MMHG
    outlets = [{"boundary": o["name"], "type": "resistance", "resistance_Pa_s_m3": p / (q * f)}
               for o, f in zip(outs, split, strict=True)]
    study = {
        "schema_version": 1, "name": name, "physics": "flow",
        "mesh": {"file": info["mesh"]["file"], "unit": "mm"},
        "flow": {"fluid": {"density_kg_m3": density, "viscosity_Pa_s": viscosity},
                 "inlet": {"boundary": "inlet", "flow_rate_mL_s": flow_mL_s},
                 "outlets": outlets, "walls": ["wall"],
                 # the jet past a stenosis reaches the outlets: stabilise inflow through them (all components)
                 "backflow_stabilization": "full",
                 "probe_points_m": (np.asarray(probe_points_mm) * 1e-3).tolist() if probe_points_mm is not None
                 else []},
        # exact Newton (a fresh MUMPS LU each step) with a backtracking line search: on the stenosed
        # sample the kept BLR factorisation made GMRES stall, and full Newton steps diverged
        # (plus 2 MUMPS iterative-refinement steps); residual reduced 1e-6: from the Stokes start the
        # damped steps reduce it slowly, later solves (resistance matching) converge quadratically
        "solver": {"method": "direct", "newton_rtol": 1e-6,
                   "petsc_options": {"ksp_type": "preonly", "snes_linesearch_type": "bt",
                                     "mat_mumps_icntl_10": -2}},
    }
    bc = {"inflow_mL_s": flow_mL_s, "mean_pressure_mmHg": mean_pressure_mmHg, "split": split, "split_rule": how,
          "resistances_Pa_s_m3": [o["resistance_Pa_s_m3"] for o in outlets]}
    return study, bc


def _section_flow(info: dict, flows: dict, ci: int, arc_mm: float, q_in: float) -> float:
    """Flow (mL/s) through a section of centreline ``ci``: the inflow upstream of its branch point,
    the flow of its own outlet downstream (two outlets per branch point; mass conservation)."""
    cl = info["centrelines"][ci]
    arc0 = cl["arc_mm"][cl["inlet_cut_index"]]
    split = min((b["arc_mm"] for b in info["branch_points"] if ci in b["centrelines"]), default=None)
    if split is None or arc_mm + arc0 < split:
        return q_in
    return flows.get(cl["outlet"], q_in)


def _section_values(info: dict, probes: list[dict]) -> list[dict]:
    rows = []
    cursor = 0
    by_index = {}
    for i, s in enumerate(info["sections"]):
        if s["probe_start"] is None:
            rows.append(dict(by_index[s["same_as"]], centreline=s["centreline"], arc_mm=s["arc_mm"]))
            continue
        inside = np.asarray(s["inside"], bool)
        n = int(inside.sum())
        vals = probes[cursor:cursor + n]
        cursor += n
        t = np.asarray(s["tangent"])
        full = [None] * len(inside)
        it = iter(vals)
        for k in range(len(inside)):
            if inside[k]:
                full[k] = next(it)
        ok = [v for v in full if v is not None]
        if not ok:
            continue
        ut = [float(np.dot(v["velocity_m_per_s"], t)) for v in ok]
        ps = [v["pressure_Pa"] for v in ok]
        centre = full[0]
        row = {"centreline": s["centreline"], "arc_mm": round(s["arc_mm"], 2),
               "point_mm": [round(x, 2) for x in s["point_mm"]], "radius_mm": round(s["radius_mm"], 3),
               "centre_velocity_m_s": None if centre is None else round(float(np.linalg.norm(
                   centre["velocity_m_per_s"])), 4),
               "mean_velocity_m_s": round(float(np.mean(ut)), 4),
               "mean_pressure_mmHg": round(float(np.mean(ps)) / MMHG, 3),
               "samples": n}
        by_index[i] = row
        rows.append(row)
    return rows


def lesion_pressures(info: dict, table: list[dict]) -> list[dict]:
    """Proximal/distal section pressures of every stenosis (sections from the native detection)."""
    out = []
    for st in info["stenoses"]:
        ci = st["centreline"]
        k_in = info["centrelines"][ci]["inlet_cut_index"]
        arc0 = info["centrelines"][ci]["arc_mm"][k_in]
        rows = [r for r in table if r["centreline"] == ci]
        prox_arc = st["proximal_arc_mm"] - arc0 - 0.5 * st["reference_diameter_mm"]
        dist_arc = st["distal_arc_mm"] - arc0 + 2.0 * st["reference_diameter_mm"]
        prox = [r for r in rows if r["arc_mm"] <= prox_arc]
        dist = [r for r in rows if r["arc_mm"] >= dist_arc]
        if not prox or not dist:
            continue
        p, d = prox[-1], dist[0]
        out.append({"stenosis": st, "proximal": p, "distal": d,
                    "pressure_drop_mmHg": p["mean_pressure_mmHg"] - d["mean_pressure_mmHg"],
                    "pressure_ratio": d["mean_pressure_mmHg"] / p["mean_pressure_mmHg"]})
    return out


def wall_surface(results_xdmf: Path, info: dict):
    """The wall of the solved mesh (mm) with ``pressure_mmHg`` and ``wss_Pa`` point data; cells beyond the
    cut planes (the flow extensions and caps) get ``anatomy`` = 0."""
    from surgiplan.core.simulation.results import read_results

    grid = read_results(results_xdmf)
    surf = grid.extract_surface(algorithm="dataset_surface")
    surf.points = surf.points * 1e3
    if "pressure_Pa" in surf.point_data:
        surf.point_data["pressure_mmHg"] = np.asarray(surf.point_data["pressure_Pa"]) / MMHG
    wss = np.asarray(surf.cell_data.get("wall_shear_stress_Pa", np.zeros(surf.n_cells)))
    centres = surf.cell_centers().points
    anatomy = np.ones(surf.n_cells, bool)
    for c in [info["inlet"]["cut"]] + [o["cut"] for o in info["outlets"]]:
        beyond = (centres - np.asarray(c["origin_mm"])) @ np.asarray(c["normal"]) > -1e-6
        near = np.linalg.norm(centres - np.asarray(c["origin_mm"]), axis=1) < 3 * c["radius_mm"] + c["extension_mm"]
        anatomy &= ~(beyond & near)
    surf.cell_data["anatomy"] = anatomy.astype(np.uint8)
    surf.cell_data["wss_Pa"] = wss
    keep = {"pressure_mmHg", "wss_Pa", "anatomy"}
    for name in list(surf.point_data.keys()):
        if name not in keep:
            del surf.point_data[name]
    for name in list(surf.cell_data.keys()):
        if name not in keep:
            del surf.cell_data[name]
    # caps carry no wall shear: their cells are removed from the display surface
    normals = surf.compute_normals(cell_normals=True, point_normals=False).cell_data["Normals"]
    cap = np.zeros(surf.n_cells, bool)
    for c in [info["inlet"]["cut"]] + [o["cut"] for o in info["outlets"]]:
        on = np.abs((centres - np.asarray(c["cap_origin_mm"])) @ np.asarray(c["normal"])) < 1e-3 * max(
            1.0, c["radius_mm"])
        cap |= on & (np.abs(normals @ np.asarray(c["normal"])) > 0.99)
    surf = surf.extract_cells(np.nonzero(~cap)[0]).extract_surface(algorithm="dataset_surface")
    pd = surf.cell_data_to_point_data(pass_cell_data=True)
    surf.point_data["wss_Pa"] = np.asarray(pd.point_data["wss_Pa"])
    return surf


def wss_stats(surf) -> dict:
    """Area-weighted WSS over the anatomical wall (extensions left out): mean, max, areas (mm^2)."""
    sized = surf.compute_cell_sizes(length=False, volume=False)
    a = np.asarray(sized.cell_data["Area"])
    w = np.asarray(surf.cell_data["wss_Pa"])
    m = np.asarray(surf.cell_data["anatomy"], bool) & (a > 0)
    if not m.any():
        return {}
    return {"wss_mean_Pa": float((w[m] * a[m]).sum() / a[m].sum()), "wss_max_Pa": float(w[m].max()),
            "area_wss_below_0.4_Pa_mm2": float(a[m & (w < WSS_LOW)].sum()),
            "area_wss_above_2.5_Pa_mm2": float(a[m & (w > WSS_HIGH)].sum()),
            "wall_area_mm2": float(a[m].sum())}


def vessel_results(out_dir: Path, info: dict, bc: dict, solver_summary: dict) -> dict:
    """The study summary (contract keys) from the solver's summary and the saved fields."""
    out_dir = Path(out_dir)
    fs = solver_summary.get("final_state", {})
    probes = fs.get("probes", [])
    table = _section_values(info, probes)
    flows0 = fs.get("outlet_flow_mL_per_s", {})
    q_in = fs.get("inlet_flow_mL_per_s", sum(flows0.values()))
    for row in table:  # the cross-section mean from mass conservation (the ring samples miss the wall layer)
        q = _section_flow(info, flows0, row["centreline"], row["arc_mm"], q_in)
        row["flow_mL_s"] = round(q, 4)
        row["mean_velocity_m_s"] = round(q * 1e-6 / (math.pi * (row["radius_mm"] * 1e-3) ** 2), 4)
    lesions = lesion_pressures(info, table)
    surf = wall_surface(out_dir / "results.xdmf", info)
    ws = wss_stats(surf)
    write_vtp(out_dir / "surface.vtp", surf)
    rho = bc.get("density", 1060.0)
    mu = bc.get("viscosity", 0.0035)
    st_info = info.get("stent")
    # which lumen was solved, so that a plan comparison reads as pre-stent (native) against post-stent
    key = [{"label": "lumen", "value": f"stented ({st_info['name']})" if st_info else "native (pre-stent)",
            "unit": "", "region": "lesion"}]
    for les in lesions:
        st = les["stenosis"]
        where = f"stenosis, centreline to {info['centrelines'][st['centreline']]['outlet']}"
        key += [
            {"label": "pressure drop across the lesion", "value": round(les["pressure_drop_mmHg"], 3), "unit": "mmHg",
             "region": where},
            {"label": "distal/proximal pressure ratio", "value": round(les["pressure_ratio"], 4), "unit": "1",
             "region": where},
            {"label": "minimal lumen diameter (model)", "value": _model_min_diameter(info, st), "unit": "mm",
             "region": where},
        ]
    flows = fs.get("outlet_flow_mL_per_s", {})
    for name, q in flows.items():
        key.append({"label": f"flow through {name}", "value": round(q, 3), "unit": "mL/s", "region": name})
    if ws:
        key += [{"label": "mean wall shear stress", "value": round(ws["wss_mean_Pa"], 3), "unit": "Pa",
                 "region": "vessel wall"},
                {"label": "maximal wall shear stress", "value": round(ws["wss_max_Pa"], 3), "unit": "Pa",
                 "region": "vessel wall"},
                {"label": "wall area with WSS < 0.4 Pa", "value": round(ws["area_wss_below_0.4_Pa_mm2"], 1),
                 "unit": "mm^2", "region": "vessel wall"},
                {"label": "wall area with WSS > 2.5 Pa", "value": round(ws["area_wss_above_2.5_Pa_mm2"], 1),
                 "unit": "mm^2", "region": "vessel wall"}]
    key.append({"label": "Reynolds number at the inlet", "value": round(fs.get("reynolds_number", float("nan")), 1),
                "unit": "1", "region": "inlet"})
    for les in lesions:
        st = les["stenosis"]
        qname = info["centrelines"][st["centreline"]]["outlet"]
        q = flows.get(qname)
        if q is not None:
            d = st["minimal_diameter_mm"] * 1e-3
            re_les = 4 * rho * q * 1e-6 / (math.pi * d * mu)
            key.append({"label": "Reynolds number at the lesion", "value": round(re_les, 1), "unit": "1",
                        "region": "stenosis (native minimal diameter)"})
    p = surf.point_data["pressure_mmHg"]
    w = surf.point_data["wss_Pa"]
    summary = {
        "physics": "flow", "anatomy": "vascular",
        "display_fields": [
            {"name": "pressure_mmHg", "label": "pressure", "unit": "mmHg",
             "range": [float(np.percentile(p, 1)), float(np.percentile(p, 99))]},
            {"name": "wss_Pa", "label": "wall shear stress", "unit": "Pa",
             "range": [0.0, float(np.percentile(w, 99))]}],
        "key_results": key,
        "centreline_table": table,
        "lesions": [{k: v for k, v in les.items()} for les in lesions],
        "wss": ws,
        "flow_split": {"target": bc["split"], "rule": bc["split_rule"],
                       "achieved": [q / sum(flows.values()) for q in flows.values()] if flows else []},
        "stenoses": info["stenoses"],
        "branch_points": info["branch_points"],
        "solver": solver_summary.get("solver", {}),
        "final_state": {k: v for k, v in fs.items() if k != "probes"},
    }
    return summary


def _model_min_diameter(info: dict, st: dict):
    cl = info["centrelines"][st["centreline"]]
    arc = np.asarray(cl["arc_mm"])
    r = np.array([np.nan if x is None else x for x in cl["radius_mm"]])
    m = (arc >= st["proximal_arc_mm"] - 2) & (arc <= st["distal_arc_mm"] + 2) & np.isfinite(r)
    return round(float(2 * r[m].min()), 2) if m.any() else None


def write_vtp(path: Path, surf) -> Path:
    """Write a PolyData as binary .vtp through the one write path."""
    import vtk

    from surgiplan.core.fileio import atomic_write

    def writer(tmp: Path) -> None:
        w = vtk.vtkXMLPolyDataWriter()
        w.SetFileName(str(tmp))
        w.SetInputData(surf)
        w.SetDataModeToBinary()
        if not w.Write():
            raise OSError("VTK could not write the surface")

    return atomic_write(Path(path), writer)


def json_safe(obj):
    return json.loads(json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
