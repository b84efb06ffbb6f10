"""GAMG option sweep on a real hip study mesh (femur + stem, CT-mapped bone): iterations and time.

Assembles the study's stiffness matrix once (surgiplan's materials and boundary conditions, the
six rigid-body modes as near-nullspace on the block-size-3 matrix), then solves the same system
with each named option set in turn (a fresh KSP each time; GAMG set-up and solve timed separately)
and checks every solution against the first (relative difference of the displacement vector).

    .venv/bin/python benchmarks/tune_gamg_hip.py STUDY.json [--sets NAME ...] [--rtol 1e-8]
    .venv/bin/mpiexec -n 2 .venv/bin/python benchmarks/tune_gamg_hip.py STUDY.json

STUDY.json: an elasticity study written by ``hip-walking`` (e.g. CASE/studies/A--hip-walking/study.json).
Prints one line per option set (rank 0) and a JSON list at the end.
"""

from __future__ import annotations

import argparse
import json
import time

from mpi4py import MPI

BASE = {"ksp_type": "cg", "pc_type": "gamg", "pc_gamg_agg_nsmooths": 0, "pc_gamg_coarse_eq_limit": 1000,
        "mg_levels_ksp_type": "chebyshev", "mg_levels_pc_type": "jacobi", "mg_levels_esteig_ksp_type": "cg"}

SETS: dict[str, dict] = {
    "base (round 1 default)": {},
    "threshold 0.01": {"pc_gamg_threshold": 0.01},
    "threshold 0.02": {"pc_gamg_threshold": 0.02},
    "threshold 0.05": {"pc_gamg_threshold": 0.05},
    "no aggressive coarsening": {"pc_gamg_aggressive_coarsening": 0},
    "no aggr + threshold 0.01": {"pc_gamg_aggressive_coarsening": 0, "pc_gamg_threshold": 0.01},
    "smoothed aggregation (nsmooths 1)": {"pc_gamg_agg_nsmooths": 1},
    "SA + threshold 0.01": {"pc_gamg_agg_nsmooths": 1, "pc_gamg_threshold": 0.01},
    "SA + no aggr": {"pc_gamg_agg_nsmooths": 1, "pc_gamg_aggressive_coarsening": 0},
    "cheby 3 sweeps": {"mg_levels_ksp_max_it": 3},
    "cheby 4 sweeps": {"mg_levels_ksp_max_it": 4},
    "cheby + SOR": {"mg_levels_pc_type": "sor"},
    "cheby + SOR 3 sweeps": {"mg_levels_pc_type": "sor", "mg_levels_ksp_max_it": 3},
    "cheby + PBJacobi": {"mg_levels_pc_type": "pbjacobi"},
    "cheby + PBJacobi 3 sweeps": {"mg_levels_pc_type": "pbjacobi", "mg_levels_ksp_max_it": 3},
    "SA + PBJacobi": {"pc_gamg_agg_nsmooths": 1, "mg_levels_pc_type": "pbjacobi"},
    "PBJacobi + coarse limit 5000": {"mg_levels_pc_type": "pbjacobi", "pc_gamg_coarse_eq_limit": 5000},
    "PBJacobi, 3 sweeps, coarse 5000": {"mg_levels_pc_type": "pbjacobi", "mg_levels_ksp_max_it": 3,
                                        "pc_gamg_coarse_eq_limit": 5000},
    "coarse limit 200": {"pc_gamg_coarse_eq_limit": 200},
    "coarse limit 5000": {"pc_gamg_coarse_eq_limit": 5000},
}


def main() -> None:
    import numpy as np
    import ufl
    from dolfinx import fem
    from dolfinx.fem import petsc as fp
    from petsc4py import PETSc

    from surgiplan.core.simulation.elasticity import facet_area, material_fields, rigid_body_modes
    from surgiplan.core.simulation.fields import lame, sigma
    from surgiplan.core.simulation.study_schema import load_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    ap = argparse.ArgumentParser()
    ap.add_argument("study")
    ap.add_argument("--sets", nargs="*", default=None)
    ap.add_argument("--rtol", type=float, default=1e-8)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    comm = MPI.COMM_WORLD
    study, mesh_path = load_study(args.study)
    spec = study.elasticity
    tm = read_tagged_mesh(mesh_path, comm, unit="mm")
    mesh = tm.mesh
    V = fem.functionspace(mesh, ("Lagrange", spec.degree, (3,)))
    E, nu = material_fields(tm, spec)
    mu, lmbda = lame(E, nu)
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=tm.facet_tags)
    L, bcs = 0, []
    for bc in spec.boundary_conditions:
        tag = tm.resolve(bc.boundary, 2, "boundary")
        if bc.type == "fixed":
            bcs.append(fem.dirichletbc(np.zeros(3), fem.locate_dofs_topological(V, 2, tm.facet_tags.find(tag)), V))
        else:
            L += ufl.inner(fem.Constant(mesh, np.array(bc.force_N) / facet_area(tm, tag)), v) * ds(tag)
    a = fem.form(ufl.inner(sigma(u, mu, lmbda), ufl.sym(ufl.grad(v))) * ufl.dx)
    Lf = fem.form(L)
    A = fp.assemble_matrix(a, bcs=bcs)
    A.assemble()
    b = fp.assemble_vector(Lf)
    fp.apply_lifting(b, [a], bcs=[bcs])
    b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    fp.set_bc(b, bcs)
    A.setNearNullSpace(rigid_body_modes(V))
    ndofs = V.dofmap.index_map.size_global * 3
    nns = A.getNearNullSpace()
    if comm.rank == 0:
        print(f"{ndofs} DOFs, P{spec.degree}, {comm.size} rank(s); matrix block size {A.getBlockSize()}, "
              f"near-nullspace vectors {len(nns.getVecs())}; E range "
              f"{comm.allreduce(E.x.array.min(), MPI.MIN):.0f}-{comm.allreduce(E.x.array.max(), MPI.MAX):.0f} MPa",
              flush=True)
    names = args.sets or list(SETS)
    rows, ref = [], None
    for name in names:
        opts = dict(BASE) | SETS[name] | {"ksp_rtol": args.rtol, "ksp_max_it": 2000}
        o = PETSc.Options()
        prefix = "tune_"
        for k, val in opts.items():
            o[prefix + k] = val
        ksp = PETSc.KSP().create(comm)
        ksp.setOptionsPrefix(prefix)
        ksp.setOperators(A)
        ksp.setFromOptions()
        x = A.createVecRight()
        comm.Barrier()
        t0, c0 = time.perf_counter(), time.process_time()
        ksp.setUp()
        t_setup, c_setup = time.perf_counter() - t0, time.process_time() - c0
        ksp.solve(b, x)
        t_solve, c_solve = time.perf_counter() - t0 - t_setup, time.process_time() - c0 - c_setup
        levels = ksp.getPC().getMGLevels()
        it, reason = ksp.getIterationNumber(), ksp.getConvergedReason()
        if ref is None:
            ref = x.copy()
            diff = 0.0
        else:
            d = x.copy()
            d.axpy(-1.0, ref)
            diff = d.norm() / ref.norm()
        for k in opts:
            o.delValue(prefix + k)
        ksp.destroy()
        row = {"set": name, "iterations": it, "converged": reason > 0, "setup_s": t_setup, "solve_s": t_solve,
               "total_s": t_setup + t_solve, "cpu_setup_s": c_setup, "cpu_solve_s": c_solve, "levels": levels,
               "rel_diff_vs_first": diff}
        rows.append(row)
        if comm.rank == 0:
            print(f"{name:36s} it {it:4d} {'ok ' if reason > 0 else 'DIV'} levels {levels} setup {t_setup:6.2f} s "
                  f"solve {t_solve:6.2f} s total {t_setup + t_solve:6.2f} s (cpu {c_setup:.1f}+{c_solve:.1f}) "
                  f"|x-x0|/|x0| {diff:.1e}", flush=True)
    if comm.rank == 0:
        print(json.dumps(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"dofs": ndofs, "ranks": comm.size, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
