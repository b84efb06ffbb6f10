"""Start-up and first-slice times of the desktop window (fresh processes, medians of N runs).

1. window: time from process start to the main window on screen
   (``surgiplan gui`` with SURGIPLAN_STARTUP_PROBE=window), beside a bare PySide6
   QMainWindow as the reference floor.
2. first slices: time from choosing a series to its middle slices on screen
   (``surgiplan.core.imaging.progressive.preview_volume``, what the Data panel shows
   first), beside the full ``load_series`` (what the user would otherwise wait for),
   on a synthetic 512 x 512 x 600 CT series written once to a temporary folder.

Needs a display (run under xvfb-run). Prints a table; target: both under 3 s.
Usage: xvfb-run -a python benchmarks/bench_gui_startup.py [--runs 3] [--slices 600]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable

BARE_QT = """
import time, sys
from PySide6 import QtWidgets, QtCore
app = QtWidgets.QApplication(sys.argv[:1])
w = QtWidgets.QMainWindow(); w.resize(1600, 980); w.show()
QtCore.QTimer.singleShot(0, lambda: (print(f"WINDOW_SHOWN {time.time():.4f}", flush=True), app.quit()))
app.exec()
"""

FIRST_SLICES = """
import sys, time, resource
t0 = float(sys.argv[2])
from surgiplan.core.imaging import discover, load_series
from surgiplan.core.imaging.progressive import preview_volume, series_files
disc = discover(sys.argv[1])
s = max(disc.series, key=lambda s: s.n_slices)
t_chosen = time.time()
if sys.argv[3] == "preview":
    v = preview_volume(series_files(s))
else:
    v = load_series(s)
t1 = time.time()
print(f"RESULT {t1 - t_chosen:.4f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")
"""


def window_time(cmd: list[str], env: dict) -> float:
    t0 = time.time()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        if line.startswith("WINDOW_SHOWN"):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no window time from {cmd}: {out[-500:]}")


def make_series(folder: Path, n: int) -> None:
    import numpy as np
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    study, series = generate_uid(), generate_uid()
    rng = np.random.default_rng(0)
    base = (rng.normal(40, 20, (512, 512))).astype(np.int16)
    for k in range(n):
        ds = pydicom.Dataset()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.Modality, ds.PatientName, ds.PatientID = "CT", "BENCH^GUI", "0"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [-200.0, -200.0, float(k)]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.78, 0.78]
        ds.SliceThickness = 1.0
        ds.Rows = ds.Columns = 512
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.PixelData = base.tobytes()
        ds.save_as(folder / f"CT{k:06d}.dcm", enforce_file_format=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--slices", type=int, default=600)
    a = ap.parse_args()
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as tmp:
        env["SURGIPLAN_CONFIG_DIR"] = str(Path(tmp) / "cfg")
        env["SURGIPLAN_STARTUP_PROBE"] = "window"
        ours = [window_time([PY, "-m", "surgiplan", "gui"], env) for _ in range(a.runs)]
        bare = [window_time([PY, "-c", BARE_QT], env) for _ in range(a.runs)]
        dicom = Path(tmp) / "dicom"
        dicom.mkdir()
        make_series(dicom, a.slices)
        rows = []
        for mode in ("preview", "full"):
            ts, mem = [], []
            for _ in range(a.runs):
                out = subprocess.run([PY, "-c", FIRST_SLICES, str(dicom), str(time.time()), mode],
                                     capture_output=True, text=True, timeout=600).stdout
                line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
                ts.append(float(line.split()[1]))
                mem.append(float(line.split()[2]))
            rows.append((mode, statistics.median(ts), statistics.median(mem)))
    m_ours, m_bare = statistics.median(ours), statistics.median(bare)
    print(f"{'measure':<52}{'median s':>10}{'ratio':>8}")
    print(f"{'window on screen: surgiplan gui':<52}{m_ours:>10.2f}{m_ours / m_bare:>8.2f}")
    print(f"{'window on screen: bare PySide6 QMainWindow (ref)':<52}{m_bare:>10.2f}{1:>8.2f}")
    prev, full = rows
    print(f"{f'first slices of 512x512x{a.slices} CT (middle slices)':<52}{prev[1]:>10.2f}"
          f"{prev[1] / full[1]:>8.2f}   peak RSS {prev[2]:.0f} MB")
    print(f"{'whole series: load_series (ref)':<52}{full[1]:>10.2f}{1:>8.2f}   peak RSS {full[2]:.0f} MB")
    print(f"target < 3 s: window {'met' if m_ours < 3 else 'NOT met'}, first slices "
          f"{'met' if prev[1] < 3 else 'NOT met'}")


if __name__ == "__main__":
    main()
