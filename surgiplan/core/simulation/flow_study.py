"""Run a flow study: steady or pulsatile solve, flow quantities, files (collective)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dolfinx import fem

from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.simulation.fields import probe
from surgiplan.core.simulation.flow import (
    MMHG_PA,
    face_geometry,
    solve_pulsatile,
    solve_steady,
    wall_shear_stress,
    wss_summary,
)
from surgiplan.core.simulation.mesh_io import TaggedMesh
from surgiplan.core.simulation.results import write_fields_xdmf
from surgiplan.core.simulation.study_schema import Study


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
        out["probes"] = [{"point_m": list(pt), "velocity_m_per_s": v[:3].tolist()}
                         for pt, v in zip(spec.probe_points_m, probe(sol.u, np.array(spec.probe_points_m)),
                                          strict=True)]
    return out


def _max():
    from mpi4py import MPI

    return MPI.MAX


def run_flow_study(study: Study, tm: TaggedMesh, out_dir: Path | None,
                   progress: Progress | None = None) -> dict:
    spec = study.flow
    if spec.pulsatile is None:
        sol = solve_steady(tm, spec, study.solver, sub_progress(progress, 0.0, 0.85))
        summary = {"physics": "flow", "mode": "steady", "study": study.name, "solver": sol.info}
    else:
        s_period = spec.pulsatile.steps_per_cycle

        def sample(t, u, p, setup):
            return {"t_s": t, "inlet_flow_mL_per_s": -setup.flux(u, setup.inlet_tag) * 1e6}

        sol = solve_pulsatile(tm, spec, study.solver, sub_progress(progress, 0.0, 0.85), sample)
        last = sol.history["samples"][-s_period:]
        summary = {"physics": "flow", "mode": "pulsatile", "study": study.name, "solver": sol.info,
                   "last_cycle": last,
                   "last_cycle_mean_inlet_flow_mL_per_s": float(np.mean([r["inlet_flow_mL_per_s"] for r in last]))}
    report(progress, 0.88, "pressure drop, wall shear stress, flows")
    summary["final_state"] = flow_quantities(sol)
    if out_dir is not None and study.outputs.xdmf:
        report(progress, 0.93, "writing results.xdmf")
        mesh = tm.mesh
        V1 = fem.functionspace(mesh, ("Lagrange", 1, (3,)))
        u1 = fem.Function(V1, name="velocity_m_per_s")
        u1.interpolate(sol.u)
        wss, area = wall_shear_stress(sol.u, sol.setup)
        Q0 = fem.functionspace(mesh, ("DG", 0))
        wmag = fem.Function(Q0, name="wall_shear_stress_Pa")
        n_owned = mesh.topology.index_map(3).size_local
        wmag.x.array[:n_owned] = np.linalg.norm(wss, axis=1)
        wmag.x.scatter_forward()
        write_fields_xdmf(out_dir, mesh, [u1, sol.p, wmag])
        summary["files"] = {"fields": "results.xdmf",
                            "note": "wall_shear_stress_Pa is the facet-averaged WSS of wall-adjacent cells"}
    return summary
