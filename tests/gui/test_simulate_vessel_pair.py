"""The Simulate step shows a vessel study's pre- and post-stent pair as ``surgiplan simulate --json`` prints
it: the pre/post table, both surfaces side by side on one colour scale; Run on a second plan (real click)
reuses the native result. Opt-in (SURGIPLAN_VESSEL_PAIR=1): one native and two stented solves on a tiny
tube case, minutes on 2 loaded cores. With SURGIPLAN_SCREENSHOTS set, the window is saved as PNG there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets

from tests.gui.conftest import wait_jobs

pytest.importorskip("pytestqt")
pytestmark = [pytest.mark.gui, pytest.mark.slow,
              pytest.mark.skipif(os.environ.get("SURGIPLAN_VESSEL_PAIR") != "1",
                                 reason="the real pre/post solve pair: set SURGIPLAN_VESSEL_PAIR=1 (minutes)")]


def _save(win, name: str) -> None:
    folder = os.environ.get("SURGIPLAN_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        QtCore.QCoreApplication.processEvents()
        win.view3d.plotter.render()
        win.screen().grabWindow(win.winId()).toImage().save(str(Path(folder) / name))


def test_window_shows_the_pre_post_pair_the_cli_prints(window, qtbot, tmp_path):
    from surgiplan.gui.panels.simulate_panel import PREPOST_HEADERS, prepost_text
    from tests.core.simulation._vessel_tiny_case import tiny_vessel_case

    root = tmp_path / "tube"
    tiny_vessel_case(root, plans=("A", "B"))
    out = subprocess.run([sys.executable, "-m", "surgiplan.cli.main", "simulate", str(root), "--plan", "A",
                          "--study", "vessel-rest", "--option", "flow_mL_s=1", "--json"],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    js = json.loads(out.stdout)
    assert js["pre_post"]["native"]["status"] == "solved"
    win = window
    win.open_path(root)
    wait_jobs(qtbot, win)
    win.show_step("Simulate")
    panel = win.panels["Simulate"]
    panel.study.setCurrentText("vessel-rest")
    panel.plan.setCurrentText("A")
    assert panel.inflow_row.isVisible() and panel.quick.isHidden()
    # the pre/post table is the --json pre_post rows, formatted
    expected = [(r["quantity"], *(prepost_text(r[k], r["unit"]) for k in ("pre", "post", "change")))
                for r in js["pre_post"]["rows"]]
    assert panel.prepost_rows() == expected and len(expected) >= 8
    t = panel.prepost
    assert t.isVisible() and t.rowCount() == len(expected)
    assert [t.horizontalHeaderItem(j).text() for j in range(4)] == PREPOST_HEADERS
    for i, (cells, r) in enumerate(zip(expected, js["pre_post"]["rows"], strict=True)):
        assert tuple(t.item(i, j).text() for j in range(4)) == cells
        assert (r["region"] or "") in t.item(i, 0).toolTip()
    assert "same outlet resistances (checked)" in panel.prepost_title.text()
    # both surfaces side by side, one colour scale, labelled
    plotter = win.view3d.plotter
    qtbot.waitUntil(lambda: "simulation:native" in plotter.actors, timeout=5000)
    assert "simulation:surface" in plotter.actors and "simulation:label-post-labels" in plotter.actors
    assert "simulation:label-pre-labels" in plotter.actors
    pre_b, post_b = plotter.actors["simulation:native"].GetBounds(), plotter.actors["simulation:surface"].GetBounds()
    assert pre_b[1] < post_b[0]  # before to the patient's right (LPS -x) of after, not overlapping
    rng_pre = plotter.actors["simulation:native"].mapper.scalar_range
    assert tuple(rng_pre) == tuple(plotter.actors["simulation:surface"].mapper.scalar_range)
    assert panel.scalar_bar_title == "pressure (mmHg)"
    _save(win, "gui_simulate_vessel_pair_pressure.png")
    panel.field.setCurrentIndex(1)
    assert panel.scalar_bar_title == "wall shear stress (Pa)"
    _save(win, "gui_simulate_vessel_pair_wss.png")
    # leaving the step takes both surfaces and the labels out of the 3D view
    win.show_step("Plan")
    assert not [n for n in plotter.actors if str(n).startswith("simulation:")]
    win.show_step("Simulate")
    # Run on plan B with a real click, the inflow in the panel: the native is reused, only B's lumen solved
    panel.plan.setCurrentText("B")
    assert panel.prepost.isHidden() and "Run it" in panel.info.text()
    panel.inflow.setValue(1.0)
    qtbot.mouseClick(panel.findChild(QtWidgets.QPushButton, "simulate_run"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win, timeout_ms=900_000)
    assert win.last_error == "", win.last_error
    b = json.loads((root / "studies" / "B--vessel-rest" / "summary.json").read_text())
    assert b["pre_post"]["native"]["status"] == "reused"
    assert [r["pre"] for r in b["pre_post"]["rows"]] == [r["pre"] for r in js["pre_post"]["rows"]]
    assert "native reused" in panel.prepost_title.text() or "reused" in panel.prepost_title.text()
    assert panel.prepost.rowCount() == len(b["pre_post"]["rows"])
