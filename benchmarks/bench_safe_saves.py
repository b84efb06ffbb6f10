"""Safe saves (issue 21): what the one write path costs, and what a kill leaves.

1. **Overhead**: writing a model (a sphere of ``--triangles`` triangles, binary VTP) through
   ``core.fileio`` (stage in the folder, free-space check, fsync, read-back verify, rename)
   beside pyvista's plain ``mesh.save`` (the reference: VTK's writer straight to the target,
   no temporary, no fsync, no check), each side in a fresh process ``--runs`` times; median
   time, ratio and peak RSS above the process's baseline after imports.
2. **Kills**: ``--kills`` trials of ``surgiplan import-model CASE NEW --name bone --replace``
   SIGKILLed at a random moment (uniform over the command's measured duration); after each,
   the case is opened and classified old / new / anything else (a failure). Prints the counts.

    .venv/bin/python benchmarks/bench_safe_saves.py [--runs 3] [--triangles 200000] [--kills 30]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path

from bench_common import largest, medians, run_sides

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHILD = r"""
import json, sys, time, threading
import numpy as np, psutil, pyvista as pv
from surgiplan.core.case.case import atomic_write_mesh
kind, folder, tri = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = max(8, int((tri / 2) ** 0.5))
mesh = pv.Sphere(radius=30, theta_resolution=res, phi_resolution=res)
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.002)
th = threading.Thread(target=sample, daemon=True); th.start()
times = []
for rep in range(5):
    out = f"{folder}/{kind}_{rep}.vtp"
    t0 = time.perf_counter()
    if kind == "ours":
        atomic_write_mesh(mesh, out)
    else:
        mesh.save(out, binary=True)
    times.append(time.perf_counter() - t0)
stop.set(); th.join()
print(json.dumps({"median_s": float(np.median(times)), "peak_mb": (peak[0] - base) / 1e6,
                  "triangles": int(mesh.n_cells)}))
"""


def overhead(runs: int, triangles: int) -> None:
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        res = run_sides(CHILD, runs, folder, str(triangles))
    med, peak = medians(res), largest(res)
    n = res["ours"][0]["triangles"]
    print(f"model save, {n} triangles (binary VTP), median of {max(3, runs)} fresh processes x 5 saves")
    print(f"{'':30}{'fileio (ours)':>16}{'mesh.save':>14}{'ratio':>8}")
    print(f"{'time per save (ms)':30}{med['ours'] * 1e3:16.1f}{med['ref'] * 1e3:14.1f}"
          f"{med['ours'] / med['ref']:8.2f}")
    print(f"{'peak RSS above baseline (MB)':30}{peak['ours']:16.0f}{peak['ref']:14.0f}")


def kills(trials: int, seed: int = 21) -> None:
    from tests.core.case.case_faults import case_state, make_case, replace_and_watch

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as folder:
        folder = Path(folder)
        root = folder / "Probe"
        _, new = make_case(root, folder / "probe", resolution=200)
        firsts, ends = [], []
        for _ in range(3):
            status, first, end = replace_and_watch(root, new)
            assert status == 0
            firsts.append(first)
            ends.append(end)
        start, full = statistics.median(firsts), statistics.median(ends)
        window = full - start
        counts: dict[str, int] = {}
        failures = []
        for t in range(trials):
            root_t = folder / f"Case{t}"
            _, new = make_case(root_t, folder / f"m{t}", resolution=200)
            anywhere = t % 3 == 0  # a third anywhere in the command, the rest inside the save
            delay = rng.uniform(0.0, 1.05) * (full if anywhere else window)
            status, _, _ = replace_and_watch(root_t, new, delay, from_first_temporary=not anywhere)
            state = case_state(root_t)
            key = state if state in ("old", "new") else "other"
            counts[key] = counts.get(key, 0) + 1
            if key == "other":
                failures.append(f"trial {t} (kill at {delay:.3f} s, exit {status}): {state}")
    print(f"\nkills during import-model --replace: {trials} trials; the command takes {full:.2f} s, its "
          f"save the last {window * 1e3:.0f} ms (medians of 3); 1/3 of the kills uniform over the "
          "whole command, 2/3 over the save")
    print("  case after the kill: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    for f in failures:
        print("  FAILED " + f)
    if failures:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--triangles", type=int, default=200_000)
    ap.add_argument("--kills", type=int, default=30)
    a = ap.parse_args()
    overhead(a.runs, a.triangles)
    if a.kills:
        kills(a.kills)


if __name__ == "__main__":
    main()
