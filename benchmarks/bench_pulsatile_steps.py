"""Pulsatile vessel steps (issue 29): a kept MUMPS LU as GMRES's preconditioner against a fresh LU every step.

A ``vessel-pulsatile`` study (``study.json`` + ``mesh.msh`` as ``surgiplan simulate CASE --plan A --study
vessel-pulsatile`` prepares them; ``--study``) is solved for its first ``--steps`` time steps in a fresh process
per side and run: ``kept`` (the default: GMRES on each step's matrix, preconditioned by an earlier step's LU,
refactorised when GMRES needs more than ``flow.LAG_MAX_ITERATIONS``) and ``fresh`` (``ksp_type preonly``: a
new MUMPS factorisation every step, the old behaviour). Per run: the median wall and CPU time of one step
(steps 2..N; the first includes the symbolic analysis), factorisations, GMRES iterations, peak RSS above the
post-import baseline; median over ``--runs`` (>= 3) runs, ratio kept / fresh. Both sides run the same discrete
scheme; the velocities they reach are compared at the last step (max difference relative to max |u|).

    .venv/bin/python benchmarks/bench_pulsatile_steps.py --study DIR/study.json [--steps 12] [--runs 3]

Measured 2026-12-07 (see the closing lines printed; docs/flow_stenosis_solver.md has the table).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time


class _Stop(Exception):
    pass


def child(study_path: str, side: str, steps: int, out_npy: str) -> dict:
    import mpi4py.MPI  # noqa: F401  (before dolfinx)
    import numpy as np

    from surgiplan.core.simulation.flow import solve_pulsatile
    from surgiplan.core.simulation.study_schema import load_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    study, mesh_path = load_study(study_path)
    tm = read_tagged_mesh(mesh_path, mpi4py.MPI.COMM_WORLD, unit=study.mesh.unit, names=study.mesh.tags)
    tm.scaled(1e-3, "m")
    if side == "fresh":
        study.solver.petsc_options["ksp_type"] = "preonly"
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stamps, cpu = [], []

    def sample(t, u, p, s):
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())
        if len(stamps) >= steps:
            np.save(out_npy, u.x.array)
            raise _Stop
        return None

    stamps.append(time.perf_counter())
    cpu.append(time.process_time())
    try:
        solve_pulsatile(tm, study.flow, study.solver, sample=sample)
    except _Stop:
        pass
    wall = np.diff(stamps)[1:]
    cpu_d = np.diff(cpu)[1:]
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    return {"step_wall_s": float(np.median(wall)), "step_cpu_s": float(np.median(cpu_d)),
            "first_step_s": float(stamps[1] - stamps[0]), "peak_mb": peak, "steps": steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", required=True)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("SIDE", "NPY"))
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.study, a.child[0], a.steps, a.child[1])))
        return
    import numpy as np

    res: dict[str, list[dict]] = {"kept": [], "fresh": []}
    tmp = os.path.abspath(os.path.dirname(a.study))
    for run in range(a.runs):
        for side in ("kept", "fresh"):  # interleaved: a load change hits both sides
            npy = os.path.join(tmp, f"_bench_u_{side}.npy")
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--study", a.study, "--steps", str(a.steps),
                                  "--child", side, npy], capture_output=True, text=True, timeout=7200)
            if out.returncode != 0:
                sys.exit(f"{side} run failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["load"] = load
            res[side].append(r)
            print(f"run {run + 1} {side:5s}: step {r['step_wall_s']:.2f} s wall, {r['step_cpu_s']:.2f} s CPU, "
                  f"first {r['first_step_s']:.1f} s, peak +{r['peak_mb']:.0f} MB, load {load:.1f}", flush=True)
    u_k = np.load(os.path.join(tmp, "_bench_u_kept.npy"))
    u_f = np.load(os.path.join(tmp, "_bench_u_fresh.npy"))
    for side in res:
        os.remove(os.path.join(tmp, f"_bench_u_{side}.npy"))
    med = {s: {k: statistics.median(r[k] for r in res[s]) for k in ("step_wall_s", "step_cpu_s")} for s in res}
    peak = {s: max(r["peak_mb"] for r in res[s]) for s in res}
    print(f"median of {a.runs} runs, {a.steps} steps each (steps 2..N timed)")
    print(f"{'side':6s} {'step wall s':>12s} {'step CPU s':>11s} {'peak MB':>8s}")
    for s in res:
        print(f"{s:6s} {med[s]['step_wall_s']:12.2f} {med[s]['step_cpu_s']:11.2f} {peak[s]:8.0f}")
    print(f"ratio kept / fresh: wall {med['kept']['step_wall_s'] / med['fresh']['step_wall_s']:.2f}, "
          f"CPU {med['kept']['step_cpu_s'] / med['fresh']['step_cpu_s']:.2f}")
    print(f"velocity at step {a.steps}: max |kept - fresh| / max |u| = "
          f"{np.abs(u_k - u_f).max() / max(np.abs(u_f).max(), 1e-30):.2e}")


if __name__ == "__main__":
    main()
