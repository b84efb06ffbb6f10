"""Autosave and recovery in the window: edit a case, autosave, close the window without
saving (as after a crash), start again -> the window offers the autosave; accepting it
gives back exactly the edited plans and landmarks, declining keeps the saved case."""

from __future__ import annotations

import numpy as np
import pytest

from tests.gui.conftest import wait_jobs
from tests.gui.plan_case import knee_case_dir, knee_case_template, open_case  # noqa: F401

pytestmark = [pytest.mark.gui]


def _state(case) -> dict:
    return {"plans": {n: p.to_dict() for n, p in case.plans.items()},
            "landmarks": {k: [*map(float, v.position)] for k, v in case.landmarks.items()}}


def _second_window(qtbot, answer: bool):
    from surgiplan.gui.main_window import MainWindow

    win = MainWindow()
    win._skip_prompt = True
    win._auto_recover = answer
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    return win


def _close(win) -> None:
    win._skip_prompt = True
    win.close()
    if win.view3d.plotter is not None:
        win._shutdown()


def test_autosave_is_offered_on_the_next_start_and_recovers_the_edits(window, qtbot, knee_case_dir):  # noqa: F811
    from surgiplan.core.case.autosave import autosave_path, find_autosave
    from surgiplan.gui.main_window import AUTOSAVE_MS

    win = window
    plan = open_case(qtbot, win, knee_case_dir)
    assert win._autosave.isActive() and win._autosave.interval() == AUTOSAVE_MS
    saved = _state(win.case)
    assert win.autosave() is None  # nothing to snapshot before an edit
    # edits through the panel: a plan, a distal cut at 10.5 mm, a femoral component moved, a landmark
    rs = plan.resections
    rs.cut_combo.setCurrentIndex(rs.cut_combo.findData("distal_femur"))
    rs.add_cut()
    rs.fields["depth"].setValue(10.5)
    plan.select_catalog("knee_femoral")
    plan.place()
    plan.move([1.0, -2.0, 3.5])
    win.state.set_crosshair_world(np.array([-95.0, 10.0, -440.0]))
    plan.lm_combo.setCurrentText("lateral_epicondyle")
    plan.set_landmark()
    edited = _state(win.case)
    assert edited != saved and win.isWindowModified()
    path = win.autosave()
    assert path is not None and path == autosave_path(knee_case_dir)
    assert find_autosave(knee_case_dir) is not None
    _close(win)  # closed without saving: the case folder still holds the saved state

    # next start without a path: the latest case with an autosave is offered and recovered
    win2 = _second_window(qtbot, answer=True)
    try:
        assert win2.recover_at_start()
        wait_jobs(qtbot, win2)
        assert win2.last_error == ""
        assert win2.case.root.resolve() == knee_case_dir.resolve()
        assert _state(win2.case) == edited
        assert win2.isWindowModified()  # recovered, not yet saved
        win2.show_step("Plan")
        assert win2.panels["Plan"].resections.fields["depth"].value() == 10.5
    finally:
        _close(win2)

    # declining: the saved case, and the autosave is gone
    win3 = _second_window(qtbot, answer=False)
    try:
        win3.open_path(knee_case_dir)
        wait_jobs(qtbot, win3)
        assert _state(win3.case) == saved
        assert find_autosave(knee_case_dir) is None and not path.exists()
    finally:
        _close(win3)


def test_a_case_closed_before_its_first_save_comes_back_with_scan_and_segmentation(window, qtbot):
    """Issue 28 bug 7: a new scan, a bone preset and a plan, autosaved, the window closed
    without saving: the next start offers it and brings back the scan (array equal), the
    segmentation (names and voxels equal) and the plan, unsaved; nothing was in the cases folder."""
    import os
    from pathlib import Path

    from surgiplan.core.case.autosave import list_autosaves
    from tests.gui.test_window import phantom

    cases = Path(os.environ["SURGIPLAN_CASES_DIR"])
    win = window
    vol = phantom()
    win.set_volume(vol)
    seg_panel = win.panels["Segment"]
    seg_panel.preset_combo.setCurrentIndex(seg_panel.preset_combo.findData("bone"))
    seg_panel.apply_preset()
    wait_jobs(qtbot, win)
    assert win.last_error == "" and win.segmentation is not None and win.segmentation.names
    win.case.new_plan("A")
    root = win.case.root
    seg = win.segmentation.copy()
    assert win.autosave() is not None
    assert not cases.exists() or not any(cases.iterdir())  # the snapshot is not in the case
    _close(win)  # killed before its first save

    win2 = _second_window(qtbot, answer=True)
    try:
        assert [i.case_root for i in list_autosaves()] == [root]
        assert win2.recover_at_start()
        wait_jobs(qtbot, win2)
        assert win2.last_error == ""
        assert win2.case is not None and win2.case.root == root and list(win2.case.plans) == ["A"]
        np.testing.assert_array_equal(win2.volume.array, vol.array)
        assert win2.segmentation.names == seg.names
        for name in seg.names:
            np.testing.assert_array_equal(win2.segmentation.mask(name), seg.mask(name))
        assert win2.isWindowModified()  # recovered, not saved
        win2.save_case()
        wait_jobs(qtbot, win2)
        assert win2.last_error == "" and not win2.isWindowModified()
        from surgiplan.core.case import Case

        saved = Case.open(root)
        assert saved.segmentation().names == seg.names and list(saved.plans) == ["A"]
        assert list_autosaves() == []
    finally:
        _close(win2)
