"""Flow benchmark: steady Navier-Stokes (Newton + Re continuation) vs one Stokes solve, same mesh.

R 10 mm, L 200 mm pipe, blood, 20 mL/s with a flat (plug) inlet profile, so the flow develops
along the pipe and Newton has real work (Re ~ 386). Taylor-Hood P2-P1 at ~300 k DOFs. Each
measurement is a fresh process (``mpiexec -n R``); we report wall time and the peak RSS per rank
above the post-import baseline, and the ratio NS / Stokes (the reference: one linear Stokes solve
with the same solver on the same mesh, as measured in MEASUREMENTS.md).

    .venv/bin/python benchmarks/bench_flow.py [--ranks 2] [--radial 1.6] [--layers 70] [--method direct]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx is imported)


def worker(kind: str, mesh: str, method: str, out: str) -> None:
    import dolfinx  # noqa: F401
    import psutil

    comm = MPI.COMM_WORLD
    proc = psutil.Process()
    base = proc.memory_info().rss
    from surgiplan.core.simulation.flow import solve_steady
    from surgiplan.core.simulation.flow_study import flow_quantities
    from surgiplan.core.simulation.mesh_io import read_tagged_mesh
    from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec

    tm = read_tagged_mesh(mesh, comm).scaled(1e-3, "m")
    spec = FlowSpec.model_validate({
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": 20.0, "profile": "plug"},
        "outlets": [{"boundary": "outlet"}], "walls": ["wall"], "convection": kind == "navier-stokes"})
    t0 = time.perf_counter()
    sol = solve_steady(tm, spec, SolverSpec(method=method))
    t = time.perf_counter() - t0
    q = flow_quantities(sol)
    import resource

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # true peak (KiB on Linux)
    peak = comm.allreduce(peak_kb / 1024 - base / 2**20, MPI.MAX)
    if comm.rank == 0:
        Path(out).write_text(json.dumps({
            "time_s": t, "dofs": sol.info["dofs"], "newton": sol.info["newton_iterations_total"],
            "continuation_steps": len(sol.info["continuation"]), "pressure_drop_Pa": q["pressure_drop_Pa"],
            "wss_mean_Pa": q["wss_mean_Pa"], "peak_rss_above_baseline_MB": peak,
            "memory_note": "peak RSS (ru_maxrss) above the post-import baseline, max over ranks"}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--radial", type=float, default=1.6, help="cross-section cell size (mm)")
    ap.add_argument("--layers", type=int, default=70)
    ap.add_argument("--method", default="direct")
    ap.add_argument("--worker", nargs=4)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    from surgiplan.core.simulation import meshes

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        mesh = Path(tmp) / "pipe.msh"
        meshes.pipe(10.0, 200.0, args.radial, args.layers, order=1)
        meshes.write_msh(mesh)
        meshes.finish()
        for kind in ("stokes", "navier-stokes"):
            out = Path(tmp) / f"{kind}.json"
            cmd = [sys.executable, __file__, "--worker", kind, str(mesh), args.method, str(out)]
            if args.ranks > 1:
                cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(args.ranks)] + cmd
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            results[kind] = json.loads(out.read_text())
            results[kind]["process_s"] = time.perf_counter() - t0
            print(kind, json.dumps(results[kind]), flush=True)
    s, n = results["stokes"], results["navier-stokes"]
    print(f"\n{'':15} {'DOFs':>8} {'solve s':>8} {'process s':>9} {'MB/rank':>8} {'Newton':>6} {'dp Pa':>8}")
    for k, r in results.items():
        print(f"{k:15} {r['dofs']:8d} {r['time_s']:8.1f} {r['process_s']:9.1f} "
              f"{r['peak_rss_above_baseline_MB']:8.0f} {r['newton']:6d} {r['pressure_drop_Pa']:8.3f}")
    print(f"NS / Stokes time ratio: {n['time_s'] / s['time_s']:.2f} ({args.ranks} ranks, {args.method}); "
          f"target: NS <= 300 s and <= 8 GB in total on 2 cores")


if __name__ == "__main__":
    main()
