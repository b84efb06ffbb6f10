"""Benchmark: the bone pipeline's island steps, and ``surgiplan segment`` + ``surgiplan model``, vs the libraries.

The CT is bench_segment_surface's synthetic 512 x 512 x 600 int16 (a femur-like bone and a
separate small bone in noisy soft tissue). Each measurement runs in a fresh process
(``--child STEP IMPL``), median of ``--runs`` (>= 3):

* label: ours ``islands.label_components(mask)`` (labels + sizes); library: SimpleITK
  ConnectedComponent + RelabelComponent + GetArrayFromImage.
* remove_small: ours ``islands.remove_small(mask, 1 mL)``; library: SimpleITK ConnectedComponent +
  RelabelComponent(minimum object size) + BinaryThreshold.
* steps: each step in one process (imports first), ours (the core calls the two commands make)
  beside the library's; steps without a library counterpart (the plausibility check, reading
  the segmentation back, debris removal, the watertight report) are listed on their own.
* startup: CPU of ``surgiplan segment`` + ``surgiplan model`` on a 40 x 48 x 48 CT (start-up,
  imports and argument parsing, almost no work) beside one interpreter importing the library
  script's modules.
* pipeline: ours ``surgiplan segment SCAN --preset bone --fixed-threshold`` (200 HU, the
  library's surface) then ``surgiplan model`` (two processes, start-up included); library, one
  process: SimpleITK read, threshold 200 HU, ConnectedComponent + Relabel + largest, VTK flying
  edges, windowed sinc, fast-simplification to 200k, STL. The library's calls are timed after its
  imports; the "lib script" line is its whole process (interpreter start-up and imports included,
  as ours are).
* pipeline_pv: the same with the default ``bone`` (partial-volume surface, issue 23), which has
  no library counterpart: its extra work is reported, not hidden. In ``steps`` it is the
  ``bone_default`` line, left out of the sums.

Peak RSS (MB) of each child above its baseline after imports; for the pipeline also each
process's CPU time (user + sys, from ``wait4``), which a loaded machine disturbs far less than
the wall clock, and its absolute peak RSS. Our children run with ``NUMPY_MADVISE_HUGEPAGE=0`` as
``surgiplan`` sets it (see ``surgiplan/cli/main.py``); the library's with the environment as
given (``--lib-hugepage 0`` to give it the same). Timings on the shared 2-core machine are
noisy: compare the ratio, not the seconds, and read the CPU columns beside them.

Measured (7 December 2026, 512 x 512 x 600, median of 3 interleaved runs, shared 2-core machine at
load 6-11: read the CPU columns; wall ratios 2.6-3.2 are the load's). Pipeline CPU, ours / library
calls / library whole process:

* 77afd03, before the table speed-up: 7.86 s (segment 5.8, model 2.0) / 2.59 s / 3.22 s: 3.03x, 2.44x;
  bone step 4.37 s vs 1.75 s threshold + cc (2.49x); peak RSS 1129 MB.
* 21e3ece, body and table masks by shifted views, slice by slice: 5.77 s (segment 3.8, model 2.1) /
  2.55 s / 3.23 s: 2.26x, 1.79x; bone step 2.14 s vs 1.66 s (1.29x); peak RSS 853 MB.
* bda5024 (+ no body or table mask without air slices; + contrast blood touching the skeleton,
  contrast_organs.attached_pools, ~2.5 s on this CT): 8.09 s (segment 5.8, model 2.3) / 2.57 s /
  3.31 s: 3.15x, 2.44x; bone step 4.16 s vs 1.80 s (2.32x).
* Other steps at bda5024 (CPU, ours / library): read 0.25 / 0.27, write_seg 0.20 / 0.19 (1.08x),
  surface 0.38 / 0.64, decimate 0.29 / 0.31 (0.95x; 1.15-1.21x before d5b8cca's sort), write_mesh
  0.04 / 0.17; start-up of segment + model 1.70 s vs the library's imports 0.54 s (3.1x in every run:
  scipy.ndimage 0.33 s, typer's pydantic adapters 0.1 s, a second interpreter with numpy and SimpleITK).
* pipeline_pv (default partial-volume bone): 10.71 -> 9.51 -> 11.61 s CPU (4.04x -> 3.43x -> 4.20x).
* 068b9c5, a second run (load 5-7): pipeline 7.94 s / 3.11 s / 3.91 s: 2.55x, 2.03x; bone 4.11 / 1.86 s;
  decimate 0.34 / 0.24 s (1.41x) and write_seg 0.22 / 0.16 s (1.42x): steps of ~0.3 s move by +-30 %
  from run to run here, so their ratios (0.95-1.42x) are within the noise.

8 December 2026 (helper SPA, issue 23), load 10-14 on 2 CPUs, median of 3, CPU (user + sys), before
(f672b84) -> after 4cfe738 + ecd9c8c + db091cf (the bone preset's contrast
tests on tiles of the distance maps, a one-sided integer threshold in int16, a candidate's region crop by
crop; every mask, doubt, seg.nrrd and STL identical on the real CTs):

* pipeline: 8.83 s (segment 6.3, model 2.1) / library calls 2.87 s (3.08x) -> 5.99 s (segment 3.9,
  model 2.0) / 2.44 s (2.46x); vs the library's whole process 3.69 -> 3.12 s CPU: 2.40x -> 1.92x;
  peak RSS of segment 1041 -> 820 MB.
* bone step: 4.49 s vs 2.18 s threshold + cc (2.06x) -> 2.28 s vs 1.77 s (1.29x); in it (cProfile,
  CPU) attached_pools 2.57 -> 1.35 s (margin 1.58 -> 0.46 s, the femur core's distances 0.45 ->
  0.39 s), contrast_pieces 0.56 -> 0.23 s, the threshold 0.39 -> 0.10 s.
* start-up unchanged: 1.77 s (segment 0.90, model 0.86) vs 0.55 s. In a fresh interpreter: numpy
  0.11 s, + scipy.ndimage 0.38 s (scipy 1.18's array_api_compat imports numpy.f2py/testing/ma;
  imported at module level by presets, morphology, plausibility, seeded), planning package 0.13 s
  (pydantic case schema, via plausibility.is_bone_name), typer 0.15 s + its pydantic adapters.
* other steps (CPU, ours / library): read 0.24 / 0.22, write_seg 0.19 / 0.15, surface 0.38 / 0.58,
  decimate 0.30 / 0.24, write_mesh 0.04 / 0.13; check 0.39, read_seg 0.10, debris 0.13, report
  0.14 s with no library counterpart.

Run: ``.venv/bin/python benchmarks/bench_segment_model.py [--runs 3] [--shape 600 512 512] [--steps label ...]
[--lib-hugepage 0]``
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

HERE = Path(__file__).resolve().parent
STEPS = ("label", "remove_small", "startup", "pipeline", "steps", "pipeline_pv")


def _rss_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu() -> float:
    """CPU seconds (user + sys, all threads) of this process so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _run_measured(cmd: list[str], env: dict | None = None, timeout: float = 1800) -> dict:
    """Run ``cmd``; its stdout, and from ``wait4`` its CPU seconds (user + sys) and peak RSS (MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"timed out: {' '.join(cmd)}")
            time.sleep(0.02)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode:
            raise SystemExit(f"{' '.join(cmd[:6])} failed:\n{err.read().decode(errors='replace')[-3000:]}")
        return {"stdout": out.read().decode(), "cpu": ru.ru_utime + ru.ru_stime, "rss_mb": ru.ru_maxrss / 1024.0}


def _startup(impl: str, work: Path) -> dict:
    """Start-up: ours, ``surgiplan segment`` and ``surgiplan model`` on a 40 x 48 x 48 CT (almost
    no work: interpreter, imports, argument parsing); the library's, one interpreter importing
    what its script uses. CPU (user + sys) of each process from ``wait4``."""
    if impl == "lib":
        r = _run_measured([sys.executable, "-c", "import numpy, SimpleITK, pyvista, fast_simplification; "
                           "from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkWindowedSincPolyDataFilter"])
        return {"seconds": r["cpu"], "peak_mb": float("nan"), "cpu": r["cpu"]}
    import SimpleITK as sitk

    ct = work / "startup_ct.nrrd"
    if not ct.exists():
        a = np.full((40, 48, 48), -1000, np.int16)
        a[5:35, 8:40, 8:40] = 40
        a[10:30, 14:34, 14:34] = 900  # an 8 mL bone block
        img = sitk.GetImageFromArray(a)
        img.SetSpacing((1.0, 1.0, 1.0))
        sitk.WriteImage(img, str(ct))
    exe = [sys.executable, "-m", "surgiplan.cli.main"]
    seg = work / "startup.seg.nrrd"
    s = _run_measured([*exe, "segment", str(ct), "--preset", "bone", "--fixed-threshold", "-o", str(seg),
                       "--overwrite"])
    m = _run_measured([*exe, "model", str(seg), "-o", str(work / "startup_models"), "--overwrite"])
    return {"seconds": s["cpu"] + m["cpu"], "peak_mb": float("nan"), "cpu": s["cpu"] + m["cpu"],
            "segment_cpu": s["cpu"], "model_cpu": m["cpu"]}


def child(step: str, impl: str, data: Path, work: Path) -> dict:
    import SimpleITK as sitk

    if step == "startup":
        return _startup(impl, work)
    if step in ("pipeline", "pipeline_pv") and impl == "ours":
        exe = [sys.executable, "-m", "surgiplan.cli.main"]
        seg = work / "bone.seg.nrrd"
        surface = ["--fixed-threshold"] if step == "pipeline" else []  # the library's surface, or ours
        t0 = time.perf_counter()
        seg_run = _run_measured([*exe, "segment", str(data.with_suffix(".nrrd")), "--preset", "bone", *surface,
                                 "-o", str(seg), "--overwrite"])
        t_seg = time.perf_counter() - t0
        mod_run = _run_measured([*exe, "model", str(seg), "-o", str(work / "models"), "--decimate", "200000",
                                 "--overwrite"])
        return {"seconds": time.perf_counter() - t0, "segment_seconds": t_seg, "peak_mb": float("nan"),
                "cpu": seg_run["cpu"] + mod_run["cpu"], "segment_cpu": seg_run["cpu"], "model_cpu": mod_run["cpu"],
                "rss_mb": max(seg_run["rss_mb"], mod_run["rss_mb"]), "segment_rss_mb": seg_run["rss_mb"],
                "model_rss_mb": mod_run["rss_mb"]}
    if step == "steps":
        return _steps(impl, data, work)
    if step in ("pipeline", "pipeline_pv"):
        import fast_simplification
        import pyvista as pv
        from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkWindowedSincPolyDataFilter

        base = _rss_peak_mb()
        t0 = time.perf_counter()
        c0 = _cpu()
        img = sitk.ReadImage(str(data.with_suffix(".nrrd")))
        m = sitk.BinaryThreshold(img, 200, 32767, 1, 0)
        cc = sitk.RelabelComponent(sitk.ConnectedComponent(m, True), sortByObjectSize=True)
        keep = sitk.BinaryThreshold(cc, 1, 1, 1, 0)
        arr = np.pad(sitk.GetArrayViewFromImage(keep), 1)
        im = pv.ImageData(dimensions=arr.shape[::-1], spacing=img.GetSpacing())
        im.point_data["m"] = arr.ravel()
        fe = vtkFlyingEdges3D()
        fe.SetInputData(im)
        fe.SetValue(0, 0.5)
        fe.Update()
        ws = vtkWindowedSincPolyDataFilter()
        ws.SetInputData(fe.GetOutput())
        ws.SetNumberOfIterations(20)
        ws.SetPassBand(0.01)
        ws.NormalizeCoordinatesOn()
        ws.Update()
        surf = pv.wrap(ws.GetOutput())
        pts, faces = fast_simplification.simplify(surf.points, surf.faces.reshape(-1, 4)[:, 1:],
                                                  target_reduction=max(0.0, 1 - 200_000 / surf.n_cells))
        pv.PolyData(pts, np.hstack([np.full((len(faces), 1), 3), faces])).save(str(work / "lib.stl"))
        return {"seconds": time.perf_counter() - t0, "peak_mb": _rss_peak_mb() - base, "cpu": _cpu() - c0,
                "rss_mb": _rss_peak_mb()}
    from surgiplan.core.segmentation import islands

    arr = np.load(data)
    mask = arr >= 300
    del arr
    base = _rss_peak_mb()
    t0 = time.perf_counter()
    if step == "label":
        if impl == "ours":
            lab, sizes = islands.label_components(mask)
        else:
            cc = sitk.RelabelComponent(sitk.ConnectedComponent(sitk.GetImageFromArray(mask.view(np.uint8)), True),
                                       sortByObjectSize=True)
            lab = sitk.GetArrayFromImage(cc)
        n = int(lab.max())
    else:
        vox_ml = 1000.0 / 0.125  # 1 mL in 0.5 mm voxels
        if impl == "ours":
            out = islands.remove_small(mask, 1000.0, (0.5, 0.5, 0.5))
        else:
            rel = sitk.RelabelComponentImageFilter()
            rel.SetSortByObjectSize(True)
            rel.SetMinimumObjectSize(int(vox_ml))
            keep = sitk.BinaryThreshold(rel.Execute(sitk.ConnectedComponent(
                sitk.GetImageFromArray(mask.view(np.uint8)), True)), 1, 2**31 - 1, 1, 0)
            out = sitk.GetArrayViewFromImage(keep).view(bool)
        n = int(out.sum())
    return {"seconds": time.perf_counter() - t0, "peak_mb": _rss_peak_mb() - base, "n": n}


#: (our step, the library call(s) it stands for) in ``--steps steps``
STEP_PAIRS = (("read", "read"), ("bone", "threshold+cc"), ("check", None), ("write_seg", "write_seg"),
              ("read_seg", None), ("surface", "surface"), ("debris", None), ("decimate", "decimate"),
              ("report", None), ("write_mesh", "write_mesh"), ("bone_default", None))
#: steps timed but left out of the sums: the default ``bone`` preset (partial-volume surface, issue 23)
#: has no library counterpart; the pipeline's like-for-like run uses ``--fixed-threshold``
EXTRA = ("bone_default",)


def _steps(impl: str, data: Path, work: Path) -> dict:
    """Each step of the pipeline timed in one process (imports done first): ours are the core calls
    ``surgiplan segment``/``model`` make, the library's the calls of the one-process script."""
    import fast_simplification
    import pyvista as pv
    import SimpleITK as sitk
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkWindowedSincPolyDataFilter

    from surgiplan.core.segmentation import read_segmentation, write_segmentation
    from surgiplan.core.segmentation.plausibility import check_anatomy, check_bone_segments
    from surgiplan.core.segmentation.presets import apply_preset
    from surgiplan.core.segmentation.scan_source import load_scan
    from surgiplan.core.surfaces.decimate import decimate
    from surgiplan.core.surfaces.extract import segment_to_surface
    from surgiplan.core.surfaces.mesh_io import write_mesh
    from surgiplan.core.surfaces.repair import remove_debris, watertight_report

    t: dict[str, float] = {}
    cpu = {"last": time.process_time()}

    def tick(name, t0):
        t[name] = time.perf_counter() - t0
        now = time.process_time()  # CPU of all threads, user + sys
        t[name + "_cpu"] = now - cpu["last"]
        cpu["last"] = now
        return time.perf_counter()

    nrrd = data.with_suffix(".nrrd")
    t0 = time.perf_counter()
    cpu["last"] = time.process_time()
    if impl == "ours":
        vol = load_scan(nrrd)
        t0 = tick("read", t0)
        seg = apply_preset(vol, "bone", partial_volume=False)  # 200 HU, as the library's threshold
        t0 = tick("bone", t0)
        check_bone_segments(vol, seg)
        check_anatomy(vol, seg)
        t0 = tick("check", t0)
        write_segmentation(seg, work / "steps.seg.nrrd")
        t0 = tick("write_seg", t0)
        seg = read_segmentation(work / "steps.seg.nrrd")
        t0 = tick("read_seg", t0)
        mesh = segment_to_surface(seg, "bone", smooth=True)
        t0 = tick("surface", t0)
        mesh, _ = remove_debris(mesh, min_volume_mm3=10.0, min_fraction=0.01)
        t0 = tick("debris", t0)
        mesh = decimate(mesh, 200_000)
        t0 = tick("decimate", t0)
        watertight_report(mesh)
        t0 = tick("report", t0)
        write_mesh(mesh, work / "steps.stl", frame="LPS", name="bone")
        t0 = tick("write_mesh", t0)
        apply_preset(vol, "bone")  # the default bone (partial-volume surface): reported, not in the sums
        tick("bone_default", t0)
    else:
        img = sitk.ReadImage(str(nrrd))
        t0 = tick("read", t0)
        m = sitk.BinaryThreshold(img, 200, 32767, 1, 0)
        cc = sitk.RelabelComponent(sitk.ConnectedComponent(m, True), sortByObjectSize=True)
        keep = sitk.BinaryThreshold(cc, 1, 1, 1, 0)
        arr = sitk.GetArrayFromImage(keep)
        t0 = tick("threshold+cc", t0)
        out = sitk.GetImageFromArray(arr)
        out.CopyInformation(img)
        sitk.WriteImage(out, str(work / "lib.seg.nrrd"), True)
        t0 = tick("write_seg", t0)
        arr = np.pad(arr, 1)
        im = pv.ImageData(dimensions=arr.shape[::-1], spacing=img.GetSpacing())
        im.point_data["m"] = arr.ravel()
        fe = vtkFlyingEdges3D()
        fe.SetInputData(im)
        fe.SetValue(0, 0.5)
        fe.Update()
        ws = vtkWindowedSincPolyDataFilter()
        ws.SetInputData(fe.GetOutput())
        ws.SetNumberOfIterations(20)
        ws.SetPassBand(0.01)
        ws.NormalizeCoordinatesOn()
        ws.Update()
        surf = pv.wrap(ws.GetOutput())
        t0 = tick("surface", t0)
        pts, faces = fast_simplification.simplify(surf.points, surf.faces.reshape(-1, 4)[:, 1:],
                                                  target_reduction=max(0.0, 1 - 200_000 / surf.n_cells))
        t0 = tick("decimate", t0)
        pv.PolyData(pts, np.hstack([np.full((len(faces), 1), 3), faces])).save(str(work / "lib.stl"))
        tick("write_mesh", t0)
    t["seconds"] = sum(v for k, v in t.items() if not k.endswith("_cpu") and not k.startswith(EXTRA))
    t["cpu"] = sum(v for k, v in t.items() if k.endswith("_cpu") and not k.startswith(EXTRA))
    t["peak_mb"] = float("nan")
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shape", type=int, nargs=3, default=(600, 512, 512))
    ap.add_argument("--steps", nargs="*", default=list(STEPS))
    ap.add_argument("--child", nargs=4, metavar=("STEP", "IMPL", "DATA", "WORK"))
    ap.add_argument("--lib-hugepage", choices=("default", "0", "1"), default="default",
                    help="NUMPY_MADVISE_HUGEPAGE for the library's children (ours get 0, as surgiplan sets it)")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], a.child[1], Path(a.child[2]), Path(a.child[3]))))
        return
    sys.path.insert(0, str(HERE))
    from bench_segment_surface import SPACING, make_ct

    with tempfile.TemporaryDirectory() as td:
        data = Path(td) / "ct.npy"
        make_ct(tuple(a.shape), data)
        if {"pipeline", "pipeline_pv", "steps"} & set(a.steps):
            import SimpleITK as sitk

            img = sitk.GetImageFromArray(np.load(data, mmap_mode="r")[...])
            img.SetSpacing(SPACING)
            sitk.WriteImage(img, str(data.with_suffix(".nrrd")), False)  # raw: the read is what we time
            del img
        envs = {"ours": dict(os.environ, NUMPY_MADVISE_HUGEPAGE="0"), "lib": dict(os.environ)}
        if a.lib_hugepage != "default":
            envs["lib"]["NUMPY_MADVISE_HUGEPAGE"] = a.lib_hugepage
        print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs; "
              f"library NUMPY_MADVISE_HUGEPAGE={envs['lib'].get('NUMPY_MADVISE_HUGEPAGE', 'unset')}")
        print(f"{'step':14s} {'ours s':>8s} {'lib s':>8s} {'ratio':>6s} {'ours MB':>8s} {'lib MB':>8s}")
        for step in a.steps:
            res: dict[str, list] = {"ours": [], "lib": []}
            for _ in range(max(3, a.runs)):
                for impl in ("ours", "lib"):  # interleaved: the load of a shared machine hits both alike
                    w0 = time.perf_counter()
                    out = _run_measured([sys.executable, __file__, "--child", step, impl, str(data), td],
                                        env=envs[impl])
                    r = json.loads(out["stdout"].strip().splitlines()[-1])
                    r["proc_seconds"], r["proc_cpu"] = time.perf_counter() - w0, out["cpu"]
                    r.setdefault("cpu", out["cpu"])
                    r.setdefault("rss_mb", out["rss_mb"])
                    res[impl].append(r)
            if step == "steps":
                _print_steps(res)
                continue
            med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
            mb = {k: max(r["peak_mb"] for r in v) for k, v in res.items()}
            extra = ""
            if step in ("pipeline", "pipeline_pv"):
                extra = f"  (segment alone {statistics.median(r['segment_seconds'] for r in res['ours']):.1f} s)"
            if step == "startup":
                sc = statistics.median(r["segment_cpu"] for r in res["ours"])
                mc = statistics.median(r["model_cpu"] for r in res["ours"])
                extra = f"  CPU s (segment {sc:.2f} s, model {mc:.2f} s); library: one process importing its modules"
            print(f"{step:14s} {med['ours']:8.2f} {med['lib']:8.2f} {med['ours'] / med['lib']:6.2f} "
                  f"{mb['ours']:8.0f} {mb['lib']:8.0f}{extra}", flush=True)
            if step in ("pipeline", "pipeline_pv"):
                cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in res.items()}
                o = res["ours"]
                print(f"{'  CPU s (u+s)':14s} {cpu['ours']:8.2f} {cpu['lib']:8.2f} {cpu['ours'] / cpu['lib']:6.2f}"
                      f"  (segment {statistics.median(r['segment_cpu'] for r in o):.1f} s, model "
                      f"{statistics.median(r['model_cpu'] for r in o):.1f} s)")
                print(f"{'  peak RSS MB':14s} {max(r['rss_mb'] for r in o):8.0f} "
                      f"{max(r['rss_mb'] for r in res['lib']):8.0f}        (segment "
                      f"{max(r['segment_rss_mb'] for r in o):.0f} MB, model {max(r['model_rss_mb'] for r in o):.0f} "
                      f"MB; the library's one process)", flush=True)
                lw = statistics.median(r["proc_seconds"] for r in res["lib"])
                lc = statistics.median(r["proc_cpu"] for r in res["lib"])
                print(f"{'  lib script':14s} {'':8s} {lw:8.2f} {med['ours'] / lw:6.2f}  CPU {lc:.2f} s, ratio "
                      f"{cpu['ours'] / lc:.2f}: the library's whole process (start-up and imports included, as "
                      f"ours)", flush=True)
            print(f"load average now: {os.getloadavg()[0]:.1f}", flush=True)


def _print_steps(res: dict) -> None:
    def med(impl, key):
        return statistics.median(r[key] for r in res[impl])

    print(f"{'  step (ours / library)':30s} {'ours s':>8s} {'lib s':>8s} {'ratio':>6s} {'ours cpu':>9s} "
          f"{'lib cpu':>8s} {'ratio':>6s}")
    for ours, lib in STEP_PAIRS:
        o, oc = med("ours", ours), med("ours", ours + "_cpu")
        if lib is None:
            print(f"  {ours:28s} {o:8.2f} {'-':>8s} {'-':>6s} {oc:9.2f} {'-':>8s} {'-':>6s}  (no library counterpart)")
            continue
        v, vc = med("lib", lib), med("lib", lib + "_cpu")
        print(f"  {ours + ' / ' + lib:28s} {o:8.2f} {v:8.2f} {o / v:6.2f} {oc:9.2f} {vc:8.2f} {oc / vc:6.2f}")
    o, v = med("ours", "seconds"), med("lib", "seconds")
    oc, vc = med("ours", "cpu"), med("lib", "cpu")
    print(f"  {'all steps, one process':28s} {o:8.2f} {v:8.2f} {o / v:6.2f} {oc:9.2f} {vc:8.2f} {oc / vc:6.2f}",
          flush=True)


if __name__ == "__main__":
    main()
