"""Vessel flow benchmark (issue 29 "Speed"): steady flow through the aorto-iliac (vascular) sample at about
300 k DOFs, from the lumen to the results, each step timed, at 1 and 2 MPI ranks; and the Newton solve
beside a hand-written dolfinx script (``ref_ns_dolfinx.py``) on the same mesh.

Steps (each in a fresh process; peak RSS = ru_maxrss above the post-import baseline, max over ranks):

1. ``geometry`` (1 process): the sample's CT and lumen label -> half-maximum lumen field, lumen surface,
   centrelines (+ radius, branch points, stenoses), ends cut perpendicular to the centreline with flow
   extensions and caps, gmsh mesh (``build_vessel_model``, with ``--h-max`` chosen for ~300 k DOFs), and
   the ``vessel-rest`` study file (20 mL/s, Murray split, resistance outlets);
2. ``solve`` (``mpiexec -n R``): the study as the vessel study runs it (``run_flow_study``: Newton with
   adaptive continuation, resistance matching, SUPG, flow quantities, ``results.xdmf``): mesh read,
   set-up, Newton solve and results are timed separately;
3. ``results`` (1 process): the centreline table, lesion pressures, WSS statistics and ``surface.vtp``
   (``vessel_results``).

Newton beside the reference (``newton`` / ``ref``, ``mpiexec -n R``): the same mesh, the same boundary
conditions (parabolic inflow of 20 mL/s, zero-traction outlets, no-slip walls), the same Newton
(full steps, relative residual 1e-9, a fresh MUMPS LU per step) and the same continuation fractions of
the flow, textbook Galerkin form on both sides (our SUPG and backflow terms switched off so the two solve
the same discrete problem); ours is ``solve_steady``.

    .venv/bin/python benchmarks/bench_flow_vessel.py [--ranks 1,2] [--runs 1] [--h-max 1.65] [--skip-e2e]

The machine may be shared: the 1-minute load average before each run is printed beside it, and the CPU
time per rank beside the wall time (less sensitive to other jobs).

Measured 2026-12-07 on the shared 2-core machine (load 4-16 from other jobs: wall times are noisy):

* geometry, h_max 1.65 mm -> 58 k tetrahedra, 301 433 DOFs: 70 s wall at load 7 (lumen field 9.5 s,
  surface 2.2, centrelines 7.4, cuts/extensions/caps 13.1, gmsh 33.3 s), peak RSS +0.54 GB; a second run
  on a working tree with the vessel-meshing changes then in progress took 737 s (caps/extensions 559 s);
* Newton race at 301 k DOFs, 2 ranks: not finished within 30 min wall at load 14-16 (ours had 6 min CPU
  per rank after 25 min): no figure;
* Newton race on plan A's stented lumen, h_max 4 mm, 80 127 DOFs (``--reuse`` of a vessel-pulsatile
  prepare): both sides 15 Newton iterations (5/4/3/3 over the 4 continuation steps), outlet flows equal
  to 1e-14 (10.20 / 9.80 mL/s, zero-traction outlets);
  2 ranks, median of 3 (load 4-8): ours 70.6 s wall (83.6, 70.6, 69.9), 57.1 s CPU summed over the ranks;
  reference 70.3 s (80.2, 70.0, 70.3), 56.2 s CPU: ratio 1.005 wall, 1.016 CPU; peak RSS per rank
  0.66/0.46 GB against 0.64/0.44 GB (ours +0.56 GB above its post-import baseline);
  1 rank: ours 111.2 s wall, 45.8 s CPU; reference 96.4 s, 45.4 s CPU: ratio 1.15 wall (load 4 vs 6 during
  the runs), 1.01 CPU; peak RSS 0.84 against 0.83 GB;
* the vessel-rest end-to-end solve (resistance outlets) was not measured (the first attempt ran on the
  outer resistance iteration that flow.py replaced meanwhile).

Measured 2026-12-07 22:07-22:11 UTC on a quiet machine (load 0.3-0.6), ``--ranks 2 --skip-newton``, one run:
end to end 201.3 s wall (geometry 35.8 s, solve process 168.9 s of which Newton 153.5 s (4 + 2 iterations),
results 2.1 s), 294 529 DOFs; peak RSS 2.51 / 2.32 GB per rank above baseline + 0.91 GB geometry (4.95 GB).

Measured 2026-12-07 18:19-19:03 UTC, plan A's stented lumen (``--plan A``, the default), h_max 1.65 mm,
57 053 tetrahedra, 294 529 DOFs, 2 ranks, one run each at load 12-25 (docs/simulation.md has the tables):

* geometry (mesher in a spawned child): 186 s wall at load 19, 29.8 s CPU, +0.96 GB; "cut ends,
  extensions, caps" 1.9 s (it used to hold gmsh's classification, the size field, the write and the
  child's start-up: 9.2 s at load 3-5, now each its own key);
* Newton race: ours 1195 s wall, 217.8 / 219.5 s CPU per rank; reference 1163 s, 211.2 / 211.7 s: ratio
  1.03 CPU, 1.03 wall; both 15 Newton iterations, outlet flows equal to 5e-15 mL/s, peak RSS 2.40 / 2.30
  against 2.39 / 2.29 GB per rank above baseline;
* Newton race, 1 rank, both sides at the same time: ours 1602 s wall, 359.4 s CPU; reference 1612 s,
  357.3 s: ratio 0.994 wall, 1.006 CPU; 4.17 GB above baseline each;
* end to end (vessel-rest, resistance outlets): set-up 13.3 s, Newton 737 s (4 + 2 steps), results 5 +
  5 s wall at load 20; CPU 126.7 / 126.3 s per rank; peak RSS 2.51 / 2.41 GB per rank (4.9 GB in all).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mpi4py import MPI  # noqa: F401  (loads libmpi before dolfinx is imported)

HERE = Path(__file__).resolve().parent
FLOW_ML_S = 20.0
FACTORS = "0.25,0.5,0.75,1"  # continuation fractions of the flow, the same on both sides of the Newton race
RTOL = 1e-9  # Newton: relative residual on both sides (our SolverSpec default)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU time of this process (s): less sensitive to a loaded machine than wall time."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def plan_stent_of_sample(plan: str):
    """The stent of the vascular sample's demo plan ``plan`` (``A``: the one that opens the lesion), or None."""
    if plan.lower() == "none":
        return None
    from surgiplan.core.simulation.vessel.case_study import plan_stent
    from surgiplan.demo.sample_case import build_sample_case
    from surgiplan.demo.vascular import build_demo_plans

    with tempfile.TemporaryDirectory() as d:
        case, *_ = build_sample_case("vascular", Path(d) / "case")
        build_demo_plans(case)
        return plan_stent(case, plan)


def geometry(out: Path, h_max: float, plan: str = "A") -> dict:
    import numpy as np

    from surgiplan.core.fileio import atomic_write_text
    from surgiplan.core.imaging.volume_io import read_volume
    from surgiplan.core.samples import sample_path
    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.simulation.vessel.geometry import build_vessel_model
    from surgiplan.core.simulation.vessel.results import flow_study_dict, json_safe
    from surgiplan.core.vessels.lumen_surface import lumen_field

    p = sample_path("vascular", size="small")
    stent = plan_stent_of_sample(plan)
    base = _rss_mb()
    c0 = _cpu_s()
    t = {}
    t0 = time.perf_counter()
    vol = read_volume(p.volume)
    mask = np.asarray(read_segmentation(p.labels, labels_json=p.labels_json).mask("aorta_lumen"), bool)
    t["read_ct_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    lf = lumen_field(vol, mask)
    t["lumen_field_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = build_vessel_model(lf, out, h_max=h_max, stent=stent)
    t["vessel_model_s"] = time.perf_counter() - t0
    t.update({f"model.{k}": v for k, v in model.info["timings_s"].items()})
    study, bc = flow_study_dict(model.info, FLOW_ML_S, 93.0, probe_points_mm=model.probe_points_mm,
                                name="vessel-rest")
    bc.update({"density": 1060.0, "viscosity": 0.0035})
    atomic_write_text(out / "study.json", json.dumps(study, indent=1))
    atomic_write_text(out / "vessel_geometry.json",
                      json.dumps(json_safe({"geometry": model.info, "boundary_conditions": bc}), indent=1))
    return {"times_s": t, "tetrahedra": model.info["mesh"]["tetrahedra"], "outlets": len(model.info["outlets"]),
            "stenoses": len(model.info["stenoses"]), "plan": plan, "stent": model.info["stent"],
            "cpu_s_with_mesher_child": _cpu_s() - c0 + _cpu_s(resource.RUSAGE_CHILDREN),
            "peak_above_baseline_MB": _peak_mb() - base}


def solve(out: Path) -> dict | None:
    from surgiplan.core.simulation.flow_study import run_flow_study
    from surgiplan.core.simulation.study_schema import parse_study
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    comm = MPI.COMM_WORLD
    base = _rss_mb()
    study = parse_study((out / "study.json").read_text(), out / "study.json")
    t0 = time.perf_counter()
    tm = read_tagged_mesh(out / "mesh.msh", comm).scaled(1e-3, "m")
    t_read = time.perf_counter() - t0
    res_dir = out / "solve"
    if comm.rank == 0:
        res_dir.mkdir(exist_ok=True)
    comm.barrier()
    t0 = time.perf_counter()
    c0 = _cpu_s()
    summary = run_flow_study(study, tm, res_dir)
    t_all = time.perf_counter() - t0
    cpu = comm.gather(round(_cpu_s() - c0, 1), root=0)
    info = summary["solver"]
    peak = comm.allreduce(_peak_mb() - base, MPI.MAX)
    peaks = comm.gather(_peak_mb(), root=0)
    above = comm.gather(_peak_mb() - base, root=0)
    if comm.rank:
        return None
    (out / "solver_summary.json").write_text(json.dumps(summary, default=str))
    return {"newton_steps": [{"factor": round(h["factor"], 4), "newton_iterations": h["newton_iterations"]}
                             for h in info["continuation"]], "pc_type": info.get("pc_type"),
            "factorisation_reuse": info.get("factorisation_reuse"), "dofs": info["dofs"], "ranks": comm.size,
            "times_s": {
        "read_mesh_s": t_read, "setup_s": info["time_setup_s"], "newton_s": info["time_solve_s"],
        "results_xdmf_s": t_all - info["time_setup_s"] - info["time_solve_s"]},
        "newton_iterations": info["newton_iterations_total"], "continuation": [round(h["factor"], 4) for h in
                                                                               info["continuation"]],
        "retries": len(info["continuation_retries"]), "resistance_iterations": info.get("resistance_iterations"),
        "flows_mL_s": summary["final_state"]["outlet_flow_mL_per_s"],
        "peak_above_baseline_MB": peak, "peak_rss_per_rank_MB": peaks, "peak_above_baseline_per_rank_MB": above,
        "cpu_study_s_per_rank": cpu}


def results(out: Path) -> dict:
    from surgiplan.core.simulation.vessel.results import vessel_results

    base = _rss_mb()
    geo = json.loads((out / "vessel_geometry.json").read_text())
    summ = json.loads((out / "solver_summary.json").read_text())
    t0 = time.perf_counter()
    res = vessel_results(out / "solve", geo["geometry"], geo["boundary_conditions"], summ)
    t = time.perf_counter() - t0
    les = res["lesions"][0] if res["lesions"] else {}
    return {"times_s": {"centreline_table_surface_s": t}, "lesion_drop_mmHg": les.get("pressure_drop_mmHg"),
            "wss_mean_Pa": res["wss"].get("wss_mean_Pa"), "rows": len(res["centreline_table"]),
            "peak_above_baseline_MB": _peak_mb() - base}


def newton(out: Path) -> dict | None:
    """Ours on the reference's problem (see module docstring)."""
    from surgiplan.core.simulation.flow import solve_steady
    from surgiplan.core.simulation.study_schema import FlowSpec, SolverSpec
    from surgiplan.core.simulation.volume_mesh_io import read_tagged_mesh

    comm = MPI.COMM_WORLD
    base = _rss_mb()
    geo = json.loads((out / "vessel_geometry.json").read_text())["geometry"]
    t0 = time.perf_counter()
    tm = read_tagged_mesh(out / "mesh.msh", comm).scaled(1e-3, "m")
    t_read = time.perf_counter() - t0
    spec = FlowSpec.model_validate({
        "inlet": {"boundary": "inlet", "flow_rate_mL_s": FLOW_ML_S},
        "outlets": [{"boundary": o["name"]} for o in geo["outlets"]], "walls": ["wall"],
        "reynolds_steps": len(FACTORS.split(",")), "stabilization": "none", "backflow_stabilization": "none"})
    solver = SolverSpec(method="direct", newton_rtol=RTOL, petsc_options={"ksp_type": "preonly"})
    from surgiplan.core.errors import SolverError

    c0 = _cpu_s()
    t0 = time.perf_counter()
    try:
        sol = solve_steady(tm, spec, solver)
    except SolverError as exc:  # reported, so the reference still runs
        if comm.rank:
            return None
        return {"side": "ours", "converged": False, "error": exc.message, "solve_s": time.perf_counter() - t0,
                "setup_s": float("nan"), "newton_iterations_total": -1, "outlet_flow_mL_s": {},
                "peak_rss_per_rank_MB": [_peak_mb()], "cpu_solve_s_per_rank": [round(_cpu_s() - c0, 1)]}
    cpu = comm.gather(round(_cpu_s() - c0, 1), root=0)
    info = sol.info
    flows = {o["name"]: sol.setup.flux(sol.u, tag) * 1e6 for o, tag in zip(geo["outlets"], sol.setup.outlet_tags,
                                                                            strict=True)}
    peak = comm.allreduce(_peak_mb() - base, MPI.MAX)
    peaks = comm.gather(_peak_mb(), root=0)
    above = comm.gather(_peak_mb() - base, root=0)
    if comm.rank:
        return None
    return {"side": "ours", "peak_above_baseline_per_rank_MB": above, "converged": True, "dofs": info["dofs"],
            "ranks": comm.size, "read_s": t_read,
            "setup_s": info["time_setup_s"], "solve_s": info["time_solve_s"],
            "steps": [{"factor": round(h["factor"], 4), "newton_iterations": h["newton_iterations"]}
                      for h in info["continuation"]], "retries": len(info["continuation_retries"]),
            "newton_iterations_total": info["newton_iterations_total"], "outlet_flow_mL_s": flows,
            "peak_above_baseline_MB": peak, "peak_rss_per_rank_MB": peaks, "cpu_solve_s_per_rank": cpu}


TIMEOUT_S = 3600.0


def _run(cmd: list[str], ranks: int, timeout: float | None = None) -> tuple[dict, float, float]:
    if ranks > 1:
        cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] + cmd
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout or TIMEOUT_S)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1]), wall, load


def _worker_cmd(kind: str, out: Path, *extra: str) -> list[str]:
    return [sys.executable, __file__, "--worker", kind, str(out), *extra]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranks", default="1,2")
    ap.add_argument("--runs", type=int, default=1, help="runs of each measurement (median reported)")
    ap.add_argument("--h-max", type=float, default=1.65, help="largest cell (mm): sets the DOF count "
                    "(1.7: 281 k DOFs)")
    ap.add_argument("--plan", default="A", help="the vascular sample's demo plan whose stent opens the lumen "
                    "('none': the native lumen; plan A's stented lumen converges without hand tuning)")
    ap.add_argument("--skip-e2e", action="store_true", help="only the Newton race against the reference")
    ap.add_argument("--skip-newton", action="store_true")
    ap.add_argument("--keep", help="folder to keep the mesh and results in")
    ap.add_argument("--reuse", action="store_true", help="reuse the mesh and vessel_geometry.json in --keep "
                    "(no geometry step)")
    ap.add_argument("--timeout", type=float, default=3600, help="per measurement (s)")
    ap.add_argument("--table", help="print the table of a saved bench_report.json and stop")
    ap.add_argument("--worker", nargs="+")
    args = ap.parse_args()
    if args.table:
        rep = json.loads(Path(args.table).read_text())
        _table(rep, [int(r) for r in args.ranks.split(",")])
        return
    if args.worker:
        kind, out = args.worker[0], Path(args.worker[1])
        fn = {"geometry": lambda: geometry(out, float(args.worker[2]), args.worker[3]), "solve": lambda: solve(out),
              "results": lambda: results(out), "newton": lambda: newton(out)}[kind]
        res = fn()
        if res is not None:
            print(json.dumps(res), flush=True)
        return

    ranks = [int(r) for r in args.ranks.split(",")]
    global TIMEOUT_S
    TIMEOUT_S = args.timeout
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_flow_vessel_"))
    tmp.mkdir(parents=True, exist_ok=True)
    report: dict = {"h_max_mm": args.h_max, "flow_mL_s": FLOW_ML_S, "runs": args.runs, "plan": args.plan}
    geo_runs = []
    for _ in range(0 if args.reuse else args.runs):
        g, wall, load = _run(_worker_cmd("geometry", tmp, str(args.h_max), args.plan), 1)
        g["process_s"], g["load"] = wall, load
        print("geometry", json.dumps(g), flush=True)
        geo_runs.append(g)
    report["geometry"] = geo_runs
    (tmp / "bench_report.json").write_text(json.dumps(report, indent=1))
    for r in ranks:  # the Newton race first: it does not depend on the outlet coupling
        if not args.skip_newton:
            race = {"ours": [], "ref": []}
            for _ in range(args.runs):
                o, wall, load = _run(_worker_cmd("newton", tmp), r)
                o["process_s"], o["load"] = wall, load
                print(f"newton ours n={r}", json.dumps(o), flush=True)
                race["ours"].append(o)
                ref, wall, load = _run([sys.executable, str(HERE / "ref_ns_dolfinx.py"), str(tmp / "mesh.msh"),
                                        "--inlet", "inlet", "--walls", "wall", "--flow-mL-s", str(FLOW_ML_S),
                                        "--factors", FACTORS, "--rtol", str(RTOL)], r)
                ref["process_s"], ref["load"] = wall, load
                print(f"newton ref n={r}", json.dumps(ref), flush=True)
                race["ref"].append(ref)
            report[f"newton_{r}"] = race
            (tmp / "bench_report.json").write_text(json.dumps(report, indent=1))
        if not args.skip_e2e:
            runs = []
            for _ in range(args.runs):
                s, wall, load = _run(_worker_cmd("solve", tmp), r)
                s["process_s"], s["load"] = wall, load
                print(f"solve n={r}", json.dumps(s), flush=True)
                res, wall_r, _ = _run(_worker_cmd("results", tmp), 1)
                res["process_s"] = wall_r
                print("results", json.dumps(res), flush=True)
                runs.append({"solve": s, "results": res})
            report[f"e2e_{r}"] = runs
            (tmp / "bench_report.json").write_text(json.dumps(report, indent=1))
    (tmp / "bench_report.json").write_text(json.dumps(report, indent=1))
    _table(report, ranks)


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def _table(rep: dict, ranks: list[int]) -> None:
    g = rep["geometry"]
    geo_total = 0.0
    if g:
        gt = {k: _med([r["times_s"][k] for r in g]) for k in g[0]["times_s"]}
        print(f"\nvascular sample (small), h_max {rep['h_max_mm']} mm, {g[0]['tetrahedra']} tetrahedra, "
              f"{rep['flow_mL_s']} mL/s; median of {rep['runs']} run(s); load average (1 min) shown per run")
        print("step                              " + "".join(f"{'n=' + str(r):>12}" for r in ranks))
        geo_rows = [("read CT + label", "read_ct_s"), ("lumen field (half maximum)", "lumen_field_s"),
                    ("lumen surface", "model.surface_s"), ("centrelines, radius, stenosis", "model.centrelines_s"),
                    ("cut ends, extensions, caps", "model.closing_s"), ("size field on its grid",
                                                                         "model.mesh_size_field_s"),
                    ("mesher child start-up, transfer", "model.mesh_process_s")]
        gmsh_keys = [k for k in gt if k.startswith("model.mesh_") and k.endswith("_s")
                     and k not in ("model.mesh_size_field_s", "model.mesh_process_s")]
        for label, k in geo_rows:
            print(f"{label:34}" + "".join(f"{gt.get(k, float('nan')):12.1f}" for _ in ranks) + "   (1 process)")
        print(f"{'gmsh (' + ', '.join(k[11:-2] for k in gmsh_keys) + ')':34}"
              + "".join(f"{sum(gt[k] for k in gmsh_keys):12.1f}" for _ in ranks) + "   (1 process)")
        geo_total = gt["read_ct_s"] + gt["lumen_field_s"] + gt["vessel_model_s"]
    tot = {}
    for r in ranks:
        runs = rep.get(f"e2e_{r}")
        if not runs:
            continue
        st = {k: _med([x["solve"]["times_s"][k] for x in runs]) for k in runs[0]["solve"]["times_s"]}
        st["vessel_results"] = _med([x["results"]["times_s"]["centreline_table_surface_s"] for x in runs])
        st["process"] = _med([x["solve"]["process_s"] + x["results"]["process_s"] for x in runs])
        tot[r] = st
    if tot:
        for label, k in [("read mesh", "read_mesh_s"), ("set-up (spaces, forms, checks)", "setup_s"),
                         ("Newton + continuation + resistances", "newton_s"),
                         ("flow quantities, results.xdmf", "results_xdmf_s"),
                         ("centreline table, surface.vtp", "vessel_results")]:
            print(f"{label:34}" + "".join(f"{tot[r][k]:12.1f}" if r in tot else f"{'-':>12}" for r in ranks))
        print(f"{'end to end (processes, wall)':34}" + "".join(
            f"{geo_total + tot[r]['process']:12.1f}" if r in tot else f"{'-':>12}" for r in ranks))
        for r in ranks:
            if r in tot:
                s0 = rep[f"e2e_{r}"][0]["solve"]
                print(f"  n={r}: {s0['dofs']} DOFs, Newton {s0['newton_iterations']}, continuation "
                      f"{s0['continuation']}, retries {s0['retries']}, resistance iterations "
                      f"{s0['resistance_iterations']}, peak RSS above baseline "
                      f"{max(x['solve']['peak_above_baseline_MB'] for x in rep[f'e2e_{r}']) / 1024:.2f} GB/rank, "
                      f"per rank {[round(m / 1024, 2) for m in s0['peak_rss_per_rank_MB']]} GB, CPU s/rank "
                      f"{s0.get('cpu_study_s_per_rank')}, load "
                      f"{[round(x['solve']['load'], 1) for x in rep[f'e2e_{r}']]}")
        if g:
            print(f"  geometry peak RSS above baseline {max(x['peak_above_baseline_MB'] for x in g) / 1024:.2f} GB")
    for r in ranks:
        race = rep.get(f"newton_{r}")
        if not race:
            continue
        o, f = _med([x["solve_s"] for x in race["ours"]]), _med([x["solve_s"] for x in race["ref"]])
        print(f"Newton race n={r}: ours {o:.1f} s ({race['ours'][0]['newton_iterations_total']} Newton, CPU s/rank "
              f"{race['ours'][0].get('cpu_solve_s_per_rank')}, load {race['ours'][0]['load']:.1f}), hand-written "
              f"CPU s/rank {race['ref'][0].get('cpu_solve_s_per_rank')}, load {race['ref'][0]['load']:.1f}; "
              f"hand-written dolfinx {f:.1f} s ({race['ref'][0]['newton_iterations_total']} Newton): ratio "
              f"ours/ref {o / f:.2f}; set-up ours {_med([x['setup_s'] for x in race['ours']]):.1f} s, ref "
              f"{_med([x['setup_s'] for x in race['ref']]):.1f} s; peak RSS per rank ours "
              f"{[round(m / 1024, 2) for m in race['ours'][0]['peak_rss_per_rank_MB']]} GB, ref "
              f"{[round(m / 1024, 2) for m in race['ref'][0]['peak_rss_per_rank_MB']]} GB; outlet flows ours "
              f"{ {k: round(v, 3) for k, v in race['ours'][0]['outlet_flow_mL_s'].items()} }, ref "
              f"{ {k: round(v, 3) for k, v in race['ref'][0]['outlet_flow_mL_s'].items()} }")


if __name__ == "__main__":
    main()
