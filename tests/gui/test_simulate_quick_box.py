"""The Simulate step's Quick box (P1, coarse elements) shows only for studies it changes (elasticity)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")


def test_quick_box_is_hidden_for_flow_studies(window):
    from surgiplan.core.simulation.case_studies import list_studies

    physics = {s["name"]: s["physics"] for s in list_studies()}
    win = window
    win.show_step("Simulate")
    panel = win.panels["Simulate"]
    panel.activated()
    panel.study.setCurrentText("hip-walking")
    assert physics["hip-walking"] == "elasticity" and not panel.quick.isHidden()
    panel.study.setCurrentText("vessel-rest")
    assert panel.study.currentText() == "vessel-rest" and physics["vessel-rest"] == "flow"
    assert panel.quick.isHidden()
    panel.study.setCurrentText("hip-walking")
    assert not panel.quick.isHidden()
