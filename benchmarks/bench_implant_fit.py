"""Implant found in a post-operative CT: surgiplan's trimmed point-to-plane ICP vs VTK's ICP.

Data: the post-op hip and spine samples (``surgiplan.core.samples.postop``): titanium cup (its
dome outside the field of view, a ceramic head in it) and four pedicle screws (heads cut), with
beam hardening, streaks and noise; the true implant poses and the patient's move are known.
Both sides start from the planned pose carried into the scan by the true move, and fit the
catalog model to the same metal iso-surface (2500 HU, marching cubes).

* ours: :func:`surgiplan.core.twin.icp.icp` (trimmed, Tukey-weighted point-to-plane, spin of a
  body of revolution fixed), model sampled at 0.5 mm;
* reference: ``vtkIterativeClosestPointTransform`` (rigid, point-to-point, model -> data, 200
  iterations, mean-distance check), the same model samples as source, the metal points as target.

Each side runs in a fresh process, >= 3 runs: median fit time over all implants, the ratio, peak
RSS above the baseline after imports, and the largest position (mm) and axis (deg) error against
the generator's truth.

    .venv/bin/python benchmarks/bench_implant_fit.py [--runs 3]
"""

from __future__ import annotations

from bench_common import bench_args, largest, medians, run_sides

CHILD = r"""
import json, sys, time, threading
import numpy as np, psutil
kind = sys.argv[1]
from surgiplan.core.imaging.volume_io import read_volume
from surgiplan.core.planning import transforms as tf
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.samples.postop import postop_sample_path
from surgiplan.core.twin.icp import icp, sample_surface
from surgiplan.core.twin.implants import SYMMETRIC_KINDS, metal_surface
import vtk
from vtk.util.numpy_support import numpy_to_vtk
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = threading.Event()
def watch():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.002)
threading.Thread(target=watch, daemon=True).start()
cat = load_catalog(include_user=False)
def polydata(p):
    pd = vtk.vtkPolyData(); pts = vtk.vtkPoints(); pts.SetData(numpy_to_vtk(np.ascontiguousarray(p), deep=True))
    pd.SetPoints(pts); verts = vtk.vtkCellArray()
    for i in range(len(p)): verts.InsertNextCell(1); verts.InsertCellPoint(i)
    pd.SetVerts(verts); return pd
times, pos_err, ang_err = [], [], []
for name in ("hip", "spine"):
    pp = postop_sample_path(name); gt = pp.load_ground_truth(); vol = read_volume(pp.volume)
    p2s = tf.inverse(np.array(gt["scan_to_planning"]))
    plan = json.load(open(pp.plan))
    for imp in plan["implants"]:
        spec = cat.get(imp["catalog_id"]); g = spec.geometry(imp["size"], imp.get("options") or {})
        pts, nrm = sample_surface(g.merged(), 0.5)
        guess = p2s @ np.array(imp["transform"])
        w = tf.apply(guess, pts)
        data, _ = metal_surface(vol, w.min(axis=0) - 12, w.max(axis=0) + 12, 2500.0)
        t0 = time.perf_counter()
        if kind == "ours":
            found = icp(pts, nrm, data, guess, fix_spin=spec.model.kind in SYMMETRIC_KINDS).model_to_data
        else:
            icp_v = vtk.vtkIterativeClosestPointTransform()
            icp_v.SetSource(polydata(tf.apply(guess, pts))); icp_v.SetTarget(polydata(data))
            icp_v.GetLandmarkTransform().SetModeToRigidBody()
            icp_v.SetMaximumNumberOfIterations(200); icp_v.SetMaximumNumberOfLandmarks(len(pts))
            icp_v.CheckMeanDistanceOn(); icp_v.SetMaximumMeanDistance(1e-4); icp_v.Update()
            m = np.array([[icp_v.GetMatrix().GetElement(i, j) for j in range(4)] for i in range(4)])
            found = m @ guess
        times.append(time.perf_counter() - t0)
        a = np.array(gt["scan_to_planning"]) @ found
        truth = np.array(gt["implants"][imp["id"]]["achieved"])
        pos_err.append(float(np.linalg.norm(a[:3, 3] - truth[:3, 3])))
        ang_err.append(tf.angle_between_deg(a[:3, 2], truth[:3, 2]))
stop.set()
print(json.dumps({"median_s": float(np.median(times)), "total_s": float(np.sum(times)),
                  "peak_mb": (peak[0] - base) / 2**20, "max_pos_err_mm": max(pos_err),
                  "max_axis_err_deg": max(ang_err)}))
"""


def main() -> None:
    args = bench_args(__doc__)
    from surgiplan.core.samples.postop import postop_sample_path

    for name in ("hip", "spine"):
        postop_sample_path(name)  # generated once, outside the timing
    res = run_sides(CHILD, args.runs)
    med, tot, peak = medians(res), medians(res, "total_s"), largest(res)
    pos, ang = largest(res, "max_pos_err_mm"), largest(res, "max_axis_err_deg")
    print("implant fit on the post-op hip + spine samples (5 implants), median of "
          f"{max(3, args.runs)} fresh-process runs")
    for k, label in (("ours", "surgiplan trimmed point-to-plane ICP"), ("ref", "VTK vtkIterativeClosestPoint")):
        print(f"  {label:40s} per implant {med[k] * 1e3:8.1f} ms  all {tot[k]:6.2f} s  peak +{peak[k]:6.0f} MB  "
              f"worst position error {pos[k]:.3f} mm  worst axis error {ang[k]:.3f} deg")
    print(f"  ratio (ours / VTK) of the median per-implant time: {med["ours"] / med["ref"]:.3g}")


if __name__ == "__main__":
    main()
