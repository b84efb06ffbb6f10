"""The OR plan report: time, size and memory of one PDF (issue 25: < 15 s, < 5 MB).

Case: the demo's sample case of ``--case`` (default knee: sample scan -> models -> the demo's
plans A and B, saved once in a temporary folder). Each run is a fresh process that opens the
case and makes the report of plan A compared with B, images included
(:class:`surgiplan.scene.report_figures.SceneFigures`, off screen, 700 px renders):

* report: :func:`surgiplan.core.report.render_report` (gathering, measuring, rendering, PDF);
* measure_only: the same process opening the case and measuring both plans with
  :func:`~surgiplan.core.planning.measurements.measure_plan` and comparing them, i.e. what the
  window computes anyway (bone distance fields included) -- the reference the report's own
  cost (renders, layout) is the difference from.

Printed: median wall time over the runs (>= 3), its ratio, the largest peak RSS above the
process's baseline after imports, the PDF's size and page count, and the time spent in the
image renderer.

    .venv/bin/python benchmarks/bench_report.py [--runs 3] [--case knee]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_common import largest, medians, run_sides

CHILD = r"""
import json, sys, time, threading
import psutil
kind, folder = sys.argv[1], sys.argv[2]
from surgiplan.core.case import Case
from surgiplan.core.planning.comparison import compare_plans
from surgiplan.core.planning.measurements import measure_plan
from surgiplan.core.report import render_report
from surgiplan.scene.report_figures import SceneFigures
import pyvista, reportlab  # noqa: imports before the baseline
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.005)
th = threading.Thread(target=sample, daemon=True); th.start()
t0 = time.perf_counter()
case = Case.open(folder)
out = {}
if kind == "report":
    class Timed(SceneFigures):
        spent = 0.0
        def _shot(self, p):
            t = time.perf_counter(); img = super()._shot(p); Timed.spent += time.perf_counter() - t; return img
    data = render_report(case, "A", compare="B", figures=Timed())
    out = {"bytes": len(data), "pages": data.count(b"/Type /Page\n") or data.count(b"/Type /Page"),
           "render_s": Timed.spent}
else:
    for p in ("A", "B"):
        measure_plan(case, p)
    compare_plans(case, ["A", "B"])
t = time.perf_counter() - t0
stop.set(); th.join()
print(json.dumps({"median_s": t, "peak_mb": (peak[0] - base) / 1e6, **out}))
"""


def build_case(anatomy: str, folder: Path) -> Path:
    from surgiplan.demo.plans import build_demo_plans
    from surgiplan.demo.sample_case import build_sample_case

    root = folder / f"{anatomy}-case"
    case, *_ = build_sample_case(anatomy, root)
    build_demo_plans(case, anatomy)
    case.save()
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--case", default="knee", choices=("hip", "knee", "spine", "vascular"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = build_case(args.case, Path(tmp))
        res = run_sides(CHILD, args.runs, str(root), sides=("report", "measure_only"))
    t, mem = medians(res), largest(res)
    rep = res["report"]
    print(f"OR plan report of the {args.case} demo case (plan A compared with B), {len(rep)} fresh runs each")
    print(f"  report:        median {t['report']:.1f} s, peak RSS +{mem['report']:.0f} MB, "
          f"{max(r['bytes'] for r in rep) / 1e6:.2f} MB PDF, {rep[0]['pages']} pages, "
          f"renders {min(r['render_s'] for r in rep):.1f}-{max(r['render_s'] for r in rep):.1f} s")
    print(f"  measure_only:  median {t['measure_only']:.1f} s, peak RSS +{mem['measure_only']:.0f} MB")
    print(f"  ratio report / measure_only: {t['report'] / t['measure_only']:.2f}")
    print(json.dumps({"medians_s": t, "peak_mb": mem}))


if __name__ == "__main__":
    main()
