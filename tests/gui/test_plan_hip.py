"""The hip Plan panel in the real window: cup angles typed with real keys (one undo step), the
window shows what ``plan set-angles --json`` prints, the key measurements strip above the views
with its target colours, size proposals applied with one click, human names, and the neck cut."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6 import QtCore, QtWidgets
from typer.testing import CliRunner

from tests.gui.conftest import wait_jobs

pytestmark = [pytest.mark.gui]


@pytest.fixture(scope="session")
def hip_plan_template(tmp_path_factory) -> Path:
    """A saved hip sample case with fitted landmarks and plan "A" holding a left cup and stem."""
    from surgiplan.core.planning.auto_landmarks import fit_case_landmarks
    from surgiplan.core.planning.operations import place_implant
    from surgiplan.demo.sample_case import build_sample_case

    root = tmp_path_factory.mktemp("hip-plan") / "hip-case"
    case, *_ = build_sample_case("hip", root)
    fit_case_landmarks(case, "hip")
    case.new_plan("A")
    place_implant(case, "A", None, "hip_cup", "54", side="left", start=True, at=(0, 0, 0))
    place_implant(case, "A", None, "hip_stem_standard", "5", side="left", start=True, at=(0, 0, 0))
    case.save()
    return root


@pytest.fixture
def hip_dir(hip_plan_template, tmp_path) -> Path:
    dst = tmp_path / "hip-case"
    shutil.copytree(hip_plan_template, dst)
    return dst


def _open(qtbot, win, root):
    win.open_path(root)
    wait_jobs(qtbot, win)
    assert win.last_error == "", win.last_error
    win.view3d.ensure_plotter()
    win.show_step("Plan")
    plan = win.panels["Plan"]
    plan.refresh()
    qtbot.waitUntil(lambda: win.key_strip.isVisible(), timeout=10_000)
    return plan


def _type(qtbot, spin, text: str) -> None:
    """Click into a spin box, replace its text with real keys, press Enter."""
    qtbot.mouseClick(spin.lineEdit(), QtCore.Qt.MouseButton.LeftButton)
    qtbot.keyClick(spin.lineEdit(), QtCore.Qt.Key.Key_A, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), QtCore.Qt.Key.Key_Return)


def test_typed_cup_angles_strip_and_names(window, qtbot, hip_dir):
    from surgiplan.core.planning.measurements import measure_plan
    from surgiplan.core.units import format_value

    win = window
    plan = _open(qtbot, win, hip_dir)
    case = win.case
    # what belongs to a hip plan, with human names
    assert plan.hip_angles_box.isVisible() and plan.hip_sizes_box.isVisible()
    assert not plan.resection_box.isVisible()
    assert [plan.implant_combo.itemText(i) for i in range(plan.implant_combo.count())] == [
        "Acetabular cup", "Femoral stem"]
    assert plan.lm_combo.itemText(0) == "Acetabular centre (left)"
    assert "acetabular_centre_left" not in plan.lm_label.text()
    assert plan.hip.inclination.value() == pytest.approx(40.0) and plan.hip.anteversion.value() == pytest.approx(15.0)
    # the key measurements strip sits above the views, not in the scrolling panel
    strip = win.key_strip
    assert strip.isVisible() and not plan.isAncestorOf(strip)
    assert strip.mapTo(win, QtCore.QPoint(0, 0)).y() < win.layout_widget.mapTo(win, QtCore.QPoint(0, 0)).y()
    assert strip.text_of("Inclination") == format_value(40.0, "deg") and strip.color_of("Inclination") == "in"

    # type 55 deg (outside the 30-50 target) with real keys: one undo step, measured back, orange
    n = len(case.history._undo)
    _type(qtbot, plan.hip.inclination, "55")
    qtbot.waitUntil(lambda: strip.text_of("Inclination") == format_value(55.0, "deg"), timeout=10_000)
    assert len(case.history._undo) == n + 1
    m = {r.key: r.value for r in measure_plan(case, "A", expensive=False)}
    assert m["cup_inclination"] == pytest.approx(55.0, abs=1e-6)
    assert m["cup_anteversion"] == pytest.approx(15.0, abs=1e-6)
    assert strip.color_of("Inclination") == "out" and strip.color_of("Anteversion") == "in"
    # operative convention: the fields show the same cup in Murray's operative angles
    from surgiplan.core.planning.hip_angles import convert_cup_angles

    plan.hip.convention.setCurrentIndex(plan.hip.convention.findData("operative"))
    oi, oa = convert_cup_angles(55.0, 15.0, "radiographic", "operative")
    assert (plan.hip.inclination.value(), plan.hip.anteversion.value()) == pytest.approx(
        (round(oi, 1), round(oa, 1)))
    # the wheel over the unfocused version field changes nothing
    ver = plan.hip.version.value()
    plan.hip.anteversion.clearFocus()
    from tests.gui.test_panel_inputs import _wheel

    _wheel(plan.hip.version, 3)
    assert plan.hip.version.value() == ver
    # stem version typed: measured back by the hip measurements
    plan.implant_combo.setCurrentText("femoral_stem")
    _type(qtbot, plan.hip.version, "20")
    qtbot.waitUntil(lambda: abs(plan.hip.version.value() - 20.0) < 1e-9, timeout=5000)
    m = {r.key: r.value for r in measure_plan(case, "A", expensive=False)}
    assert m["stem_version"] == pytest.approx(20.0, abs=1e-6)
    case.history.undo()
    case.history.undo()
    assert {r.key: r.value for r in measure_plan(case, "A", expensive=False)}["cup_inclination"] == \
        pytest.approx(40.0, abs=1e-6)


def test_window_shows_what_set_angles_json_prints(window, qtbot, hip_dir):
    from surgiplan.cli.main import app

    r = CliRunner().invoke(app, ["plan", "set-angles", str(hip_dir), "--plan", "A", "--implant", "acetabular_cup",
                                 "--inclination", "43.5", "--anteversion", "21", "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    cup = json.loads(r.output)
    r = CliRunner().invoke(app, ["plan", "set-angles", str(hip_dir), "--plan", "A", "--implant", "femoral_stem",
                                 "--version", "12", "--depth", "2.5", "--json"])
    assert r.exit_code == 0, (r.output, r.exception)
    stem = json.loads(r.output)
    plan = _open(qtbot, window, hip_dir)
    assert plan.hip.inclination.value() == pytest.approx(round(cup["inclination_deg"], 1))
    assert plan.hip.anteversion.value() == pytest.approx(round(cup["anteversion_deg"], 1))
    assert plan.hip.version.value() == pytest.approx(round(stem["version_deg"], 1))
    assert plan.hip.depth.value() == pytest.approx(round(stem["depth_mm"], 1))
    assert cup["reference"] in plan.hip.readout.text()
    assert plan.hip.readouts()["cup"] == cup  # the same core readout, not just the rounded fields


def test_size_proposal_one_click_and_neck_cut(window, qtbot, hip_dir):
    from surgiplan.core.planning.size_proposal import propose_hip_sizes

    win = window
    plan = _open(qtbot, win, hip_dir)
    case = win.case
    plan.side_combo.setCurrentText("left")
    qtbot.mouseClick(plan.findChild(QtWidgets.QPushButton, "propose_sizes"), QtCore.Qt.MouseButton.LeftButton)
    wait_jobs(qtbot, win)
    want = propose_hip_sizes(case, "A", "left", volume=win.volume)  # the core, same inputs
    for kind in ("cup", "stem"):
        b = plan.findChild(QtWidgets.QPushButton, f"size_{kind}_proposed")
        assert b.isVisible() and b.text().startswith(want[kind].size)
        assert plan.findChild(QtWidgets.QPushButton, f"size_{kind}_larger").text() == want[kind].larger
    n = len(case.history._undo)
    qtbot.mouseClick(plan.findChild(QtWidgets.QPushButton, "size_cup_larger"), QtCore.Qt.MouseButton.LeftButton)
    assert case.implant("A", "acetabular_cup").size == want["cup"].larger and len(case.history._undo) == n + 1
    qtbot.mouseClick(plan.findChild(QtWidgets.QPushButton, "size_stem_proposed"), QtCore.Qt.MouseButton.LeftButton)
    assert case.implant("A", "femoral_stem").size == want["stem"].size
    assert len(case.plan("A").implants) == 2  # resized in place, nothing added

    from surgiplan.gui.panels.plan_hip import neck_cut_available

    if not neck_cut_available():
        pytest.skip("the core neck resection is not installed")
    qtbot.mouseClick(plan.findChild(QtWidgets.QPushButton, "add_neck_cut"), QtCore.Qt.MouseButton.LeftButton)
    cuts = case.plan("A").resections
    assert len(cuts) == 1
    name = next(iter(cuts))
    assert "Femoral neck cut (left)" in win.status_label.text()
    p = win.view3d.plotter
    qtbot.waitUntil(lambda: f"cut:{name}" in p.actors, timeout=5000)  # drawn like the knee cuts
    assert f"cut:{name}" in win.state.outlines  # and in the slices
    case.history.undo()
    assert not case.plan("A").resections
