"""Hip biomechanics benchmark: stages of ``hip-walking`` on the demo hip beside a hand-written dolfinx script.

Meshing (surfaces, booleans, tetrahedra) is timed in this process; then each side runs in a fresh
process on the SAME mesh (``mpiexec -n R`` when R > 1): ours = the study's own path (surgiplan's mesh
reader, CT mapping, ``solve_elasticity`` with CG + GAMG); the reference = a minimal dolfinx script
(dolfinx's gmsh reader, the same per-cell moduli from the same CT mapping function, the same forces
spread over the same patches, the same fixed face, the same PETSc options). Medians of ``--repeat``
interleaved runs of: mapping, assembly, solver set-up, solve, total; GAMG iterations; peak RSS above
the post-import baseline (max over ranks).

    .venv/bin/python benchmarks/bench_biomech_hip.py CASE [--plan A] [--element-size 4] [--degree 2]
        [--bone-edge MM] [--implant-size MM] [--ranks 1 2] [--repeat 3] [--keep DIR]

CASE: a case folder with the plan (e.g. from ``surgiplan demo --case hip``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx is imported)

RTOL = 1e-8


def worker(kind: str, study_path: str, out: str) -> None:
    import numpy as np
    import psutil
    import ufl
    from dolfinx import fem

    from surgiplan.core.simulation.elasticity import ct_cell_modulus, rigid_body_modes
    from surgiplan.core.simulation.study_schema import SolverSpec, load_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    comm = MPI.COMM_WORLD
    proc = psutil.Process()
    base = proc.memory_info().rss
    study, mesh_path = load_study(study_path)
    spec = study.elasticity
    t0 = time.perf_counter()
    tm = read_tagged_mesh(mesh_path, comm, unit="mm")
    t_read = time.perf_counter() - t0
    c0 = time.process_time()  # CPU time (this rank): less sensitive than wall time to a loaded machine
    if kind == "surgiplan":
        from surgiplan.core.simulation.elasticity import solve_elasticity

        t1, c1 = time.perf_counter(), time.process_time()
        bone = tm.cell_tags.find(tm.resolve("bone", 3, "region"))
        ct_cell_modulus(tm, bone, spec.ct_material)  # the mapping alone (solve_elasticity maps again)
        t_map, c_map = time.perf_counter() - t1, time.process_time() - c1
        sol = solve_elasticity(tm, spec, SolverSpec(method="iterative", rtol=RTOL, petsc_options={"ksp_rtol": RTOL}))
        info = sol.info
        # assembly_s includes solve_elasticity's own CT mapping; mapping_s is the same call timed alone
        res = {"mapping_s": t_map, "assembly_s": info["time_assembly_s"], "setup_s": info["time_setup_s"],
               "solve_s": info["time_solve_s"] - info["time_setup_s"], "iterations": info["iterations"],
               "dofs": info["dofs"], "umax": float(comm.allreduce(abs(sol.u.x.array).max(), MPI.MAX))}
    else:
        from dolfinx.fem import petsc as fp
        from petsc4py import PETSc

        msh, ct_tags, ft = tm.mesh, tm.cell_tags, tm.facet_tags
        t1 = time.perf_counter()
        Q = fem.functionspace(msh, ("DG", 0))
        E, nu = fem.Function(Q), fem.Function(Q)
        for m in spec.materials:
            cells = ct_tags.find(tm.resolve(m.region, 3, "region"))
            E.x.array[cells], nu.x.array[cells] = m.youngs_modulus_MPa, m.poissons_ratio
        bone = ct_tags.find(tm.resolve("bone", 3, "region"))
        E.x.array[bone] = ct_cell_modulus(tm, bone, spec.ct_material)
        nu.x.array[bone] = spec.ct_material.poissons_ratio
        t_map = time.perf_counter() - t1
        t1 = time.perf_counter()
        V = fem.functionspace(msh, ("Lagrange", spec.degree, (3,)))
        mu, lmbda = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

        def eps(w):
            return ufl.sym(ufl.grad(w))

        ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)
        L = 0
        bcs = []
        for bc in spec.boundary_conditions:
            tag = tm.resolve(bc.boundary, 2, "boundary")
            if bc.type == "fixed":
                bcs.append(fem.dirichletbc(np.zeros(3), fem.locate_dofs_topological(V, 2, ft.find(tag)), V))
            else:
                area = comm.allreduce(fem.assemble_scalar(fem.form(1.0 * ds(tag))), MPI.SUM)
                L += ufl.inner(fem.Constant(msh, np.array(bc.force_N) / area), v) * ds(tag)
        a = fem.form(ufl.inner(2 * mu * eps(u) + lmbda * ufl.tr(eps(u)) * ufl.Identity(3), eps(v)) * ufl.dx)
        Lf = fem.form(L)
        A = fp.assemble_matrix(a, bcs=bcs)
        A.assemble()
        b = fp.assemble_vector(Lf)
        fp.apply_lifting(b, [a], bcs=[bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fp.set_bc(b, bcs)
        A.setNearNullSpace(rigid_body_modes(V))
        t_asm = time.perf_counter() - t1
        ksp = PETSc.KSP().create(comm)
        ksp.setOperators(A)
        from surgiplan.core.simulation.elasticity import GAMG_DEFAULTS

        opts = PETSc.Options()
        for k, val in (GAMG_DEFAULTS | {"ksp_rtol": RTOL}).items():  # the same options as ours
            opts[k] = val
        ksp.setFromOptions()
        uh = fem.Function(V)
        t2 = time.perf_counter()
        ksp.setUp()
        t_setup = time.perf_counter() - t2
        ksp.solve(b, uh.x.petsc_vec)
        t_solve = time.perf_counter() - t2 - t_setup
        uh.x.scatter_forward()
        res = {"mapping_s": t_map, "assembly_s": t_asm, "setup_s": t_setup, "solve_s": t_solve,
               "iterations": ksp.getIterationNumber(), "dofs": V.dofmap.index_map.size_global * 3,
               "umax": float(comm.allreduce(abs(uh.x.array).max(), MPI.MAX))}
    # ours maps the CT twice (once alone, to time it, and again inside solve_elasticity): count it once
    res["total_s"] = time.perf_counter() - t0 - t_read - (t_map if kind == "surgiplan" else 0.0)
    cpu = time.process_time() - c0 - (c_map if kind == "surgiplan" else 0.0)
    res["cpu_total_s"] = comm.allreduce(cpu, MPI.MAX)  # the busiest rank
    import resource

    peak = max(proc.memory_info().rss, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    res["peak_rss_above_baseline_MB"] = comm.allreduce((peak - base) / 2**20, MPI.MAX)
    if comm.rank == 0:
        Path(out).write_text(json.dumps(res))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?")
    ap.add_argument("--plan", default="A")
    ap.add_argument("--element-size", type=float, default=4.0)
    ap.add_argument("--degree", type=int, default=2)
    ap.add_argument("--bone-edge", type=float, default=None, help="bone surface edge (mm); the study's default")
    ap.add_argument("--implant-size", type=float, default=None, help="element size at the stem (mm)")
    ap.add_argument("--ranks", type=int, nargs="+", default=[1])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None,
                    help="prepare the meshes in this folder and keep them; reuse them when it holds a study")
    ap.add_argument("--worker", nargs=3)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    from surgiplan.core.case import Case
    from surgiplan.core.simulation.biomech import case_study as cs

    case = Case.open(args.case)
    opts = {"degree": args.degree, "element_size_mm": args.element_size}
    if args.bone_edge is not None:
        opts["bone_surface_edge_mm"] = args.bone_edge
    if args.implant_size is not None:
        opts["implant_element_size_mm"] = args.implant_size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) if args.keep is None else args.keep
        if args.keep is not None and (out / "study.json").is_file():
            print(f"meshes reused from {out} (meshing not timed in this run)", flush=True)
        else:
            t0 = time.perf_counter()
            cs.prepare(case, args.plan, "hip-walking", out, None, dict(opts))  # implanted and intact meshes
            t_prep = time.perf_counter() - t0
            print(f"meshing (implanted + intact, incl. surfaces and booleans): {t_prep:.1f} s", flush=True)
        setup = json.loads((out / "setup.json").read_text())
        q = setup["meshes"]["implanted"]["quality"]
        print(f"implanted {q['elements']} tetrahedra, volume meshing {q['seconds']:.1f} s ({q['algorithm']})",
              flush=True)
        mpiexec = str(Path(sys.executable).parent / "mpiexec")
        for ranks in args.ranks:
            runs = {"dolfinx": [], "surgiplan": []}
            for _ in range(args.repeat):
                for kind in runs:
                    res = out / f"{kind}.json"
                    cmd = [sys.executable, __file__, "--worker", kind, str(out / "study.json"), str(res)]
                    if ranks > 1:
                        cmd = [mpiexec, "-n", str(ranks)] + cmd
                    load0 = os.getloadavg()[0]
                    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                    runs[kind].append(json.loads(res.read_text()) | {"load": load0})
            med = {k: {q: statistics.median(r[q] for r in rr) for q in rr[0]} for k, rr in runs.items()}
            r, o = med["dolfinx"], med["surgiplan"]
            print(json.dumps({"ranks": ranks, "dolfinx": r, "surgiplan": o}), flush=True)
            print(f"{o['dofs']:.0f} DOFs, {ranks} rank(s), median of {args.repeat}: "
                  f"ref map {r['mapping_s']:.2f} asm {r['assembly_s']:.2f} setup {r['setup_s']:.2f} solve "
                  f"{r['solve_s']:.2f} total {r['total_s']:.2f} s it {r['iterations']:.0f} "
                  f"{r['peak_rss_above_baseline_MB']:.0f} MB | ours map {o['mapping_s']:.2f} asm "
                  f"{o['assembly_s']:.2f} setup {o['setup_s']:.2f} solve {o['solve_s']:.2f} total "
                  f"{o['total_s']:.2f} s it {o['iterations']:.0f} {o['peak_rss_above_baseline_MB']:.0f} MB | "
                  f"ratio {o['total_s'] / r['total_s']:.2f}x (CPU of the busiest rank: ref {r['cpu_total_s']:.1f} s, "
                  f"ours {o['cpu_total_s']:.1f} s, {o['cpu_total_s'] / r['cpu_total_s']:.2f}x); "
                  f"load {min(x['load'] for x in runs['surgiplan']):.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
