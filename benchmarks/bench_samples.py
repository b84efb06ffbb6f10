"""Sample scans: generation time per sample and size, and our DICOM series writer beside
SimpleITK's ImageSeriesWriter on the same volume, same run.

Each measurement runs in a fresh Python process (imports excluded from the timing): wall and
CPU time, and the peak RSS above the process's baseline after imports. Medians of ``--runs``
runs (>= 3 for the small sizes and the writer comparison; ``--full-runs`` for the full sizes).

    .venv/bin/python benchmarks/bench_samples.py [--runs 3] [--full-runs 1] [--no-full]

Targets (issue 3): small versions in seconds, full versions (512 x 512, hundreds of slices)
in under a minute each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile

PY = sys.executable

CHILD = r"""
import json, os, sys, tempfile, threading, time
import psutil
what, name, size, out = sys.argv[1:5]
import numpy as np
from surgiplan.core.samples import generate_sample
proc = psutil.Process()
base = proc.memory_info().rss
peak = [base]
stop = threading.Event()
def watch():
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        time.sleep(0.02)
t = threading.Thread(target=watch, daemon=True)
if what == "generate":
    t.start(); c0 = time.process_time(); w0 = time.perf_counter()
    generate_sample(name, out, size)
else:
    from surgiplan.core.imaging import read_volume
    from surgiplan.core.samples.dicom_writer import SeriesHeader, write_series
    from surgiplan.core.samples.phantom import Grid
    vol = read_volume(os.path.join(out, f"{name}-{size}", "volume.nrrd"))
    stored = (vol.array.astype(np.int32) + 1024).clip(0, 4095).astype(np.uint16)
    dest = tempfile.mkdtemp(dir=out)
    t.start(); c0 = time.process_time(); w0 = time.perf_counter()
    if what == "ours":
        g = Grid(stored.shape, vol.spacing, vol.origin, vol.direction)
        h = SeriesHeader("CT", "SYNTHETIC^BENCH", "B1", "O", "20000101", "bench", "bench", "PELVIS", "FFS",
                         ["bench"])
        write_series(stored, g, __import__("pathlib").Path(dest), h, rescale_slope=1.0, rescale_intercept=-1024.0)
    else:
        import SimpleITK as sitk
        img = sitk.GetImageFromArray(vol.array)
        img.SetSpacing(vol.spacing); img.SetOrigin(vol.origin)
        img.SetDirection(tuple(float(x) for x in vol.direction.ravel()))
        w = sitk.ImageFileWriter(); w.KeepOriginalImageUIDOn()
        for k in range(img.GetDepth()):
            s = img[:, :, k]
            s.SetMetaData("0008|0060", "CT"); s.SetMetaData("0020|0013", str(k + 1))
            s.SetMetaData("0020|0032", "\\".join(str(v) for v in img.TransformIndexToPhysicalPoint((0, 0, k))))
            w.SetFileName(os.path.join(dest, f"{k:05d}.dcm")); w.Execute(s)
w1 = time.perf_counter(); c1 = time.process_time()
stop.set()
print(json.dumps({"wall": w1 - w0, "cpu": c1 - c0, "peak_mb": (peak[0] - base) / 1e6}))
"""


def run(what: str, name: str, size: str, out: str) -> dict:
    proc = subprocess.run([PY, "-c", CHILD, what, name, size, out], capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median(rs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in rs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--full-runs", type=int, default=1)
    ap.add_argument("--no-full", action="store_true")
    a = ap.parse_args()
    from surgiplan.core.samples import SAMPLE_NAMES

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size, n_runs in (("small", a.runs), ("full", a.full_runs)):
            if size == "full" and a.no_full:
                continue
            for name in SAMPLE_NAMES:
                rs = [run("generate", name, size, tmp) for _ in range(n_runs)]
                rows.append((f"generate {name} ({size})", median(rs, "wall"), median(rs, "cpu"),
                             max(r["peak_mb"] for r in rs)))
        size = "small" if a.no_full else "full"
        ours = [run("ours", "hip", size, tmp) for _ in range(a.runs)]
        ref = [run("sitk", "hip", size, tmp) for _ in range(a.runs)]
    print(f"{'what':40s} {'wall s':>8s} {'cpu s':>8s} {'peak MB':>8s}")
    for r in rows:
        print(f"{r[0]:40s} {r[1]:8.2f} {r[2]:8.2f} {r[3]:8.0f}")
    print()
    print(f"DICOM series writing, hip ({size}), median of {a.runs} runs, fresh processes:")
    for label, rs in (("ours (pydicom, full CT modules)", ours), ("SimpleITK ImageFileWriter", ref)):
        print(f"  {label:38s} {median(rs, 'wall'):8.2f} s  peak +{max(r['peak_mb'] for r in rs):6.0f} MB")
    print(f"  ratio ours / SimpleITK: {median(ours, 'wall') / median(ref, 'wall'):.2f}")


if __name__ == "__main__":
    main()
