"""Benchmark: the vessel preset per voxel, before vs after, beside the bone preset and a SimpleITK baseline.

Scans (each cached as .npy in a temporary folder, loaded by every child):

* ``ct``: the shared contrast CT ``ct/ct_abdomen_contrast_jpeg2000`` (120 x 126 x 164, 1.5 mm);
* ``cta512``: the same CT resampled (SimpleITK, linear) to 0.5 x 0.5 x 1.0 mm and padded with
  air (-1000 HU) to 512 x 512 in-plane (512 x 512 x 246, 64 M voxels). Caution: on this
  interpolated grid the preset follows the wrong tube (Dice 0.0 against the reference brought to
  the grid), so its time there is not that of a correct run;
* ``vascular-full``: the vascular digital patient at full size (512^2, 0.59 mm pixels), Dice of
  all vessel segments against its ``aorta_lumen`` truth: the realistic 512^2 CTA.

Sides, each in a fresh process, median of ``--runs`` (>= 3) runs:

| side | what |
| --- | --- |
| vessel | ``apply_preset(volume, "vessel")`` of this checkout |
| before | the same call on the code of git revision ``--before`` (``git archive`` to a temp folder) |
| bone | ``apply_preset(volume, "bone")``: the bone preset the vessel preset should match per voxel |
| sitk | SimpleITK BinaryThreshold(150..800) + ConnectedComponent + RelabelComponent (largest): the
  least a lumen preset must do |

Printed per scan and side: seconds, microseconds per voxel, ratio to the SimpleITK baseline and to
the bone preset, peak RSS above the baseline taken after the volume is loaded (VmHWM reset through
/proc/self/clear_refs), and for the vessel sides the Dice of ``vessel`` against TotalSegmentator's
aorta (``ct`` only). Timings on a shared machine are noisy: compare sides of one run.

Run: ``.venv/bin/python benchmarks/bench_vessel_preset.py [--runs 3] [--scans ct cta512] [--before REV]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SURGIPLAN_TEST_DATA", ROOT.parent / "shared" / "data"))

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[3]) if sys.argv[3] != "-" else None
import numpy as np


def rss_mb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) / 1024.0


side, npy = sys.argv[1], sys.argv[2]
meta = json.loads(open(npy + ".json").read())
from surgiplan.core.imaging.volume import Volume
from surgiplan.core.segmentation.presets import apply_preset
import SimpleITK as sitk

arr = np.load(npy)
vol = Volume(arr, tuple(meta["spacing"]), tuple(meta["origin"]), np.eye(3))
open("/proc/self/clear_refs", "w").write("5")
base = rss_mb("VmRSS:")
t = time.perf_counter()
dice = None
if side in ("vessel", "before"):
    seg = apply_preset(vol, "vessel")
    m = seg.mask("vessel")
    if meta.get("union"):  # the sample's aorta_lumen holds the aorta and its branch stumps
        m = np.any([seg.mask(n) for n in seg.names], axis=0)
    if meta.get("ref"):
        ref = np.load(meta["ref"])
        dice = float(2 * (m & ref).sum() / (m.sum() + ref.sum()))
elif side == "bone":
    apply_preset(vol, "bone")
else:
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(tuple(meta["spacing"]))
    cc = sitk.RelabelComponent(sitk.ConnectedComponent(sitk.BinaryThreshold(img, 150, 800, 1, 0)))
    m = sitk.GetArrayViewFromImage(cc == 1).astype(bool)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "peak_mb": rss_mb("VmHWM:") - base, "dice": dice}))
"""


def prepare(scan: str, folder: Path) -> Path:
    """The scan as ``folder/scan.npy`` (+ .json with spacing, origin, reference mask path)."""
    import numpy as np
    import SimpleITK as sitk

    from surgiplan.core.segmentation import read_segmentation
    from surgiplan.core.segmentation.scan_source import load_scan

    out = folder / f"{scan}.npy"
    if out.exists():
        return out
    if scan == "vascular-full":  # the digital patient at full size (512^2, 0.59 mm), with its truth
        from surgiplan.core.imaging.volume_io import read_volume
        from surgiplan.core.samples import sample_path

        p = sample_path("vascular", size="full")
        vol = read_volume(p.volume)
        truth = read_segmentation(p.labels, reference=vol, labels_json=p.labels_json)
        np.save(folder / f"{scan}_ref.npy", truth.mask("aorta_lumen"))
        np.save(out, vol.array)
        (folder / f"{scan}.npy.json").write_text(json.dumps(
            {"spacing": list(vol.spacing), "origin": list(vol.origin), "ref": str(folder / f"{scan}_ref.npy"),
             "union": True}))
        return out
    vol = load_scan(DATA / "ct" / "ct_abdomen_contrast_jpeg2000")
    ref = read_segmentation(DATA / "segmentation_reference" / "ct_abdomen_contrast_aorta_mask.nii.gz",
                            reference=vol).layers[0] > 0
    meta = {"spacing": list(vol.spacing), "origin": list(vol.origin)}
    arr = vol.array
    if scan == "ct":
        np.save(folder / "ct_ref.npy", ref)
        meta["ref"] = str(folder / "ct_ref.npy")
    else:
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing(vol.spacing)
        img.SetOrigin(vol.origin)
        sp = (0.5, 0.5, 1.0)
        size = [int(round(n * s / t)) for n, s, t in zip(img.GetSize(), vol.spacing, sp, strict=True)]
        res = sitk.Resample(img, size, sitk.Transform(), sitk.sitkLinear, img.GetOrigin(), sp,
                            img.GetDirection(), -1000, sitk.sitkInt16)
        a = sitk.GetArrayFromImage(res)
        pj, pi = 512 - a.shape[1], 512 - a.shape[2]
        arr = np.pad(a, ((0, 0), (pj // 2, pj - pj // 2), (pi // 2, pi - pi // 2)), constant_values=-1000)
        meta = {"spacing": list(sp),
                "origin": [vol.origin[0] - (pi // 2) * sp[0], vol.origin[1] - (pj // 2) * sp[1], vol.origin[2]]}
    np.save(out, arr)
    (folder / f"{scan}.npy.json").write_text(json.dumps(meta))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scans", nargs="+", default=["ct", "cta512"])
    ap.add_argument("--sides", nargs="+", default=["vessel", "before", "bone", "sitk"])
    ap.add_argument("--before", default="31205cb", help="git revision of the 'before' code")
    ap.add_argument("--cache", default=None, help="folder for the prepared scans (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(args.cache or tmp)
        cache.mkdir(parents=True, exist_ok=True)
        old = Path(tmp) / "before"
        if "before" in args.sides:
            old.mkdir()
            tar = subprocess.run(["git", "-C", str(ROOT), "archive", args.before, "surgiplan"], check=True,
                                 capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=tar, check=True)
        print(f"vessel preset benchmark, {max(3, args.runs)} runs per side (median), before = {args.before}")
        for scan in args.scans:
            npy = prepare(scan, cache)
            import numpy as np

            nvox = int(np.prod(np.load(npy, mmap_mode="r").shape))
            res = {}
            for side in args.sides:
                runs = []
                for _ in range(max(3, args.runs)):
                    p = subprocess.run([PY, "-c", CHILD, side, str(npy), str(old) if side == "before" else "-"],
                                       capture_output=True, text=True, cwd=ROOT, timeout=3600)
                    if p.returncode != 0:
                        raise SystemExit(f"{scan}/{side} failed:\n{p.stderr[-3000:]}")
                    runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
                res[side] = runs
            print(f"\n{scan}: {nvox / 1e6:.1f} M voxels")
            print(f"{'side':<8} {'s':>8} {'us/voxel':>9} {'x sitk':>7} {'x bone':>7} {'peak MB':>8} {'Dice':>6}")
            med = {k: statistics.median(r["seconds"] for r in v) for k, v in res.items()}
            for side, runs in res.items():
                s = med[side]
                dice = runs[0]["dice"]
                print(f"{side:<8} {s:8.2f} {1e6 * s / nvox:9.3f} "
                      f"{s / med['sitk'] if 'sitk' in med else float('nan'):7.1f} "
                      f"{s / med['bone'] if 'bone' in med else float('nan'):7.2f} "
                      f"{max(r['peak_mb'] for r in runs):8.0f} {'' if dice is None else f'{dice:.3f}':>6}")


if __name__ == "__main__":
    main()
