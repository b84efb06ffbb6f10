"""Elasticity benchmark: surgiplan's solver vs a minimal hand-written dolfinx script.

Same mesh (a femur-like hollow cylinder, P1 tetrahedra), same solver (CG + GAMG,
rigid-body near-nullspace, pc_gamg_agg_nsmooths 0, rtol 1e-8), same run. Each
measurement is a fresh process (``mpiexec -n R python bench_elasticity.py --worker ...``);
we report the median of N runs of: assembly, solver set-up, solve, total, and the
peak RSS per rank above the process baseline after imports.

    .venv/bin/python benchmarks/bench_elasticity.py [--sizes 0.5 1.5] [--ranks 1 2] [--repeat 3] [--mesh-dir D]

Sizes are in millions of displacement DOFs (approximate).
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

HERE = Path(__file__).resolve().parent
PETSC = {"ksp_type": "cg", "ksp_rtol": 1e-8, "pc_type": "gamg", "pc_gamg_agg_nsmooths": 0,
         "pc_gamg_coarse_eq_limit": 1000, "mg_levels_ksp_type": "chebyshev",
         "mg_levels_pc_type": "jacobi", "mg_levels_esteig_ksp_type": "cg"}


def make_mesh(path: Path, mdofs: float) -> None:
    """Hollow cylinder (outer R 15 mm, inner 8 mm, length 400 mm) with ~mdofs M P1 DOFs."""
    import gmsh

    gmsh.initialize()
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("femur_shaft")
    o = gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, 400, 15)
    i = gmsh.model.occ.addCylinder(0, 0, 0, 0, 0, 400, 8)
    gmsh.model.occ.cut([(3, o)], [(3, i)])
    gmsh.model.occ.synchronize()
    vol = 3.14159 * (15**2 - 8**2) * 400
    nodes = mdofs * 1e6 / 3
    h = (vol / (nodes * 5.5)) ** (1 / 3) * 1.6  # empirical: gives ~mdofs M DOFs with gmsh HXT
    gmsh.option.setNumber("Mesh.CharacteristicLengthMin", h)
    gmsh.option.setNumber("Mesh.CharacteristicLengthMax", h)
    gmsh.option.setNumber("Mesh.Algorithm3D", 10)  # HXT
    gmsh.option.setNumber("General.NumThreads", 2)
    gmsh.model.addPhysicalGroup(3, [t for _, t in gmsh.model.getEntities(3)], name="bone")
    faces = gmsh.model.getEntities(2)
    for name, z in (("distal", 0.0), ("proximal", 400.0)):
        tags = [t for d, t in faces if abs(gmsh.model.occ.getCenterOfMass(d, t)[2] - z) < 1e-6]
        gmsh.model.addPhysicalGroup(2, tags, name=name)
    gmsh.model.mesh.generate(3)
    gmsh.write(str(path))
    gmsh.finalize()


def worker(kind: str, mesh: str, out: str) -> None:
    import dolfinx  # noqa: F401  (imports count as baseline)
    import psutil
    import ufl  # noqa: F401

    comm = MPI.COMM_WORLD
    proc = psutil.Process()
    base = proc.memory_info().rss
    peak = [base]

    def sample():
        peak[0] = max(peak[0], proc.memory_info().rss)

    t0, c0 = time.perf_counter(), time.process_time()
    if kind == "surgiplan":
        from surgiplan.core.simulation.elasticity import solve_elasticity
        from surgiplan.core.simulation.study_schema import ElasticitySpec, SolverSpec
        from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

        tm = read_tagged_mesh(mesh, comm)
        sample()
        spec = ElasticitySpec.model_validate({
            "degree": 1, "materials": [{"youngs_modulus_MPa": 17000, "poissons_ratio": 0.3}],
            "boundary_conditions": [{"type": "fixed", "boundary": "distal"},
                                    {"type": "force", "boundary": "proximal", "force_N": [300, 0, -2000]}]})
        t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
        sol = solve_elasticity(tm, spec, SolverSpec(method="iterative", rtol=1e-8,
                                                    petsc_options={"ksp_rtol": 1e-8}))
        sample()
        info = sol.info
        res = {"assembly_s": info["time_assembly_s"], "setup_s": info["time_setup_s"],
               "solve_s": info["time_solve_s"] - info["time_setup_s"], "iterations": info["iterations"],
               "dofs": info["dofs"], "umax": float(comm.allreduce(abs(sol.u.x.array).max(), MPI.MAX)),
               "cpu": {"assembly_s": info["cpu_time_assembly_s"], "setup_s": info["cpu_time_setup_s"],
                       "solve_s": info["cpu_time_solve_s"] - info["cpu_time_setup_s"]}}
    else:
        import numpy as np
        from dolfinx import fem, la
        from dolfinx.fem import petsc as fp
        from dolfinx.io import gmsh as dgmsh
        from petsc4py import PETSc

        data = dgmsh.read_from_msh(mesh, comm, 0, gdim=3)
        msh, ft = data.mesh, data.facet_tags
        sample()
        t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
        t1, c1 = time.perf_counter(), time.process_time()
        V = fem.functionspace(msh, ("Lagrange", 1, (3,)))
        E, nu = 17000.0, 0.3
        mu, lmbda = E / (2 * (1 + nu)), E * nu / ((1 + nu) * (1 - 2 * nu))
        u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

        def eps(w):
            return ufl.sym(ufl.grad(w))

        def sig(w):
            return 2 * mu * eps(w) + lmbda * ufl.tr(eps(w)) * ufl.Identity(3)

        ds = ufl.Measure("ds", domain=msh, subdomain_data=ft)
        dist, prox = data.physical_groups["distal"].tag, data.physical_groups["proximal"].tag
        area = comm.allreduce(fem.assemble_scalar(fem.form(1.0 * ds(prox))), MPI.SUM)
        t = fem.Constant(msh, np.array([300.0, 0.0, -2000.0]) / area)
        a = fem.form(ufl.inner(sig(u), eps(v)) * ufl.dx)
        L = fem.form(ufl.inner(t, v) * ds(prox))
        msh.topology.create_connectivity(2, 3)
        bc = fem.dirichletbc(np.zeros(3), fem.locate_dofs_topological(V, 2, ft.find(dist)), V)
        A = fp.assemble_matrix(a, bcs=[bc])
        A.assemble()
        b = fp.assemble_vector(L)
        fp.apply_lifting(b, [a], bcs=[[bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fp.set_bc(b, [bc])
        # rigid-body modes (as in the dolfinx elasticity demo)
        imap, bs = V.dofmap.index_map, V.dofmap.index_map_bs
        ns = [la.vector(imap, bs=bs) for _ in range(6)]
        x = V.tabulate_dof_coordinates()
        nodes = np.arange(imap.size_local + imap.num_ghosts)
        basis = [n.array for n in ns]
        for i in range(3):
            basis[i][bs * nodes + i] = 1.0
        x0, x1, x2 = x[nodes, 0], x[nodes, 1], x[nodes, 2]
        basis[3][bs * nodes + 0], basis[3][bs * nodes + 1] = -x1, x0
        basis[4][bs * nodes + 0], basis[4][bs * nodes + 2] = x2, -x0
        basis[5][bs * nodes + 2], basis[5][bs * nodes + 1] = x1, -x2
        la.orthonormalize(ns)
        A.setNearNullSpace(PETSc.NullSpace().create(vectors=[n.petsc_vec for n in ns]))
        t_asm, c_asm = time.perf_counter() - t1, time.process_time() - c1
        sample()
        ksp = PETSc.KSP().create(comm)
        ksp.setOperators(A)
        opts = PETSc.Options()
        for k, val in PETSC.items():
            opts[k] = val
        ksp.setFromOptions()
        uh = fem.Function(V)
        t2, c2 = time.perf_counter(), time.process_time()
        ksp.setUp()
        t_setup, c_setup = time.perf_counter() - t2, time.process_time() - c2
        ksp.solve(b, uh.x.petsc_vec)
        t_solve, c_solve = time.perf_counter() - t2 - t_setup, time.process_time() - c2 - c_setup
        uh.x.scatter_forward()
        sample()
        res = {"assembly_s": t_asm, "setup_s": t_setup, "solve_s": t_solve,
               "iterations": ksp.getIterationNumber(), "dofs": imap.size_global * bs,
               "umax": float(comm.allreduce(abs(uh.x.array).max(), MPI.MAX)),
               "cpu": {"assembly_s": c_asm, "setup_s": c_setup, "solve_s": c_solve}}
    res["total_s"] = time.perf_counter() - t0 - t_read
    # CPU time (user + sys, this process: all its threads) per phase and in all (reading excluded),
    # per rank: less sensitive than wall time to other jobs on a shared machine
    res["cpu"]["total_s"] = time.process_time() - c0 - c_read
    cpu_ranks = comm.gather(res.pop("cpu"), root=0)
    if comm.rank == 0:
        res["cpu_per_rank"] = cpu_ranks
        for k in cpu_ranks[0]:
            res[f"cpu_{k}"] = max(c[k] for c in cpu_ranks)  # the slowest rank
    res["read_s"] = t_read
    import resource

    peak[0] = max(peak[0], resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)  # true peak
    res["peak_rss_above_baseline_MB"] = comm.allreduce((peak[0] - base) / 2**20, MPI.MAX)
    res["peak_rss_MB"] = comm.allreduce(peak[0] / 2**20, MPI.MAX)  # absolute, max over ranks
    if comm.rank == 0:
        Path(out).write_text(json.dumps(res))


def run_pair(mesh: Path, ranks: int, repeat: int) -> tuple[dict, dict]:
    """``repeat`` fresh-process runs of each side, interleaved (ref, ours, ref, ours, ...) so that a
    change of load on the shared machine hits both alike; medians of each quantity."""
    runs: dict[str, list] = {"dolfinx": [], "surgiplan": []}
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    for _ in range(repeat):
        for kind in runs:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                out = f.name
            cmd = [sys.executable, __file__, "--worker", kind, str(mesh), out]
            if ranks > 1:
                cmd = [mpiexec, "-n", str(ranks)] + cmd
            load0 = os.getloadavg()[0]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            runs[kind].append(json.loads(Path(out).read_text())
                              | {"load_before": load0, "load_after": os.getloadavg()[0]})
            Path(out).unlink()
    med = []
    for kind in ("dolfinx", "surgiplan"):
        rr = runs[kind]
        m = {k: statistics.median(r[k] for r in rr) if isinstance(rr[0][k], (int, float)) else rr[0][k]
             for k in rr[0]}
        m["load_before"] = min(r["load_before"] for r in rr)
        m["load_after"] = max(r["load_after"] for r in rr)
        m["runs_total_s"] = [round(r["total_s"], 2) for r in rr]
        m["runs_cpu_total_s"] = [round(r["cpu_total_s"], 2) for r in rr]
        med.append(m)
    return med[0], med[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=float, nargs="+", default=[0.5])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", nargs=3)
    ap.add_argument("--mesh-dir", type=Path, default=None,
                    help="keep the generated meshes here and reuse them (default: a temporary folder)")
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            mesh = (args.mesh_dir or Path(tmp)) / f"shaft_{size}.msh"
            if not mesh.exists():
                make_mesh(mesh, size)
            for ranks in args.ranks:
                ref, ours = run_pair(mesh, ranks, args.repeat)
                rows.append((ranks, ref, ours))
                print(json.dumps({"ranks": ranks, "dolfinx": ref, "surgiplan": ours}), flush=True)
    print()
    hdr = (f"{'DOFs':>9} {'ranks':>5} | {'ref asm':>7} {'setup':>6} {'solve':>6} {'total':>6} {'it':>4} "
           f"{'MB/rank':>8} | {'ours asm':>8} {'setup':>6} {'solve':>6} {'total':>6} {'it':>4} {'MB/rank':>8} | ratio"
           f" | {'load 1 min':>10}")
    print("wall time (s)")
    print(hdr)
    for ranks, r, o in rows:
        print(f"{r['dofs']:>9} {ranks:>5} | {r['assembly_s']:7.2f} {r['setup_s']:6.2f} {r['solve_s']:6.2f} "
              f"{r['total_s']:6.2f} {r['iterations']:4.0f} {r['peak_rss_above_baseline_MB']:8.0f} | "
              f"{o['assembly_s']:8.2f} {o['setup_s']:6.2f} {o['solve_s']:6.2f} {o['total_s']:6.2f} "
              f"{o['iterations']:4.0f} {o['peak_rss_above_baseline_MB']:8.0f} | {o['total_s'] / r['total_s']:.2f}x"
              f" | {min(r['load_before'], o['load_before']):4.1f}-{max(r['load_after'], o['load_after']):<4.1f}")
    print("\nCPU time (s, user + sys of the slowest rank)")
    print(f"{'DOFs':>9} {'ranks':>5} | {'ref asm':>7} {'setup':>6} {'solve':>6} {'total':>6} | "
          f"{'ours asm':>8} {'setup':>6} {'solve':>6} {'total':>6} | ratio")
    for ranks, r, o in rows:
        print(f"{r['dofs']:>9} {ranks:>5} | {r['cpu_assembly_s']:7.2f} {r['cpu_setup_s']:6.2f} "
              f"{r['cpu_solve_s']:6.2f} {r['cpu_total_s']:6.2f} | {o['cpu_assembly_s']:8.2f} "
              f"{o['cpu_setup_s']:6.2f} {o['cpu_solve_s']:6.2f} {o['cpu_total_s']:6.2f} | "
              f"{o['cpu_total_s'] / r['cpu_total_s']:.2f}x")
    print("times: median of runs, each a fresh process, ref and ours interleaved; mesh reading excluded "
          "from 'total'; memory = peak RSS above the post-import baseline, max over ranks (absolute "
          "peaks in the JSON lines); CPU time per rank is in the JSON lines ('cpu_per_rank')")

if __name__ == "__main__":
    main()
