"""Frame time of dragging an implant with the 3D arrow handle, on a 200k-triangle bone.

Scene: the knee sample case (scan, femur, tibia, fibula, patella), the femur
subdivided and decimated (core ``decimate``) to ~200,000 triangles, the knee
implants placed by the core (``place_knee``); the real window (Plan step, 3D view
1-up, 1070 x 924 px), software OpenGL when run under Xvfb (llvmpipe).

A drag is simulated with real Qt mouse events on the VTK interactor: hover the
superior arrow, press, 40 moves of 3 px, release. "frame" is the wall time of one
mouse-move event (the widget's pick, the implant's new pose and the render; the
live measurement + interference update runs from a 50 ms timer between moves and
is reported separately). Reference: a bare ``render()`` of the same scene (what
VTK needs per frame anyway). Each run is a fresh process; medians over runs.

    xvfb-run -a .venv/bin/python benchmarks/bench_gui_drag.py [--runs 3] [--triangles 200000] [--volume off on]

With LOD on (the window's behaviour, ``surgiplan.scene.interaction_lod``) the drag frames
draw decimated bones with cheaper settings; LOD off reproduces the previous full-quality
drag frames for comparison.
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

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
from PySide6 import QtCore
from PySide6.QtTest import QTest
from surgiplan.gui.app import apply_theme, make_app
from surgiplan.gui.main_window import MainWindow
root, volume_rendering, lod_on = sys.argv[1], sys.argv[2] == "on", sys.argv[3] == "on"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
app = make_app(); win = MainWindow(); win._skip_prompt = True; apply_theme(app, "dark")
win.resize(1600, 980); win.show()
def wait(ms):
    t = time.time()
    while time.time() - t < ms / 1000:
        app.processEvents(); time.sleep(0.002)
def wait_for(cond, what, s=300):
    t = time.time()
    while not cond():
        if time.time() - t > s:
            raise SystemExit(f"timed out waiting for {what}; status: {win.status_label.text()}")
        wait(20)
win.open_path(root); wait(50)
wait_for(lambda: not win.jobs.busy and win.case is not None, "the case to open")
win.view3d.ensure_plotter(); win.show_step("Plan"); win.layout_widget.set_layout("1-up", "3d")
win.view3d.show_volume(win.state.volume, "bone" if volume_rendering else "off")
wait(200)
from surgiplan.demo.knee import place_knee
case = win.case; case.new_plan("A"); win.current_plan = "A"; place_knee(case, "A", "right")
plan = win.panels["Plan"]; plan.refresh(); plan.implant_combo.setCurrentText("femoral"); plan._show_pose()
if not lod_on:  # the previous behaviour: full meshes and settings during the drag
    win.view3d.lod.enabled = False
    win.view3d.lod.begin = lambda **k: None
plan.handles.setChecked(True); wait(100)
wait_for(lambda: plan.interference_ready() and not win.jobs.busy, "the bone distance fields")
p = win.view3d.plotter; start = case.plan("A").implants["femoral"].transform.copy(); o = start[:3, 3]
d = np.array([0.6, -1.0, 0.5]); d /= np.linalg.norm(d)
p.camera_position = [tuple(o + 400 * d), tuple(o), (0, 0, 1)]; p.reset_camera_clipping_range(); p.render()
renders = []
for _ in range(15):
    t = time.perf_counter(); p.render(); renders.append(time.perf_counter() - t)
import vtk
def qpt(w):
    c = vtk.vtkCoordinate(); c.SetCoordinateSystemToWorld(); c.SetValue(*map(float, w))
    x, y = c.GetComputedDoubleDisplayValue(p.renderer)
    return QtCore.QPointF(x, p.interactor.height() - 1 - y)
L = plan._drag["actor"].GetLength() * 0.15 * 1.15
a = qpt(o + [0, 0, 0.6 * L]); b = qpt(o + [0, 0, 0.6 * L + 10])
u = (b - a) / max(1e-6, (((b - a).x()) ** 2 + ((b - a).y()) ** 2) ** 0.5)
w = p.interactor
QTest.mouseMove(w, a.toPoint()); wait(20)
assert plan._widget._selected_actor is plan._widget._arrows[2], "arrow not under the mouse"
QTest.mousePress(w, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, a.toPoint())
frames, cpu, steps = [], [], []
n0 = plan.live_updates; plan.live_ms.clear()
t_all = time.perf_counter()
for i in range(1, 41):
    t = time.perf_counter(); c = time.process_time()
    QTest.mouseMove(w, (a + u * 3 * i).toPoint())
    frames.append(time.perf_counter() - t); cpu.append(time.process_time() - c)
    app.processEvents()  # timers (the live measurement update) and Qt repaints run here
    steps.append(time.perf_counter() - t)
t_all = time.perf_counter() - t_all
lod_during = win.view3d.lod.active
t_rel = time.perf_counter()
QTest.mouseRelease(w, QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier, (a + u * 120).toPoint())
app.processEvents()
t_rel = time.perf_counter() - t_rel
wait(100)
assert not win.view3d.lod.active and win.view3d.lod.full_quality(), "full meshes not back after release"
moved = case.plan("A").implants["femoral"].transform[2, 3] - start[2, 3]
tri = case.get_model("femur").n_cells
print("RESULT " + json.dumps({"frame_ms": [f * 1000 for f in frames], "cpu_ms": [f * 1000 for f in cpu],
      "step_ms": [f * 1000 for f in steps], "lod": lod_on, "render_ms": [r * 1000 for r in renders],
      "live_ms": list(plan.live_ms), "live_updates": plan.live_updates - n0, "drag_s": t_all,
      "moved_mm": float(moved), "release_s": t_rel, "lod_during": lod_during, "femur_triangles": int(tri),
      "peak_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024}), flush=True)
win.close()
"""


def make_case(folder: Path, triangles: int) -> Path:
    from surgiplan.core.case import Case
    from surgiplan.core.samples import sample_path
    from surgiplan.core.surfaces import decimate
    from surgiplan.demo.knee import import_landmarks
    from surgiplan.demo.sample_case import build_sample_case

    root = folder / "knee-200k"
    case, *_ = build_sample_case("knee", root)
    femur = case.get_model("femur")
    while femur.n_cells < triangles:
        femur = femur.subdivide(1, "loop")
    femur = decimate(femur, triangles)
    case = Case.open(root)
    case.add_model("femur", femur, scan="planning", segment="femur")
    import_landmarks(case, sample_path("knee").ground_truth,
                     ["hip_centre", "knee_centre_femur", "knee_centre_tibia", "ankle_centre",
                      "medial_epicondyle", "lateral_epicondyle"], source="ground_truth")
    case.save()
    return root


def run(root: Path, vr: str, lod: str) -> dict:
    env = dict(os.environ, SURGIPLAN_CONFIG_DIR=str(root.parent / "config"),
               SURGIPLAN_CASES_DIR=str(root.parent / "cases"),
               SURGIPLAN_AUTOSAVE_DIR=str(root.parent / "autosave"))
    out = subprocess.run([PY, "-c", CHILD, str(root), vr, lod], capture_output=True, text=True, timeout=900,
                         env=env, cwd=Path(__file__).resolve().parents[1])
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"drag run failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--triangles", type=int, default=200_000)
    ap.add_argument("--volume", nargs="+", default=["off", "on"], choices=["off", "on"],
                    help="runs without / with the CT volume rendered in the 3D view")
    args = ap.parse_args()
    if not os.environ.get("DISPLAY"):
        sys.exit("needs a display: run under xvfb-run -a")
    with tempfile.TemporaryDirectory() as tmp:
        root = make_case(Path(tmp), args.triangles)
        print(f"load average before: {os.getloadavg()[0]:.2f}")
        print(f"{'volume':<7}{'LOD':<5}{'femur tri':>10}{'frame med':>11}{'frame p90':>11}{'cpu med':>10}"
              f"{'step med':>10}{'render med':>12}{'ratio':>7}{'release':>9}{'live med':>10}{'moved':>8}{'peak MB':>9}")
        for vr in args.volume:
            for lod in ("off", "on"):
                rs = [run(root, vr, lod) for _ in range(args.runs)]

                def med(key, q=None, rs=rs):
                    vals = []
                    for r in rs:
                        xs = sorted(r[key] or [float("nan")])
                        vals.append(statistics.median(xs) if q is None else xs[max(0, int(q * len(xs)) - 1)])
                    return statistics.median(vals)

                fm, fp, cm, sm, rm = (med("frame_ms"), med("frame_ms", 0.9), med("cpu_ms"), med("step_ms"),
                                      med("render_ms"))
                rel = statistics.median(r["release_s"] for r in rs)
                mv = statistics.median(r["moved_mm"] for r in rs)
                pk = max(r["peak_mb"] for r in rs)
                print(f"{vr:<7}{lod:<5}{rs[0]['femur_triangles']:>10}{fm:>9.1f}ms{fp:>9.1f}ms{cm:>8.1f}ms{sm:>8.1f}ms"
                      f"{rm:>10.1f}ms{fm / rm:>7.2f}{rel:>8.2f}s{med('live_ms'):>8.1f}ms{mv:>6.1f}mm{pk:>9.0f}",
                      flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        print("frame = wall time of one mouse-move event of the drag (pick + pose + render), p90 its 90th "
              "percentile, cpu = process CPU time of that event (all llvmpipe threads; robust to other load), "
              "step = the move plus the event processing after it (live update, Qt repaint); render = bare "
              "full-quality plotter.render() of the same scene; release = mouse release to the committed, "
              "re-rendered full-quality still frame; live = one measurement + interference update (at most "
              f"every 50 ms); medians over {args.runs} fresh processes; 40 moves per drag; LOD off = the "
              "previous behaviour (full meshes during the drag)")

if __name__ == "__main__":
    main()
