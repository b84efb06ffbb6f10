"""DICOM loading: surgiplan's loader beside SimpleITK's ImageSeriesReader, same run.

Generates (in a temporary folder) CT series of 512 x 512 slices: uncompressed
300 and 600 slices, 300 JPEG 2000 lossless and 300 RLE lossless (pydicom +
pylibjpeg encoders). Each load runs in a fresh Python process; we report the
median wall time of >= 3 runs (load only, imports excluded: discovery +
reading + building the volume), the peak RSS above the process's baseline
after imports (children included for parallel decoding), and the series
discovery time of the 600-file study. CPU time (process + children) and the
load average are printed too: on a machine shared with other jobs the wall
times of both loaders stretch, and the CPU columns show what each one costs.

    .venv/bin/python benchmarks/bench_dicom_load.py [--runs 3] [--keep DIR] [--only u600 j2k300]

Targets (issue 2): uncompressed <= 0.5 x SimpleITK time and peak <= 1.3 x the
int16 volume; RLE <= 0.2 x; JPEG 2000 <= 1.0 x; discovery of 600 files < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PY = sys.executable

CHILD = r"""
import json, os, resource, sys, time
import psutil
kind, folder = sys.argv[1], sys.argv[2]
if kind == "ours":
    from surgiplan.core.imaging import load_dicom
elif kind == "discover":
    from surgiplan.core.imaging import discover
else:
    import SimpleITK as sitk
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(len(os.sched_getaffinity(0)))
import threading
import numpy as np
proc = psutil.Process()
base = proc.memory_info().rss
workers_peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        tot = 0
        for c in proc.children(recursive=True):
            try:
                tot += c.memory_info().rss
            except psutil.Error:
                pass
        workers_peak[0] = max(workers_peak[0], tot)
        stop.wait(0.2)
th = threading.Thread(target=sample, daemon=True)
th.start()
t = time.perf_counter()
c = time.process_time()
if kind == "ours":
    v = load_dicom(folder)
    shape, dtype = v.array.shape, str(v.array.dtype)
elif kind == "discover":
    d = discover(folder)
    shape, dtype = (sum(s.n_slices for s in d.series),), ""
else:
    r = sitk.ImageSeriesReader()
    r.SetFileNames(r.GetGDCMSeriesFileNames(folder))
    img = r.Execute()
    shape, dtype = img.GetSize()[::-1], img.GetPixelIDTypeAsString()
dt = time.perf_counter() - t
cpu = time.process_time() - c
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu += ru.ru_utime + ru.ru_stime
stop.set()
th.join()
peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"time": dt, "cpu": cpu, "peak": peak_self - base, "children": workers_peak[0],
                  "shape": list(shape), "dtype": dtype}))
"""


# --------------------------------------------------------------------------- data
def phantom_slice(k: int, n: int, size: int = 512) -> np.ndarray:
    """A CT-like head/body slice in stored values (HU + 1024, uint16): skin, fat, bone ring, noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    cx = cy = size / 2
    t = k / max(n - 1, 1)
    a = size * (0.38 + 0.05 * np.sin(np.pi * t))
    b = size * (0.30 + 0.04 * np.cos(np.pi * t))
    r = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2
    hu = np.full((size, size), -1000.0, np.float32)
    hu[r < 1.0] = -80.0
    hu[r < 0.85] = 40.0
    ring = (r > 0.55) & (r < 0.68)
    hu[ring] = 900.0
    vessel = ((x - cx - 40) ** 2 + (y - cy + 30) ** 2) < (12 + 4 * np.sin(6 * t)) ** 2
    hu[vessel] = 300.0
    rng = np.random.default_rng(k)
    hu += rng.normal(0, 12, hu.shape).astype(np.float32) * (r < 1.0)
    return np.clip(hu + 1024, 0, 4095).astype(np.uint16)


def write_series(folder: Path, n: int, syntax: str | None) -> None:
    """``n`` CT slices 512 x 512 into ``folder`` (uncompressed, or compressed with ``syntax``)."""
    from pydicom import Dataset
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True)
    study, series, frame = generate_uid(), generate_uid(), generate_uid()
    order = np.random.default_rng(1).permutation(n)  # file names carry no order
    for k in range(n):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = CTImageStorage
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.Modality = "BENCH^PHANTOM", "BENCH", "CT"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [-125.0, -125.0, 1.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.48828125, 0.48828125]
        ds.SliceThickness = 1.0
        ds.Rows = ds.Columns = 512
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.PixelData = phantom_slice(k, n).tobytes()
        if syntax:
            ds.compress(syntax)
        ds.save_as(folder / f"IM{order[k]:05d}.dcm", enforce_file_format=True)


# --------------------------------------------------------------------------- runs
def warm(folder: Path) -> float:
    """Read every file once (page cache), as a viewer that just received the study; returns s."""
    t = time.perf_counter()
    for p in folder.iterdir():
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass
    return time.perf_counter() - t


def run_once(kind: str, folder: Path) -> dict:
    warm(folder)
    out = subprocess.run(
        [PY, "-c", CHILD, kind, str(folder)], capture_output=True, text=True, timeout=900
    )
    if out.returncode != 0:
        raise RuntimeError(f"{kind} on {folder} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(results: list[dict]) -> dict:
    return {
        "time": statistics.median(r["time"] for r in results),
        "times": [round(r["time"], 3) for r in results],
        "cpu": statistics.median(r["cpu"] for r in results),
        "peak": statistics.median(r["peak"] for r in results),
        "children": max(r["children"] for r in results),
        "shape": results[0]["shape"],
        "dtype": results[0]["dtype"],
    }


def measure_pair(folder: Path, runs: int) -> tuple[dict, dict]:
    """Ours and SimpleITK alternately (same machine conditions), ``runs`` each."""
    ours, ref = [], []
    for _ in range(runs):
        ours.append(run_once("ours", folder))
        ref.append(run_once("sitk", folder))
    return summarise(ours), summarise(ref)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this folder")
    ap.add_argument(
        "--only", nargs="+", choices=["u300", "u600", "j2k300", "rle300"], help="run these cases"
    )
    args = ap.parse_args()
    from pydicom.uid import JPEG2000Lossless, RLELossless

    root = args.keep or Path(tempfile.mkdtemp(prefix="surgiplan-bench-dicom-"))
    cases = [
        ("uncompressed 300", "u300", 300, None, 0.5),
        ("uncompressed 600", "u600", 600, None, 0.5),
        ("JPEG 2000 lossless 300", "j2k300", 300, JPEG2000Lossless, 1.0),
        ("RLE lossless 300", "rle300", 300, RLELossless, 0.2),
    ]
    if args.only:
        cases = [c for c in cases if c[1] in args.only or c[1] == "u600"]
    loads = []
    try:
        for _, name, n, syntax, _ in cases:
            if not (root / name).exists():
                t = time.perf_counter()
                write_series(root / name, n, syntax)
                print(
                    f"generated {name}: {n} slices in {time.perf_counter() - t:.1f} s", flush=True
                )
        rows = []
        for label, name, n, _, target in cases:
            if args.only and name not in args.only:
                continue
            before = _load()
            ours, ref = measure_pair(root / name, args.runs)
            vol_mb = n * 512 * 512 * 2 / 1e6
            rows.append((label, ours, ref, vol_mb, target))
            loads.append(f"{name}: {before} -> {_load()}")
            print(
                f"measured {label}: ours {ours['times']} s, SimpleITK {ref['times']} s "
                f"(load average 1/5/15 min {loads[-1].split(': ')[1]})",
                flush=True,
            )
        disc = summarise([run_once("discover", root / "u600") for _ in range(args.runs)])
        read_s = statistics.median(warm(root / "u600") for _ in range(args.runs))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)

    print()
    print(
        f"DICOM load, median of {args.runs} fresh processes (512 x 512 CT slices; "
        f"int16 volume size in brackets; {os.cpu_count()} cores)"
    )
    hdr = (
        f"{'series':<27} {'ours s':>7} {'SITK s':>7} {'ratio':>6} {'target':>8} "
        f"{'ours cpu s':>10} {'SITK cpu s':>10} {'ours MB':>8} {'x vol':>6} {'SITK MB':>8} "
        f"{'workers MB':>10}  ours dtype"
    )
    print(hdr)
    print("-" * len(hdr))
    for label, ours, ref, vol_mb, target in rows:
        ratio = ours["time"] / ref["time"]
        ok = "ok" if ratio <= target else "MISS"
        print(
            f"{label + f' [{vol_mb:.0f} MB]':<27} {ours['time']:7.2f} {ref['time']:7.2f} "
            f"{ratio:6.2f} {'<=' + str(target):>5} {ok:<4}{ours['cpu']:8.2f} {ref['cpu']:10.2f} "
            f"{ours['peak'] / 1e6:9.0f} {ours['peak'] / 1e6 / vol_mb:6.2f} "
            f"{ref['peak'] / 1e6:8.0f} {ours['children'] / 1e6:10.0f}  {ours['dtype']}"
        )
    print()
    ok = "ok" if disc["time"] < 1.0 else "MISS"
    print(
        f"series discovery of the 600-file study: {disc['time']:.3f} s (runs {disc['times']} s; "
        f"target < 1 s: {ok}); reading its 600 files' bytes alone: {read_s:.3f} s"
    )
    print("load average (1/5/15 min) before -> after each case: " + "; ".join(loads))
    print(
        "times: load only (discovery + pixels + volume), imports excluded, page cache warmed "
        "before each run; cpu = user + system time of the process and its children; "
        "peak = max RSS above the process baseline after imports; "
        "workers = summed RSS of decoder processes (shared pages counted twice)"
    )


if __name__ == "__main__":
    main()
