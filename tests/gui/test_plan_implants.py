"""Issue 28 bug 5: a second stem replaces the first (one undo step, same id, so Compare
compares them), implants that repeat (screws per level, stents) stay, Remove asks first."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case  # noqa: F401


# ------------------------------------------------------------------------ core
@pytest.fixture
def spine_case(tmp_path):
    import pyvista as pv

    from surgiplan.core.case import Case

    case = Case.new(tmp_path / "case", "spine")
    for i, lv in enumerate(("L3", "L4")):
        case.add_model(lv, pv.Sphere(radius=10.0, center=(0.0, 0.0, 40.0 * i)))
    case.new_plan("A")
    return case


def test_a_second_stem_replaces_the_first_in_one_undo_step(spine_case):
    from surgiplan.core.planning.operations import implant_to_replace, place_implant

    case = spine_case
    first = place_implant(case, "A", None, "hip_stem_standard", "3", at=(0, 0, 0), side="right",
                          replace_same_kind=True)
    left = place_implant(case, "A", None, "hip_stem_standard", "3", at=(0, 0, 0), side="left",
                         replace_same_kind=True)
    assert (first.id, left.id) == ("femoral_stem", "femoral_stem_2")  # one per side
    assert implant_to_replace(case, "A", "hip_stem_high_offset", "right") is first
    steps = len(case.history)
    second = place_implant(case, "A", None, "hip_stem_high_offset", "5", at=(5, 0, 0), side="right",
                           replace_same_kind=True)
    imps = case.plan("A").implants
    assert second.id == "femoral_stem" and set(imps) == {"femoral_stem", "femoral_stem_2"}
    assert imps["femoral_stem"].catalog_id == "hip_stem_high_offset" and imps["femoral_stem"].size == "5"
    assert len(case.history) == steps + 1
    assert case.history.undo_description.startswith("replace femoral_stem")
    case.undo()
    assert case.plan("A").implants["femoral_stem"] is first
    case.redo()
    assert case.plan("A").implants["femoral_stem"] is second
    # without replace_same_kind (the CLI's default) the stem is added beside it, as before
    third = place_implant(case, "A", None, "hip_stem_standard", "2", at=(0, 0, 0), side="right")
    assert third.id == "femoral_stem_3"


def test_screws_at_two_levels_and_stents_all_stay(spine_case):
    from surgiplan.core.planning.operations import place_implant

    case = spine_case
    ids = [place_implant(case, "A", None, "spine_pedicle_screw", "4.5x40", at=(0, 0, z), side="left",
                         bone=lv, replace_same_kind=True).id for lv, z in (("L3", 0), ("L4", 40))]
    ids.append(place_implant(case, "A", None, "spine_pedicle_screw", "4.5x40", at=(0, 0, 0), side="right",
                             bone="L3", replace_same_kind=True).id)
    # screws without a level (the window's today) never replace each other
    ids += [place_implant(case, "A", None, "spine_pedicle_screw", "4.5x40", at=(9, 0, 0), side="left",
                          replace_same_kind=True).id for _ in range(2)]
    stent = "vascular_stent_be"
    assert _catalog().get(stent).model.kind == "stent"
    ids += [place_implant(case, "A", None, stent, _catalog().get(stent).sizes[0], at=(0, 0, z),
                          replace_same_kind=True).id for z in (0, 30)]
    assert len(set(ids)) == 7 and len(case.plan("A").implants) == 7
    # the same level and side again is the one screw of that pedicle: replaced
    again = place_implant(case, "A", None, "spine_pedicle_screw", "4.5x35", at=(0, 0, 1), side="left",
                          bone="L3", replace_same_kind=True)
    assert again.id == ids[0] and len(case.plan("A").implants) == 7
    assert case.plan("A").implants[ids[1]].bone == "L4"


def _catalog():
    from surgiplan.core.planning.catalog import default_catalog

    return default_catalog()


# ---------------------------------------------------------------------- window
def _click(qtbot, panel, name):
    from PySide6 import QtCore, QtWidgets

    b = panel.findChild(QtWidgets.QPushButton, name)
    assert b is not None and b.isEnabled(), name
    qtbot.mouseClick(b, QtCore.Qt.MouseButton.LeftButton)


def _undo(qtbot, win):
    from PySide6 import QtCore

    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)
    qtbot.keyClick(win, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)


def test_window_replaces_the_stem_and_asks_before_removing(window, qtbot, knee_case_dir):  # noqa: F811
    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    plan.activated()
    plan.side_combo.setCurrentText("right")
    plan.select_catalog("hip_stem_standard")
    plan.size_combo.setCurrentText("3")
    _click(qtbot, plan, "place_implant")
    case = win.case
    pname = plan._plan()
    first = case.plan(pname).implants["femoral_stem"]
    plan.select_catalog("hip_stem_high_offset")
    plan.size_combo.setCurrentText("6")
    _click(qtbot, plan, "place_implant")
    imps = case.plan(pname).implants
    assert list(imps) == ["femoral_stem"], list(imps)  # not femoral_stem_2 beside it
    assert (imps["femoral_stem"].catalog_id, imps["femoral_stem"].size) == ("hip_stem_high_offset", "6")
    status = win.status_label.text()
    assert "Replaced femoral_stem" in status and "size 3" in status, status
    assert plan.implant_combo.currentData() == "femoral_stem" and plan.implant_combo.currentText() == "Femoral stem"

    _undo(qtbot, win)  # one Ctrl+Z brings the first stem back, not an empty plan
    imps = case.plan(pname).implants
    assert list(imps) == ["femoral_stem"] and imps["femoral_stem"] is first

    # Remove asks; "No" keeps the implant, "Yes" removes it, Ctrl+Z brings it back
    asked = []
    plan._confirm = lambda text: asked.append(text) or False
    plan.implant_combo.setCurrentText("femoral_stem")
    _click(qtbot, plan, "remove_implant")
    assert len(asked) == 1 and "femoral_stem" in asked[0]
    assert "femoral_stem" in case.plan(pname).implants
    plan._confirm = lambda text: asked.append(text) or True
    _click(qtbot, plan, "remove_implant")
    assert len(asked) == 2 and not case.plan(pname).implants
    _undo(qtbot, win)
    assert case.plan(pname).implants.get("femoral_stem") is first
    np.testing.assert_array_equal(case.plan(pname).implants["femoral_stem"].transform, first.transform)


def test_plan_place_replace_flag(spine_case):
    """``plan place --replace`` is the window's placement; without it a second stem is added."""
    import json

    from typer.testing import CliRunner

    from surgiplan.cli.main import app
    from surgiplan.core.case import Case

    spine_case.save()
    root = str(spine_case.root)

    def place(*extra):
        r = CliRunner().invoke(app, ["plan", "place", root, "A", "stem", "--implant", "hip_stem_standard",
                                     "--size", "3", "--side", "right", "--at", "0,0,0", "--json", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.output)

    assert place()["id"] == "stem"
    out = place("--replace", "--size", "4")
    assert out["id"] == "stem" and out["size"] == "4" and out["replaced"]["size"] == "3"
    assert list(Case.open(root).plan("A").implants) == ["stem"]
    r = CliRunner().invoke(app, ["plan", "place", root, "A", "stem2", "--implant", "hip_stem_standard",
                                 "--size", "3", "--side", "right", "--at", "0,0,0"])
    assert r.exit_code == 0 and sorted(Case.open(root).plan("A").implants) == ["stem", "stem2"]
