"""The Simulate step runs a hip study on the saved plan and shows what ``surgiplan simulate --json`` prints."""

from __future__ import annotations

import json

import pytest
from PySide6 import QtCore, QtWidgets

from tests.gui.conftest import wait_jobs

pytest.importorskip("pytestqt")


def test_simulate_step_runs_and_shows_the_summary(window, qtbot, tmp_path):
    from surgiplan.gui.panels.simulate_panel import _fmt
    from tests.core.simulation._hip_synthetic import make_case

    root = tmp_path / "case"
    make_case(root)
    win = window
    win.open_path(root)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    assert win.sidebar.buttons["Simulate"].isEnabled()
    win.show_step("Simulate")
    panel = win.panels["Simulate"]
    studies = [panel.study.itemText(i) for i in range(panel.study.count())]
    assert "hip-walking" in studies and "spine-lifting" in studies
    assert not panel.study.model().item(studies.index("spine-lifting")).isEnabled()  # not in this build
    panel.study.setCurrentText("hip-walking")
    panel.plan.setCurrentText("A")
    assert panel.table.rowCount() == 0 and "Run it" in panel.info.text()
    panel.quick_options = {"degree": 1, "element_size_mm": 8, "implant_element_size_mm": 4, "bone_surface_edge_mm": 5}
    qtbot.mouseClick(panel.findChild(QtWidgets.QPushButton, "simulate_run"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win, timeout_ms=300_000)
    assert win.last_error == "", win.last_error
    # the window shows what --json prints (the CLI prints the same summary dict, stored as summary.json)
    summary = json.loads((root / "studies" / "A--hip-walking" / "summary.json").read_text())
    assert panel.rows() == [(r["region"], r["label"], _fmt(r)) for r in summary["key_results"]]
    assert panel.table.rowCount() == len(summary["key_results"])
    assert panel.table.item(0, 2).text() == _fmt(summary["key_results"][0])
    fields = [panel.field.itemData(i)["name"] for i in range(panel.field.count())]
    assert fields == [f["name"] for f in summary["display_fields"]]
    # colour map with a scalar bar naming the field and its unit
    assert "simulation:surface" in win.view3d.plotter.actors
    assert panel.scalar_bar_title == "von Mises stress (MPa)"
    assert panel.scalar_bar_title in win.view3d.plotter.scalar_bars
    panel.field.setCurrentIndex(1)
    assert panel.scalar_bar_title.endswith("(mm)")
    # leaving the step removes the colour map and its scalar bar; coming back shows them again
    title = panel.scalar_bar_title
    win.show_step("Plan")
    assert "simulation:surface" not in win.view3d.plotter.actors
    assert title not in win.view3d.plotter.scalar_bars and panel.scalar_bar_title is None
    win.show_step("Simulate")
    qtbot.waitUntil(lambda: "simulation:surface" in win.view3d.plotter.actors, timeout=5000)
    assert panel.scalar_bar_title in win.view3d.plotter.scalar_bars  # the step's first field again
    assert panel.scalar_bar_title == "von Mises stress (MPa)"
    # an unsaved change: the study would not see it, so it is refused with the reason
    win.session.case.annotate_plan("A", "changed")
    assert panel.run() is False and "Save the case first" in win.last_error
