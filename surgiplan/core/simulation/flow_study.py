"""Run a flow study: steady or pulsatile solve, flow quantities, files (collective)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dolfinx import fem

from surgiplan.core.errors import InputError
from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.simulation.fields import points_outside, probe
from surgiplan.core.simulation.flow import (
    MMHG_PA,
    face_geometry,
    solve_pulsatile,
    solve_steady,
    wall_shear_stress,
    wss_summary,
)
from surgiplan.core.simulation.results import write_fields_xdmf
from surgiplan.core.simulation.study_schema import Study
from surgiplan.core.simulation.volume_mesh_io import TaggedMesh


def flow_quantities(sol) -> dict:
    """Pressure drop (Pa, mmHg), flow per outlet (mL/s), WSS statistics, Reynolds number."""
    s = sol.setup
    spec = sol.spec
    tm = sol.tagged
    comm = tm.mesh.comm
    fdim = 2
    q_in = -s.flux(sol.u, s.inlet_tag)
    out = {"inlet_flow_mL_per_s": q_in * 1e6,
           "reynolds_number": s.reynolds(q_in),
           "inlet_area_mm2": s.inlet.area * 1e6,
           "inlet_equivalent_radius_mm": s.inlet.radius * 1e3}
    out["outlet_flow_mL_per_s"] = {
        str(o.boundary): s.flux(sol.u, tag) * 1e6 for o, tag in zip(spec.outlets, s.outlet_tags, strict=True)}
    a_tag, b_tag = spec.pressure_drop_between or (spec.inlet.boundary, spec.outlets[0].boundary)
    ta, tb = tm.resolve(a_tag, fdim, "pressure-drop face"), tm.resolve(b_tag, fdim, "pressure-drop face")
    pa = s.mean(sol.p, ta, face_geometry(tm, ta).area)
    pb = s.mean(sol.p, tb, face_geometry(tm, tb).area)
    out["pressure_drop_Pa"] = pa - pb
    out["pressure_drop_mmHg"] = (pa - pb) / MMHG_PA
    out["pressure_drop_between"] = [str(a_tag), str(b_tag)]
    wss, area = wall_shear_stress(sol.u, s)
    out.update(wss_summary(wss, area, comm))
    out["max_velocity_m_per_s"] = comm.allreduce(
        float(np.max(np.linalg.norm(sol.u.x.array.reshape(-1, 3), axis=1), initial=0.0)), op=_max())
    if spec.probe_points_m:
        pts = np.array(spec.probe_points_m)
        out["probes"] = [{"point_m": list(pt), "velocity_m_per_s": v[:3].tolist(), "pressure_Pa": float(p[0])}
                         for pt, v, p in zip(spec.probe_points_m, probe(sol.u, pts), probe(sol.p, pts),
                                             strict=True)]
    return out


def check_probe_points(spec, tm: TaggedMesh) -> None:
    """InputError naming the first probe point that lies outside the mesh (m; collective)."""
    groups = [("flow.probe_points_m", spec.probe_points_m)]
    if spec.pulsatile is not None:
        groups.append(("flow.pulsatile.probe_points_m", spec.pulsatile.probe_points_m))
    for key, pts in groups:
        outside = points_outside(tm.mesh, np.array(pts)) if pts else []
        if outside:
            i = outside[0]
            raise InputError(f"{key}.{i} = {list(pts[i])} m lies outside the mesh"
                             + (f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""),
                             path=tm.source or None,
                             hint="Probe points are in metres, in the mesh's coordinates.")


def _max():
    from mpi4py import MPI

    return MPI.MAX


def run_flow_study(study: Study, tm: TaggedMesh, out_dir: Path | None,
                   progress: Progress | None = None) -> dict:
    spec = study.flow
    check_probe_points(spec, tm)
    if spec.pulsatile is None:
        sol = solve_steady(tm, spec, study.solver, sub_progress(progress, 0.0, 0.85))
        summary = {"physics": "flow", "mode": "steady", "study": study.name, "solver": sol.info}
    else:
        puls = spec.pulsatile
        s_period = puls.steps_per_cycle
        pts = np.array(puls.probe_points_m) if puls.probe_points_m else None
        last_cycle_from = (puls.cycles - 1) * puls.period_s + 0.5 * puls.period_s / s_period
        cycle = []  # TAWSS / OSI over the last cycle (vessel/wall_shear_cycle.py)

        def sample(t, u, p, setup):
            rec = {"t_s": t, "inlet_flow_mL_per_s": -setup.flux(u, setup.inlet_tag) * 1e6}
            if t >= last_cycle_from:
                if not cycle:
                    from surgiplan.core.simulation.vessel.wall_shear_cycle import WallShearCycle

                    cycle.append(WallShearCycle(setup, u))
                cycle[0].add(puls.period_s / s_period)
            if pts is not None and t >= last_cycle_from:  # probes over the last cycle only
                rec["probes"] = [{"velocity_m_per_s": v[:3].tolist(), "pressure_Pa": float(q[0])}
                                 for v, q in zip(probe(u, pts), probe(p, pts), strict=True)]
            return rec

        sol = solve_pulsatile(tm, spec, study.solver, sub_progress(progress, 0.0, 0.85), sample)
        last = sol.history["samples"][-s_period:]
        summary = {"physics": "flow", "mode": "pulsatile", "study": study.name, "solver": sol.info,
                   "last_cycle": last,
                   "last_cycle_mean_inlet_flow_mL_per_s": float(np.mean([r["inlet_flow_mL_per_s"] for r in last]))}
        if pts is not None:
            summary["last_cycle_probe_points_m"] = [list(pt) for pt in puls.probe_points_m]
        if cycle:
            summary["wall_shear_cycle"] = cycle[0].summary()
    report(progress, 0.88, "pressure drop, wall shear stress, flows")
    summary["final_state"] = flow_quantities(sol)
    wanted = study.output_fields()
    if out_dir is not None and wanted:
        report(progress, 0.93, "writing results.xdmf")
        mesh = tm.mesh
        out = []
        if "velocity_m_per_s" in wanted:
            V1 = fem.functionspace(mesh, ("Lagrange", 1, (3,)))
            u1 = fem.Function(V1, name="velocity_m_per_s")
            u1.interpolate(sol.u)
            out.append(u1)
        if "pressure_Pa" in wanted:
            out.append(sol.p)
        if "wall_shear_stress_Pa" in wanted:
            wss, area = wall_shear_stress(sol.u, sol.setup)
            Q0 = fem.functionspace(mesh, ("DG", 0))
            wmag = fem.Function(Q0, name="wall_shear_stress_Pa")
            n_owned = mesh.topology.index_map(3).size_local
            wmag.x.array[:n_owned] = np.linalg.norm(wss, axis=1)
            wmag.x.scatter_forward()
            out.append(wmag)
            if spec.pulsatile is not None and cycle:
                out += cycle[0].functions()  # tawss_Pa, osi (DG0, wall-adjacent cells)
        write_fields_xdmf(out_dir, mesh, out)
        summary["files"] = {"fields": "results.xdmf", "written": [f.name for f in out],
                            "note": "wall_shear_stress_Pa is the facet-averaged WSS of wall-adjacent cells"}
    return summary
