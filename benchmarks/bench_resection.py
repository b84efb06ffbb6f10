"""Knee resection thickness: from the bone's vertices (numpy) vs cutting the mesh with VTK.

Bones: the knee sample's femur and tibia (``sample_path("knee", "small")``, label map ->
``segment_to_surface``), subdivided and decimated with fast-simplification to 200,000
triangles each. Cuts: the two plans of the knee demo (distal femur 9 and 11 mm above the
most distal condylar point; proximal tibia 9 mm below the higher plateau, 3 and 6 deg slope,
plan B with a 2 deg valgus tilt), built from the sample's ground-truth landmarks with
:func:`surgiplan.core.planning.knee_frame.knee_frame`; i.e. the four thickness evaluations
``measure_plan`` makes when two knee plans are compared.

* ours: :func:`surgiplan.core.planning.resection.resection_thickness` (signed distances of
  the vertices, per compartment), what the knee measurement uses now;
* reference: :func:`surgiplan.core.planning.resection.resect`, i.e. VTK
  ``clip_closed_surface`` of the kept and the removed parts (what the measurement ran before
  only to report the thickness); its thickness is read off the clipped removed mesh.

Each side runs in a fresh process, >= 3 runs; we report the median time of the four cuts
(median over 5 repeats in a run, then over runs), the ratio of medians, the peak RSS above the
process's baseline after imports, and the largest thickness difference (mm).

    .venv/bin/python benchmarks/bench_resection.py [--runs 3] [--triangles 200000]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench_common import bench_args, largest, medians, run_sides, sample_bone

CHILD = r"""
import json, sys, time, threading
import numpy as np, psutil, pyvista as pv
from surgiplan.core.planning.resection import resect, resection_thickness
kind, folder = sys.argv[1], sys.argv[2]
cuts = json.load(open(folder + "/cuts.json"))
bones = {b: pv.read(f"{folder}/{b}.vtp") for b in ("femur", "tibia")}
proc = psutil.Process(); base = proc.memory_info().rss; peak = [base]; stop = threading.Event()
def sample():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss); time.sleep(0.002)
th = threading.Thread(target=sample, daemon=True); th.start()
times, values = [], []
for rep in range(5):
    t0 = time.perf_counter(); values = []
    for c in cuts:
        mesh, o, n = bones[c["bone"]], np.array(c["origin"]), np.array(c["normal"])
        so, sn = np.array(c["split_origin"]), np.array(c["split_normal"])
        if kind == "ours":
            r = resection_thickness(mesh.points, o, n, so, sn, ("lateral", "medial"), 10.0)
            values.append([r.by_half_mm["lateral"], r.by_half_mm["medial"]])
        else:
            rp = np.asarray(resect(mesh, o, n).removed.points)
            depth, s = -(rp - o) @ n, (rp - so) @ sn
            values.append([max(0.0, float(depth[m].max())) if m.any() else 0.0 for m in (s >= 10.0, s < -10.0)])
    times.append(time.perf_counter() - t0)
stop.set(); th.join()
print(json.dumps({"median_s": float(np.median(times)), "peak_mb": (peak[0] - base) / 1e6, "values": values,
                  "triangles": {b: int(m.n_cells) for b, m in bones.items()}}))
"""


def make_inputs(folder: Path, triangles: int) -> None:
    import numpy as np

    from surgiplan.core.planning.knee_frame import cut_reference_point, knee_frame
    from surgiplan.core.planning.plan import Landmark
    from surgiplan.core.planning.resection import plane_from_angles
    from surgiplan.core.samples import sample_path

    bones = {}
    for name in ("femur", "tibia"):
        bones[name] = sample_bone("knee", name, triangles)
        bones[name].save(folder / f"{name}.vtp")
    gt = sample_path("knee", size="small").load_ground_truth()["landmarks"]
    L = {k: Landmark(np.array(v["position"], float)) for k, v in gt.items()}
    fr = knee_frame(L, "right")
    split_o = (fr.knee_femur + fr.knee_tibia) / 2
    distal = cut_reference_point(bones["femur"].points, fr, "femur")
    top = cut_reference_point(bones["tibia"].points, fr, "tibia")
    cuts = []
    for depth_f, slope, varus in ((9.0, 3.0, 0.0), (11.0, 6.0, -2.0)):
        o, n = plane_from_angles(distal, fr.femoral_axis, fr.anterior, depth_f, side="right", distal=True)
        cuts.append(("femur", o, n))
        o, n = plane_from_angles(top, fr.tibial_axis, fr.anterior, 9.0, varus, slope, side="right", distal=False)
        cuts.append(("tibia", o, n))
    (folder / "cuts.json").write_text(json.dumps([
        {"bone": b, "origin": o.tolist(), "normal": n.tolist(), "split_origin": split_o.tolist(),
         "split_normal": [-1.0, 0.0, 0.0]} for b, o, n in cuts]))


def main() -> None:
    a = bench_args(__doc__)
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        make_inputs(Path(tmp), a.triangles)
        res = run_sides(CHILD, a.runs, tmp)
    med, peak = medians(res), largest(res)
    diff = np.abs(np.array(res["ours"][0]["values"]) - np.array(res["ref"][0]["values"]))
    tri = res["ours"][0]["triangles"]
    print(f"bones: femur {tri['femur']} and tibia {tri['tibia']} triangles (knee sample); "
          "4 cuts (2 plans x distal femur + proximal tibia), thickness per compartment")
    print(f"{'':30}{'vertices (ours)':>16}{'VTK clipping':>14}{'ratio':>8}")
    print(f"{'4 cuts, median (ms)':30}{med['ours'] * 1e3:16.1f}{med['ref'] * 1e3:14.1f}"
          f"{med['ours'] / med['ref']:8.4f}")
    print(f"{'peak RSS above baseline (MB)':30}{peak['ours']:16.0f}{peak['ref']:14.0f}")
    print(f"thickness, vertices vs clipped removed mesh: max |diff| {diff.max():.4f} mm over {diff.size} values")


if __name__ == "__main__":
    main()
