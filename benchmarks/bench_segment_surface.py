"""Benchmark: one bone from a 512 x 512 x 600 CT to a 200k-triangle model, ours vs the libraries.

The CT is generated here (int16 HU, 0.5 mm voxels): soft tissue around 40 HU
with noise, a femur-like bone (cortex 1200 HU, marrow 300 HU: shaft, neck and a
spherical head) and a smaller separate bone, so "largest island" has work to
do. Steps, each timed in a fresh process (``python bench_segment_surface.py
--child STEP``), median of ``--runs`` (>= 3) runs:

| step | ours | fastest library call for it |
| --- | --- | --- |
| threshold | ``threshold(volume, 300, None)`` | ``numpy: arr >= 300`` |
| largest island | ``keep_largest`` | SimpleITK ConnectedComponent + RelabelComponent + BinaryThreshold (full grid) |
| surface | ``mask_to_surface(smooth=False)`` | vtkFlyingEdges3D on the same padded crop |
| smoothing | ``smooth_surface`` | vtkWindowedSincPolyDataFilter, same settings |
| decimation | ``decimate(mesh, 200_000)`` (incl. manifold fix) | ``fast_simplification.simplify`` |
| pipeline | all of ours in one process, volume already in memory | (target <= 5 s) |

Peak memory is the process's peak RSS above its baseline after imports and
after loading the volume for the steps, and above the baseline *before*
loading for the pipeline (target <= 4 x the 315 MB int16 volume).

Run: ``.venv/bin/python benchmarks/bench_segment_surface.py [--runs 3] [--shape 600 512 512]``
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

import numpy as np

SPACING = (0.5, 0.5, 0.5)
STEPS = ("threshold", "islands", "surface", "smoothing", "decimation")


def make_ct(shape: tuple[int, int, int], path: Path) -> None:
    """Synthetic CT [k, j, i] int16 written as .npy (generated slab by slab to bound memory)."""
    nk, nj, ni = shape
    rng = np.random.default_rng(0)
    arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.int16, shape=shape)
    j, i = np.ogrid[:nj, :ni]
    x, y = (i - ni / 2) * SPACING[0], (j - nj / 2) * SPACING[1]
    head_c = np.array([40.0, 0.0, (nk * SPACING[2]) * 0.78])
    for k in range(nk):
        z = k * SPACING[2]
        sl = rng.normal(40, 15, (nj, ni)).astype(np.float32)
        # shaft: a tube along z up to 75 % height, offset to the right
        sx, sy = x + 20.0, y
        r = np.sqrt(sx**2 + sy**2)
        if z < nk * SPACING[2] * 0.75:
            sl[r <= 14] = 300
            sl[(r > 9) & (r <= 14)] = 1200
        # neck from the shaft top to the head, and the head sphere (radius 24 mm)
        t = np.clip(((x + 20) * 60 + (z - nk * SPACING[2] * 0.7) * 0) / 3600, 0, 1)
        neck_centre_z = nk * SPACING[2] * 0.7 + t * (head_c[2] - nk * SPACING[2] * 0.7)
        neck = ((np.abs(z - neck_centre_z) < 11) & (x > -20) & (x < head_c[0]) & (np.abs(y) < 11))
        sl[neck] = 1000
        dz = z - head_c[2]
        if abs(dz) < 24:
            rr = np.sqrt((x - head_c[0]) ** 2 + y**2 + dz**2)
            sl[rr <= 24] = 300
            sl[(rr > 20) & (rr <= 24)] = 1200
        # a smaller separate bone (patella-like disc)
        dz2 = z - nk * SPACING[2] * 0.3
        if abs(dz2) < 10:
            sl[((x - 60) ** 2 + (y + 50) ** 2) <= 225] = 900
        arr[k] = np.round(sl).astype(np.int16)
    arr.flush()
    del arr


def _rss_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _rss_now_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1024**2


def child(step: str, impl: str, data: Path) -> dict:
    """Run one measurement in this (fresh) process; returns seconds and MB."""
    import fast_simplification
    import pyvista as pv
    import SimpleITK as sitk
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkWindowedSincPolyDataFilter

    from surgiplan.core.segmentation import islands
    from surgiplan.core.segmentation.patch import changed_box
    from surgiplan.core.segmentation.threshold import threshold
    from surgiplan.core.surfaces import decimate, mask_to_surface, smooth_surface
    from surgiplan.core.surfaces.decimate import triangles
    from surgiplan.core.surfaces.extract import _init_smp

    _init_smp()
    base0 = _rss_now_mb()
    if step == "pipeline":
        t0 = time.perf_counter()
        arr = np.load(data)
        t_load = time.perf_counter() - t0
        from surgiplan.core.imaging import Volume

        vol = Volume(arr, SPACING)
        t0 = time.perf_counter()
        m = threshold(vol, 300, None)
        m = islands.keep_largest(m)
        surf = mask_to_surface(m, vol.spacing, vol.origin, vol.direction, smooth=True)
        del m
        dec = decimate(surf, 200_000)
        dt = time.perf_counter() - t0
        return {"seconds": dt, "load_seconds": t_load, "peak_mb": _rss_peak_mb() - base0,
                "triangles": int(dec.n_cells), "volume_mb": arr.nbytes / 1024**2}
    arr = np.load(data)
    # inputs of each step prepared outside the timed region
    pre_mask = arr >= 300 if step in ("islands", "surface", "smoothing", "decimation") else None
    if step in ("surface", "smoothing", "decimation"):
        pre_mask = islands.keep_largest(pre_mask)
    raw = smooth = None
    if step in ("smoothing", "decimation"):
        raw = mask_to_surface(pre_mask, SPACING, smooth=False)
        if step == "decimation":
            smooth = smooth_surface(raw)
    base = _rss_now_mb()
    _ = base  # peak is reported over the post-import baseline
    t0 = time.perf_counter()
    if step == "threshold":
        out = threshold(arr, 300, None) if impl == "ours" else arr >= 300
    elif step == "islands":
        if impl == "ours":
            out = islands.keep_largest(pre_mask)
        else:
            img = sitk.GetImageFromArray(pre_mask.view(np.uint8))
            rel = sitk.RelabelComponent(sitk.ConnectedComponent(img, True), sortByObjectSize=True)
            out = sitk.GetArrayViewFromImage(sitk.BinaryThreshold(rel, 1, 1, 1, 0))
    elif step == "surface":
        if impl == "ours":
            out = mask_to_surface(pre_mask, SPACING, smooth=False)
        else:
            box = changed_box(pre_mask)
            sub = np.pad(pre_mask[box].view(np.uint8), 1)
            img = pv.ImageData(dimensions=sub.shape[::-1], spacing=SPACING)
            img.point_data["m"] = sub.ravel()
            fe = vtkFlyingEdges3D()
            fe.SetInputData(img)
            fe.SetValue(0, 0.5)
            fe.ComputeNormalsOff()
            fe.ComputeGradientsOff()
            fe.ComputeScalarsOff()
            fe.Update()
            out = fe.GetOutput()
    elif step == "smoothing":
        if impl == "ours":
            out = smooth_surface(raw)
        else:
            f = vtkWindowedSincPolyDataFilter()
            f.SetInputData(raw)
            f.SetNumberOfIterations(20)
            f.SetPassBand(0.01)
            f.BoundarySmoothingOff()
            f.FeatureEdgeSmoothingOff()
            f.NonManifoldSmoothingOn()
            f.NormalizeCoordinatesOn()
            f.Update()
            out = f.GetOutput()
    elif step == "decimation":
        if impl == "ours":
            out = decimate(smooth, 200_000)
        else:
            out = fast_simplification.simplify(
                np.asarray(smooth.points, np.float64), triangles(smooth), target_count=200_000, agg=7.0)
    dt = time.perf_counter() - t0
    del out
    return {"seconds": dt, "peak_mb": _rss_peak_mb() - base0}


def run_child(step: str, impl: str, data: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", step, "--impl", impl, "--data", str(data)]
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"{step}/{impl} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shape", type=int, nargs=3, default=(600, 512, 512), metavar=("K", "J", "I"))
    ap.add_argument("--child")
    ap.add_argument("--impl", default="ours")
    ap.add_argument("--data")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.impl, Path(a.data))))
        return
    runs = max(3, a.runs)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "ct.npy"
        t0 = time.perf_counter()
        make_ct(tuple(a.shape), data)
        vol_mb = np.prod(a.shape) * 2 / 1024**2
        print(f"synthetic CT {a.shape[2]} x {a.shape[1]} x {a.shape[0]} int16 ({vol_mb:.0f} MB) "
              f"made in {time.perf_counter() - t0:.1f} s; {runs} runs per cell, fresh process each, "
              f"{os.cpu_count()} cores")
        print(f"{'step':<12} {'ours s':>8} {'library s':>10} {'ratio':>6} {'ours peak MB':>13} {'lib peak MB':>12}")
        rows = {}
        for step in STEPS:
            ours = [run_child(step, "ours", data) for _ in range(runs)]
            ref = [run_child(step, "library", data) for _ in range(runs)]
            mo = statistics.median(r["seconds"] for r in ours)
            mr = statistics.median(r["seconds"] for r in ref)
            po = statistics.median(r["peak_mb"] for r in ours)
            pr = statistics.median(r["peak_mb"] for r in ref)
            rows[step] = (mo, mr)
            print(f"{step:<12} {mo:8.3f} {mr:10.3f} {mo / mr:6.2f} {po:13.0f} {pr:12.0f}")
        pipe = [run_child("pipeline", "ours", data) for _ in range(runs)]
        mp = statistics.median(r["seconds"] for r in pipe)
        pk = statistics.median(r["peak_mb"] for r in pipe)
        ml = statistics.median(r["load_seconds"] for r in pipe)
        print(f"pipeline (threshold + largest island + flying edges + smoothing + decimation to "
              f"{pipe[0]['triangles']} triangles): {mp:.2f} s (target <= 5 s; .npy load {ml:.2f} s not included), "
              f"peak {pk:.0f} MB above the post-import baseline incl. the {vol_mb:.0f} MB volume "
              f"= {pk / vol_mb:.2f} x the volume (target <= 4 x)")


if __name__ == "__main__":
    main()
