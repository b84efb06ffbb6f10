"""File > Save case as… (Ctrl+Shift+S) in the real window (issue 28 bug 7): the whole case
(scan, segmentation, plans) goes to a new folder, the original folder is untouched and the
window works on the new one; a folder with files or inside the case is refused."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from surgiplan.core.case import Case
from surgiplan.core.imaging import read_volume
from tests.core.case.case_faults import tree_digest
from tests.gui.conftest import wait_jobs
from tests.gui.test_window import phantom

pytestmark = pytest.mark.gui


def _action(window, name) -> QtGui.QAction:
    return next(a for a in window.findChildren(QtGui.QAction) if a.objectName() == name)


def test_save_as_writes_the_whole_case_to_a_new_folder(window, qtbot, tmp_path):
    a = _action(window, "save_case_as")
    assert a.shortcut() == QtGui.QKeySequence("Ctrl+Shift+S")
    vol = phantom()
    window.set_volume(vol)
    seg_panel = window.panels["Segment"]
    seg_panel.preset_combo.setCurrentIndex(seg_panel.preset_combo.findData("bone"))
    seg_panel.apply_preset()
    wait_jobs(qtbot, window)
    window.case.new_plan("A")
    _action(window, "save_case").trigger()
    wait_jobs(qtbot, window)
    old = window.case.root
    before = tree_digest(old)
    window.case.new_plan("B")  # unsaved: goes into the new folder, not the old one

    new = tmp_path / "elsewhere" / "HipCopy"
    window.save_case_as(new)  # what the dialog calls with the chosen folder
    wait_jobs(qtbot, window)
    assert window.last_error == ""
    assert window.case.root == new and not window.isWindowModified()
    assert "HipCopy" in window.windowTitle()
    assert not window.progress_bar.isVisible()
    assert tree_digest(old) == before and list(Case.open(old).plans) == ["A"]
    c = Case.open(new)
    assert list(c.plans) == ["A", "B"]
    np.testing.assert_array_equal(read_volume(new / c.model.scans[0].volume).array, vol.array)
    seg = c.segmentation()
    assert seg.names == window.segmentation.names
    for name in seg.names:
        np.testing.assert_array_equal(seg.mask(name), window.segmentation.mask(name))
    assert str(new.resolve()) == window.settings.recent_cases[0]

    # the window now works on the new folder: Ctrl+S writes there
    window.case.new_plan("C")
    _action(window, "save_case").trigger()
    wait_jobs(qtbot, window)
    assert list(Case.open(new).plans) == ["A", "B", "C"] and tree_digest(old) == before

    # refused: a folder with files in it, a folder inside the case
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    for bad in (busy, new / "sub"):
        window.last_error = ""
        window.save_case_as(bad)
        wait_jobs(qtbot, window)
        assert "cannot save the case" in window.last_error
        assert window.case.root == new and not (new / "sub").exists()
    assert (busy / "notes.txt").read_text() == "x" and len(list(busy.iterdir())) == 1
