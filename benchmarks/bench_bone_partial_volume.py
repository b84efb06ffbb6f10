"""Bone surface accuracy on randomised CT phantoms: fixed 200 HU threshold vs partial-volume-correct.

Each case is :func:`surgiplan.core.samples.ct_phantom.make_ct_phantom` (seed = case number):
random anatomy, cortex 0.5-4 mm at 700-1800 HU, trabecular 100-400 HU, slices 1-3 mm, PSF
blur, noise 5-30 HU, a metal implant in about 1 in 4, partial fields of view. Per bone
(the predicted bone split between the truth bones by nearest truth voxel, so that only the
boundary is judged, not the separation of touching bones; metal voxels left out):

* Dice of the mask against the truth mask (>= 50 % of the voxel is bone),
* volume of the mask against the analytic volume in the field of view,
* area of the smoothed model surface (``mask_to_surface``, as ``surgiplan model`` builds it)
  between the first and last slice centres against the analytic area (cases without metal).

With ``--seeded``: :func:`surgiplan.core.segmentation.seeded.separate_from_seeds` from one
seed in the middle of each bone (the point deepest inside it), Dice per bone.

Usage: ``python benchmarks/bench_bone_partial_volume.py --cases 200 [--start 0] [--seeded] [--jsonl F]``
(about 10-20 s a case on the shared 2-core machine; timings are not the point here). ``--jsonl``
appends each case as one JSON line as soon as it is done (a long run can be stopped and
summarised: ``--summary F``). The partial-volume mask is the ``bone`` preset's
(:func:`surgiplan.core.segmentation.partial_volume.partial_volume_bone`: the 200 HU bone with its
boundary moved by at most 1.5 mm / one voxel to the local half-way value).

``--real SCAN [SCAN ...]``: speed and volume on real CTs instead. Per scan, each side in a fresh
process (``--runs``, at least 3, interleaved run by run), timed after the scan is loaded:
``fixed`` is ``bone_mask(volume, 200)`` (the fixed-threshold preset: threshold, islands, fill),
``pv`` is ``partial_volume_bone(volume)`` (the same plus the partial-volume move and the joint
spaces opened), ``sitk`` the library calls alone (SimpleITK BinaryThreshold >= 200 HU,
ConnectedComponent + RelabelComponent with a 1 mL minimum, BinaryFillhole). Printed: median wall
and CPU seconds (user + system, all threads), the ratios, peak RSS above the loaded baseline
(VmHWM reset through /proc/self/clear_refs) and the volume per side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import ndimage


def area_in_view(mask, volume) -> float:
    """Area (mm2) of the smoothed model surface of ``mask`` between the first and last slice centres."""
    from surgiplan.core.surfaces.extract import mask_to_surface

    s = mask_to_surface(mask, volume.spacing, volume.origin, volume.direction, smooth=True)
    zc0 = volume.origin[2]
    zc1 = zc0 + (volume.array.shape[0] - 1) * volume.spacing[2]
    c = s.cell_centers().points[:, 2]
    a = s.compute_cell_sizes(length=False, volume=False).cell_data["Area"]
    return float(a[(c >= zc0) & (c <= zc1)].sum())


def nearest_truth(truth) -> np.ndarray:
    """Label (1..n, in ``truth["masks"]`` order) of the nearest truth bone of every voxel."""
    names = list(truth["masks"])
    lab = np.zeros(truth["masks"][names[0]].shape, np.uint8)
    for i, n in enumerate(names):
        lab[truth["masks"][n]] = i + 1
    idx = ndimage.distance_transform_edt(lab == 0, return_distances=False, return_indices=True)
    return lab[tuple(idx)]


def per_bone(volume, truth, pred: np.ndarray, with_area: bool = True, near: np.ndarray | None = None) -> dict:
    """{bone: (dice, volume error, area error)} of a union bone mask, split by nearest truth bone
    (``near``: :func:`nearest_truth`, computed when not given)."""
    names = list(truth["masks"])
    if near is None:
        near = nearest_truth(truth)
    valid = ~truth["metal_mask"]
    vv = float(np.prod(volume.spacing))
    out = {}
    for i, n in enumerate(names):
        p = pred & (near == i + 1) & valid
        g = truth["masks"][n] & valid
        dice = 2 * (p & g).sum() / max(p.sum() + g.sum(), 1)
        area = area_in_view(p, volume) / truth["area_mm2"][n] - 1 if with_area else float("nan")
        out[n] = (float(dice), float(p.sum() * vv / truth["volume_mm3"][n] - 1), float(area))
    return out


def seed_points(volume, truth) -> dict:
    """One LPS point per bone: the voxel deepest inside it (the middle of the bone, not cortex)."""
    sp = tuple(volume.spacing)[::-1]
    pts = {}
    for n, m in truth["masks"].items():
        d = ndimage.distance_transform_edt(m, sampling=sp)
        kji = np.unravel_index(int(np.argmax(d)), d.shape)
        pts[n] = volume.index_to_world(np.array([kji[::-1]], float))[0]
    return pts


def thr200(volume) -> np.ndarray:
    from surgiplan.core.segmentation import islands, morphology

    m = islands.remove_small(volume.array >= 200, 1000.0, volume.spacing)
    return morphology.fill_holes_lidded(m)


_CHILD = r"""
import json, sys, time
import numpy as np


def rss_mb(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024.0


side, scan = sys.argv[1], sys.argv[2]
from surgiplan.core.segmentation.scan_source import load_scan
vol = load_scan(scan)
arr = np.asarray(vol.array)
open("/proc/self/clear_refs", "w").write("5")
base = rss_mb("VmRSS:")
t = time.perf_counter()
c = time.process_time()  # CPU of all threads of this process (user + system)
if side == "fixed":
    from surgiplan.core.segmentation.presets import bone_mask
    m = bone_mask(vol, 200.0, 1.0, fill_marrow=False)
elif side == "pv":
    from surgiplan.core.segmentation.partial_volume import partial_volume_bone
    m = partial_volume_bone(vol)
else:
    import SimpleITK as sitk
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(tuple(float(s) for s in vol.spacing))
    vox = int(round(1000.0 / float(np.prod(vol.spacing))))
    cc = sitk.RelabelComponent(sitk.ConnectedComponent(sitk.BinaryThreshold(img, 200, 32767, 1, 0)), vox)
    filled = sitk.BinaryFillhole(cc > 0)  # kept alive: the array view below reads its buffer
    m = sitk.GetArrayViewFromImage(filled).astype(bool)
dt = time.perf_counter() - t
cpu = time.process_time() - c
print(json.dumps({"seconds": dt, "cpu": cpu, "peak_mb": rss_mb("VmHWM:") - base,
                  "ml": float(m.sum() * np.prod(vol.spacing) / 1000.0)}))
"""


def bench_real(scans, runs: int) -> None:
    """Speed and volume of the fixed and the partial-volume bone on real CTs (see the module doc)."""
    import statistics
    import subprocess

    for scan in scans:
        res: dict[str, list[dict]] = {"fixed": [], "pv": [], "sitk": []}
        for _ in range(max(3, runs)):
            for side in res:
                out = subprocess.run([sys.executable, "-c", _CHILD, side, scan], capture_output=True, text=True,
                                     timeout=1800)
                if out.returncode != 0:
                    raise SystemExit(f"{side} failed on {scan}:\n{out.stderr[-3000:]}")
                res[side].append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
        cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in res.items()}
        peak = {k: max(r["peak_mb"] for r in v) for k, v in res.items()}
        ml = {k: v[0]["ml"] for k, v in res.items()}
        print(f"{scan}")
        for k in res:
            print(f"  {k:6s} {med[k]:7.2f} s (runs {', '.join(f'{r['seconds']:.2f}' for r in res[k])}) "
                  f"CPU {cpu[k]:6.2f} s  peak +{peak[k]:6.0f} MB  {ml[k]:8.1f} mL")
        print(f"  pv / fixed {med['pv'] / med['fixed']:.2f}x (CPU {cpu['pv'] / cpu['fixed']:.2f}x), "
              f"pv / sitk {med['pv'] / med['sitk']:.2f}x (CPU {cpu['pv'] / cpu['sitk']:.2f}x); "
              f"volume pv vs fixed {100 * (ml['pv'] / ml['fixed'] - 1):+.1f} %", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seeded", action="store_true")
    ap.add_argument("--json", default=None, help="write every case's figures to this file")
    ap.add_argument("--jsonl", default=None, help="append each case as one JSON line to this file")
    ap.add_argument("--summary", default=None, help="only summarise this JSONL file")
    ap.add_argument("--fast", action="store_true", help="no surface area for the 200 HU comparison")
    ap.add_argument("--real", nargs="+", default=None, help="real CTs: speed and volume (see above)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.real:
        bench_real(args.real, args.runs)
        return
    if args.summary:
        with open(args.summary) as f:
            summarise([json.loads(x) for x in f if x.strip()])
        return
    from surgiplan.core.samples.ct_phantom import make_ct_phantom
    from surgiplan.core.segmentation.partial_volume import partial_volume_bone

    rows = []
    for seed in range(args.start, args.start + args.cases):
        vol, truth = make_ct_phantom(seed)
        metal = bool(truth["metal_mask"].any())
        t0 = time.perf_counter()
        pv_mask = partial_volume_bone(vol)
        t_pv = time.perf_counter() - t0
        near = nearest_truth(truth)
        row = {"seed": seed, "params": truth["params"], "t_pv_s": t_pv,
               "thr200": per_bone(vol, truth, thr200(vol), not metal and not args.fast, near),
               "pv": per_bone(vol, truth, pv_mask, not metal, near)}
        if args.seeded:
            from surgiplan.core.segmentation.seeded import separate_from_seeds

            t0 = time.perf_counter()
            parts = separate_from_seeds(vol, pv_mask, seed_points(vol, truth))
            row["t_seeded_s"] = time.perf_counter() - t0
            row["seeded"] = {n: float(2 * (parts[n] & truth["masks"][n]).sum()
                                      / max(parts[n].sum() + truth["masks"][n].sum(), 1)) for n in truth["masks"]}
        rows.append(row)
        if args.jsonl:
            with open(args.jsonl, "a") as f:  # a benchmark's own scratch output, not a surgiplan file
                f.write(json.dumps(row, default=_plain) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "params"}), flush=True)
    if args.json:
        with open(args.json, "w") as f:  # a benchmark's own scratch output, not a surgiplan file
            json.dump(rows, f)
    summarise(rows)


def _plain(x):
    return x.tolist() if hasattr(x, "tolist") else str(x)


def summarise(rows) -> None:
    print(f"\n{len(rows)} cases")
    for method in ("thr200", "pv"):
        d = np.array([r[method][n][0] for r in rows for n in r[method]])
        v = np.array([r[method][n][1] for r in rows for n in r[method]])
        a = np.array([r[method][n][2] for r in rows for n in r[method]])
        a = a[np.isfinite(a)]
        print(f"{method:7s} bones {len(d)}: Dice median {np.median(d):.3f} p5 {np.percentile(d, 5):.3f} "
              f">=0.95 {np.mean(d >= 0.95):.0%} | volume err median {np.median(v):+.3f} "
              f"|err|<=5% {np.mean(np.abs(v) <= 0.05):.0%} | area err median {np.median(a):+.3f} "
              f"|err|<=5% {np.mean(np.abs(a) <= 0.05):.0%}")
    if rows and "seeded" in rows[0]:
        d = np.array([r["seeded"][n] for r in rows for n in r["seeded"]])
        print(f"seeded  bones {len(d)}: Dice median {np.median(d):.3f} p5 {np.percentile(d, 5):.3f} "
              f">=0.95 {np.mean(d >= 0.95):.0%}; median time {np.median([r['t_seeded_s'] for r in rows]):.1f} s")
    print(f"partial-volume bone: median {np.median([r['t_pv_s'] for r in rows]):.1f} s a case")


if __name__ == "__main__":
    sys.exit(main())
