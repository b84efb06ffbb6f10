"""File > Save case in the real window: the menu action, a full disk, a read-only folder."""

from __future__ import annotations

import pytest
from PySide6 import QtGui

from surgiplan.core.case import Case
from tests.core.case.case_faults import tree_digest
from tests.gui.conftest import wait_jobs
from tests.gui.test_window import phantom

pytestmark = pytest.mark.gui


def _save_action(window) -> QtGui.QAction:
    return next(a for a in window.findChildren(QtGui.QAction) if a.objectName() == "save_case")


def test_file_save_case_saves_and_clears_the_progress_bar(window, qtbot, tmp_path):
    window.set_volume(phantom())
    _save_action(window).trigger()  # QAction passes checked=False: it must not become `then`
    wait_jobs(qtbot, window)
    assert window.last_error == ""
    assert not window.progress_bar.isVisible() and not window.cancel_button.isVisible()
    case = Case.open(window.case.root)
    assert [s.name for s in case.model.scans] and not window.case.dirty


def test_save_on_a_full_disk_says_so_and_keeps_the_saved_case(window, qtbot, tiny_disk):
    mnt, fill, _ = tiny_disk
    window.set_volume(phantom())
    root = mnt / "Case"
    window.set_case(Case.new(root, "Full"))
    window.case.new_plan("A")
    before = tree_digest(root)
    fill(0)
    _save_action(window).trigger()
    wait_jobs(qtbot, window)
    assert "disk is full" in window.last_error and str(root) in window.last_error
    assert not window.progress_bar.isVisible() and not window.cancel_button.isVisible()
    assert tree_digest(root) == {**before, **{k: v for k, v in tree_digest(root).items()
                                              if k.startswith("scans/")}}
    assert window.case.dirty  # the work is still there, unsaved
    assert list(Case.open(root).plans) == []


def test_a_preset_on_a_new_scan_writes_nothing_until_the_user_saves(window, qtbot, tmp_path):
    import os
    from pathlib import Path

    cases = Path(os.environ["SURGIPLAN_CASES_DIR"])
    window.set_volume(phantom())
    seg_panel = window.panels["Segment"]
    seg_panel.preset_combo.setCurrentIndex(seg_panel.preset_combo.findData("bone"))
    seg_panel.apply_preset()
    wait_jobs(qtbot, window)
    assert window.last_error == "" and window.segmentation is not None
    assert window.case is not None and window.isWindowModified()
    assert not cases.exists() or not any(cases.iterdir())  # nothing on disk yet
    _save_action(window).trigger()
    wait_jobs(qtbot, window)
    assert window.last_error == "" and not window.isWindowModified()
    saved = Case.open(window.case.root)
    assert saved.root.parent == cases and saved.model.scans[0].segmentation
    assert saved.segmentation().names == window.segmentation.names
