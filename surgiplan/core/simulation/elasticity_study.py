"""Run an elasticity study: solve, derive fields, summarise, write files (collective)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from surgiplan.core.jobs import Progress, report, sub_progress
from surgiplan.core.simulation.elasticity import facet_area, solve_elasticity
from surgiplan.core.simulation.fields import cell_fields, region_summary
from surgiplan.core.simulation.results import write_fields_xdmf
from surgiplan.core.simulation.study_schema import Study
from surgiplan.core.simulation.volume_mesh_io import TaggedMesh


def run_elasticity_study(study: Study, tm: TaggedMesh, out_dir: Path | None,
                         progress: Progress | None = None) -> dict:
    """Solve ``study`` on ``tm``; write XDMF fields into ``out_dir``; return the summary."""
    sol = solve_elasticity(tm, study.elasticity, study.solver, sub_progress(progress, 0.0, 0.8))
    report(progress, 0.8, "computing stresses and summaries")
    mesh = tm.mesh
    mu, lmbda = sol.mu_lambda
    cf = cell_fields(sol.u, mu, lmbda)
    # nodal displacement magnitude (P1) -> per-cell max over its vertices
    V1 = fem.functionspace(mesh, ("Lagrange", 1, (3,)))
    u1 = fem.Function(V1, name="displacement_mm")
    u1.interpolate(sol.u)
    unorm = np.linalg.norm(u1.x.array.reshape(-1, 3), axis=1)
    c2v = mesh.topology.connectivity(3, 0) if mesh.topology.connectivity(3, 0) else None
    if c2v is None:
        mesh.topology.create_connectivity(3, 0)
        c2v = mesh.topology.connectivity(3, 0)
    # geometry nodes == P1 dofs only through the dofmap: use V1's cell dofs
    cell_dofs = V1.dofmap.list
    u_cell_max = unorm[cell_dofs].max(axis=1)
    n_local = mesh.topology.index_map(3).size_local + mesh.topology.index_map(3).num_ghosts
    regions = {"all": region_summary(mesh, np.arange(n_local, dtype=np.int32), cf, u_cell_max)}
    for name, (dim, value) in sorted(tm.names.items()):
        if dim == 3 and tm.cell_tags is not None:
            regions[name] = region_summary(mesh, tm.cell_tags.find(value), cf, u_cell_max)
    boundaries = {}
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tm.facet_tags)
    for name, (dim, value) in sorted(tm.names.items()):
        if dim == 2 and tm.facet_tags is not None:
            area = facet_area(tm, value)
            if area <= 0:
                continue
            mean = [mesh.comm.allreduce(fem.assemble_scalar(fem.form(sol.u[i] * ds(value))), MPI.SUM)
                    / area for i in range(3)]
            boundaries[name] = {"area_mm2": area, "mean_displacement_mm": mean}
    summary = {
        "physics": "elasticity",
        "study": study.name,
        "solver": sol.info,
        "fields_evaluated_at": "cell centroids (DG0) for stress, strain, von Mises, principal values, SED",
        "regions": regions,
        "boundaries": boundaries,
    }
    wanted = study.output_fields()
    if out_dir is not None and wanted:
        report(progress, 0.9, "writing results.xdmf")
        Q = fem.functionspace(mesh, ("DG", 0))
        out = [u1]
        for key, data in (("von_mises_MPa", cf.von_mises),
                          ("strain_energy_density_mJ_per_mm3", cf.strain_energy_density),
                          ("max_principal_stress_MPa", cf.principal_stress[:, 2]),
                          ("min_principal_stress_MPa", cf.principal_stress[:, 0])):
            if key in wanted:
                f = fem.Function(Q, name=key)
                f.x.array[:] = data
                out.append(f)
        sol.E.name = "youngs_modulus_MPa"
        out.append(sol.E)
        out = [f for f in out if f.name in wanted]  # outputs.fields
        write_fields_xdmf(out_dir, mesh, out)
        summary["files"] = {"fields": "results.xdmf", "written": [f.name for f in out]}
    return summary
