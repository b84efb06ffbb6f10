"""Hand-written reference: steady incompressible Navier-Stokes, Taylor-Hood P2-P1, Newton + MUMPS LU.

Written from the dolfinx demos (``demo_navier-stokes.py`` for the P2-P1 mixed space and
``demo_cahn-hilliard.py`` / the NonlinearProblem tutorials for Newton through PETSc SNES), with nothing of
surgiplan in it: the textbook residual

    F = rho (grad u) u . v + mu grad u : grad v - p div v - q div u   (dx)

plus nothing on the outlets (zero traction, "do nothing"), no slip on the walls and a developed
(parabolic) inflow of flow rate Q on the inlet (centroid, mean normal, radius sqrt(A / pi), scaled so the
discrete flux is exactly Q). Newton: PETSc SNES ``newtonls`` with the basic (full) step, each linear
solve a fresh MUMPS LU (``preonly``), stopped at a relative residual ``--rtol``. The flow is ramped in
the given fractions of Q (continuation), each solve starting from the last.

    mpiexec -n 2 .venv/bin/python benchmarks/ref_ns_dolfinx.py MESH.msh --inlet 2 --walls 1 \
        --flow-mL-s 20 --factors 0.25,0.5,0.75,1 [--rtol 1e-6] [--out result.json]

The mesh is read in mm (gmsh physical tags) and scaled to metres. Prints and writes a JSON line with
the DOF count, the Newton iterations per step, the wall time of the set-up and of the solves, the outlet
flows, the CPU time of the solves and the peak RSS (ru_maxrss) per rank, also above the post-import baseline.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from mpi4py import MPI  # before dolfinx

# isort: split
import basix.ufl
import numpy as np
import ufl
from dolfinx import default_scalar_type, fem
from dolfinx.fem.petsc import NonlinearProblem
from dolfinx.io import gmsh as gmshio


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mesh")
    ap.add_argument("--inlet", required=True, help="inlet tag (number or gmsh physical name)")
    ap.add_argument("--walls", required=True, help="comma-separated wall tags (numbers or names)")
    ap.add_argument("--flow-mL-s", type=float, required=True)
    ap.add_argument("--factors", default="1")
    ap.add_argument("--rho", type=float, default=1060.0)
    ap.add_argument("--mu", type=float, default=0.0035)
    ap.add_argument("--rtol", type=float, default=1e-6)
    ap.add_argument("--max-it", type=int, default=25)
    ap.add_argument("--out")
    a = ap.parse_args()
    comm = MPI.COMM_WORLD
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MB after the imports
    t0 = time.perf_counter()
    data = gmshio.read_from_msh(a.mesh, comm, 0, gdim=3)
    mesh, ft = data.mesh, data.facet_tags
    mesh.geometry.x[:] *= 1e-3  # mm -> m
    groups = data.physical_groups

    def tag(name: str) -> int:
        return int(name) if name.isdigit() else int(groups[name][1])

    a.inlet = tag(a.inlet)
    t_read = time.perf_counter() - t0

    t1 = time.perf_counter()
    P2 = basix.ufl.element("Lagrange", mesh.basix_cell(), 2, shape=(3,))
    P1 = basix.ufl.element("Lagrange", mesh.basix_cell(), 1)
    W = fem.functionspace(mesh, basix.ufl.mixed_element([P2, P1]))
    V, _ = W.sub(0).collapse()
    fdim = 2
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=ft)
    n = ufl.FacetNormal(mesh)
    x = ufl.SpatialCoordinate(mesh)

    def integral(expr, tag):
        return comm.allreduce(fem.assemble_scalar(fem.form(expr * ds(tag))), MPI.SUM)

    one = fem.Constant(mesh, default_scalar_type(1.0))
    area = integral(one, a.inlet)
    c = np.array([integral(x[i], a.inlet) for i in range(3)]) / area
    nv = np.array([integral(n[i], a.inlet) for i in range(3)])
    nv /= np.linalg.norm(nv)
    R = np.sqrt(area / np.pi)

    u_in = fem.Function(V)
    u_in.interpolate(lambda X: np.outer(-nv, np.clip(1.0 - (np.sum((X.T - c) ** 2, axis=1)
                                                             - ((X.T - c) @ nv) ** 2) / R**2, 0.0, None)))
    walls = [tag(t) for t in a.walls.split(",")]
    wall_dofs = np.unique(np.concatenate([fem.locate_dofs_topological(V, fdim, ft.find(t)) for t in walls]))
    u_in.x.array.reshape(-1, 3)[wall_dofs] = 0.0
    flux = -comm.allreduce(fem.assemble_scalar(fem.form(ufl.dot(u_in, n) * ds(a.inlet))), MPI.SUM)
    unit = u_in.x.array / flux  # profile of 1 m^3/s
    bcs = [fem.dirichletbc(u_in, fem.locate_dofs_topological((W.sub(0), V), fdim, ft.find(a.inlet)), W.sub(0))]
    u0 = fem.Function(V)
    for t in walls:
        bcs.append(fem.dirichletbc(u0, fem.locate_dofs_topological((W.sub(0), V), fdim, ft.find(t)), W.sub(0)))

    w = fem.Function(W)
    u, p = ufl.split(w)
    v, q = ufl.TestFunctions(W)
    rho = fem.Constant(mesh, default_scalar_type(a.rho))
    mu = fem.Constant(mesh, default_scalar_type(a.mu))
    F = (rho * ufl.dot(ufl.dot(ufl.grad(u), u), v) + mu * ufl.inner(ufl.grad(u), ufl.grad(v))
         - p * ufl.div(v) - q * ufl.div(u)) * ufl.dx
    opts = {"snes_type": "newtonls", "snes_linesearch_type": "basic", "snes_rtol": a.rtol, "snes_atol": 1e-12,
            "snes_max_it": a.max_it, "ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps", "mat_mumps_icntl_14": 100}
    problem = NonlinearProblem(F, w, bcs=bcs, petsc_options_prefix="ref_ns_", petsc_options=opts)
    t_setup = time.perf_counter() - t1

    steps = []
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t2 = time.perf_counter()
    for f in [float(s) for s in a.factors.split(",")]:
        u_in.x.array[:] = unit * a.flow_mL_s * 1e-6 * f
        ts = time.perf_counter()
        problem.solve()
        reason = problem.solver.getConvergedReason()
        steps.append({"factor": f, "newton_iterations": problem.solver.getIterationNumber(), "reason": int(reason),
                      "time_s": round(time.perf_counter() - ts, 2)})
        if reason < 0:
            break
    t_solve = time.perf_counter() - t2
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = comm.gather(round(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, 1), root=0)
    uh = w.sub(0).collapse()
    outlets = sorted(set(np.concatenate(comm.allgather(np.unique(ft.values))).tolist()) - set(walls) - {a.inlet})
    flows = {str(t): comm.allreduce(fem.assemble_scalar(fem.form(ufl.dot(uh, n) * ds(t))), MPI.SUM) * 1e6
             for t in outlets}
    dofs = sum(sp.dofmap.index_map.size_global * sp.dofmap.index_map_bs
               for sp in (W.sub(0).collapse()[0], W.sub(1).collapse()[0]))
    peak = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, root=0)
    above = comm.gather(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base, root=0)
    if comm.rank == 0:
        res = {"side": "ref", "dofs": dofs, "ranks": comm.size, "read_s": t_read, "setup_s": t_setup,
               "solve_s": t_solve, "steps": steps, "converged": all(s["reason"] > 0 for s in steps),
               "newton_iterations_total": sum(s["newton_iterations"] for s in steps),
               "outlet_flow_mL_s": flows, "peak_rss_per_rank_MB": peak, "peak_above_baseline_per_rank_MB": above,
               "cpu_solve_s_per_rank": cpu}
        line = json.dumps(res)
        print(line, flush=True)
        if a.out:
            with open(a.out, "w") as fh:
                fh.write(line)


if __name__ == "__main__":
    main()
