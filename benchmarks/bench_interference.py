"""Implant-bone interference while dragging: surgiplan's precomputed bone field vs plain VTK.

Bone: the hip sample's pelvis (``sample_path("hip", "small")``, label map ->
``segment_to_surface``), subdivided and decimated with fast-simplification to
200,000 triangles. Implant: a 58 mm acetabular cup. A drag is simulated by 30
poses around the acetabulum (translations up to 4 mm, tilts up to 10 deg).

* ours: :class:`surgiplan.core.planning.interference.BoneField` built once per bone
  (reported separately as "precompute"), then per pose :func:`interference`
  (trilinear look-ups in the signed distance grid + exact refinement of the 32 best
  candidates with ``vtkImplicitPolyDataDistance``).
* reference: per pose, ``vtkImplicitPolyDataDistance.FunctionValue`` on the same
  implant sample points (surface + interior), i.e. the exact distances with no
  precomputation (what one would write with VTK alone).

Each side runs in a fresh process, >= 3 runs; we report the median per-pose time
(median over poses, then median over runs), the ratio of medians, the peak RSS
above the process's baseline after imports, and the agreement of penetration
volume (mm^3) and minimum distance (mm) with the exact reference.

    .venv/bin/python benchmarks/bench_interference.py [--runs 3] [--triangles 200000]

Target (issue 5): <= 50 ms per pose for a 200k-triangle bone and one implant.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench_common import bench_args, largest, medians, run_sides, sample_bone

CHILD = r"""
import json, sys, time, threading
import numpy as np, psutil, pyvista as pv
import vtk
from vtk.util.numpy_support import numpy_to_vtk, vtk_to_numpy
from surgiplan.core.planning.interference import BoneField, ImplantSamples, interference
from surgiplan.core.planning.catalog import load_catalog
from surgiplan.core.planning import placement as pl, transforms as tf
kind, bone_path, poses_path = sys.argv[1], sys.argv[2], sys.argv[3]
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.002)
th = threading.Thread(target=sample, daemon=True); th.start()
bone = pv.read(bone_path)
poses = np.array(json.load(open(poses_path)))
g = load_catalog(include_user=False).get("hip_cup").geometry("58")
s = ImplantSamples.from_meshes(list(g.parts.values()))
times, vols, dists = [], [], []
t0 = time.perf_counter()
if kind == "ours":
    field = BoneField(bone)
    pre = time.perf_counter() - t0
    for T in poses:
        t = time.perf_counter(); r = interference(field, s, T); times.append(time.perf_counter() - t)
        vols.append(r.penetration_volume_mm3)
        dists.append(r.min_distance_mm if r.penetration_volume_mm3 == 0 else -r.max_penetration_mm)
else:
    f = vtk.vtkImplicitPolyDataDistance(); f.SetInput(bone)
    pre = time.perf_counter() - t0
    for T in poses:
        t = time.perf_counter()
        surf = s.surface @ T[:3, :3].T + T[:3, 3]; inter = s.interior @ T[:3, :3].T + T[:3, 3]
        out = vtk.vtkDoubleArray(); f.FunctionValue(numpy_to_vtk(np.ascontiguousarray(surf), deep=True), out)
        ds = vtk_to_numpy(out)
        out2 = vtk.vtkDoubleArray(); f.FunctionValue(numpy_to_vtk(np.ascontiguousarray(inter), deep=True), out2)
        di = vtk_to_numpy(out2)
        vol = float((di < 0).sum() * s.cell_volume)
        times.append(time.perf_counter() - t)
        vols.append(vol); dists.append(float(ds.min()) if vol == 0 else float(ds.min()))
stop.set(); th.join()
print(json.dumps({"median_s": float(np.median(times)), "max_s": float(np.max(times)), "pre_s": pre,
                  "peak_mb": (peak[0] - base) / 1e6, "vols": vols, "dists": dists,
                  "n_surface": int(len(s.surface)), "n_interior": int(len(s.interior))}))
"""


def make_inputs(folder: Path, triangles: int) -> tuple[Path, Path, int]:
    import numpy as np

    from surgiplan.core.planning import placement as pl
    from surgiplan.core.planning import transforms as tf
    from surgiplan.core.samples import sample_path

    bone = sample_bone("hip", "pelvis", triangles)
    bone_path = folder / "pelvis.vtp"
    bone.save(bone_path)
    p = sample_path("hip", size="small")
    gt = p.load_ground_truth()
    c = np.array(gt["landmarks"]["acetabular_centre_left"]["position"])
    frame = pl.pelvic_frame(*(gt["landmarks"][k]["position"] for k in (
        "asis_left", "asis_right", "pubic_tubercle_left", "pubic_tubercle_right")))
    rng = np.random.default_rng(5)
    poses = []
    for _ in range(30):
        t = pl.cup_pose(c + rng.uniform(-4, 4, 3), 40 + rng.uniform(-10, 10), 15 + rng.uniform(-10, 10),
                        "left", frame)
        poses.append(tf.check_rigid(t).tolist())
    poses_path = folder / "poses.json"
    poses_path.write_text(json.dumps(poses))
    return bone_path, poses_path, int(bone.n_cells)


def main() -> None:
    a = bench_args(__doc__)
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        bone, poses, n = make_inputs(Path(tmp), a.triangles)
        res = run_sides(CHILD, a.runs, str(bone), str(poses))
    med, pre, peak = medians(res), medians(res, "pre_s"), largest(res)
    worst = largest(res, "max_s")
    ov, rv = np.array(res["ours"][0]["vols"]), np.array(res["ref"][0]["vols"])
    od, rd = np.array(res["ours"][0]["dists"]), np.array(res["ref"][0]["dists"])
    print(f"bone: {n} triangles (hip sample pelvis); implant: 58 mm cup, "
          f"{res['ours'][0]['n_surface']} surface + {res['ours'][0]['n_interior']} interior samples; 30 poses")
    print(f"{'':28}{'ours':>12}{'VTK implicit':>14}{'ratio':>8}")
    print(f"{'per pose, median (ms)':28}{med['ours'] * 1e3:12.1f}{med['ref'] * 1e3:14.1f}"
          f"{med['ours'] / med['ref']:8.3f}")
    print(f"{'per pose, worst (ms)':28}{worst['ours'] * 1e3:12.1f}{worst['ref'] * 1e3:14.1f}")
    print(f"{'precompute per bone (s)':28}{pre['ours']:12.2f}{pre['ref']:14.2f}")
    print(f"{'peak RSS above baseline (MB)':28}{peak['ours']:12.0f}{peak['ref']:14.0f}")
    print(f"penetration volume vs exact: median |diff| {np.median(np.abs(ov - rv)):.1f} mm^3 "
          f"({np.median(np.abs(ov - rv) / np.maximum(rv, 1)) * 100:.2f} %), max {np.max(np.abs(ov - rv)):.1f} mm^3")
    print(f"min distance / max penetration vs exact: max |diff| {np.max(np.abs(od - rd)):.3f} mm")
    print(f"target <= 50 ms per pose: {'met' if med['ours'] <= 0.05 and worst['ours'] <= 0.05 else 'NOT met'}")


if __name__ == "__main__":
    main()
